package brk

// IsCgo reports runtime.iscgo as the package sees it: whether Default must
// be Reserved.
func IsCgo() bool { return iscgo }

// FaultsArmed reports the flag the fast path of the fault check loads.
func FaultsArmed() bool { return calls.Armed() }

// Injected is the fault check every system call makes first.
var Injected = injected

// EmptyBreak is what Default returns when it can reserve nothing.
var EmptyBreak = emptyBreak

const (
	DefaultReserve    = defaultReserve
	MinDefaultReserve = minDefaultReserve
)
