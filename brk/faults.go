package brk

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// Fault injection is a testing hook: it lets the packages above brk check
// their out-of-memory paths without exhausting the machine. An injected
// failure behaves exactly like a real one: no system call is made, the call
// is counted in Calls and Errors, and the returned error wraps the errno.

// fault is what is armed for one Op.
type fault struct {
	countdown int  // fail when this reaches zero; 0 = no one-shot fault
	always    bool // fail every call until ClearFaults
	errno     syscall.Errno
}

var faults struct {
	// armed is true while any Op has a fault armed: the only thing a call
	// reads when nothing is armed.
	armed atomic.Bool
	mu    sync.Mutex
	byOp  [numOps]fault
}

// FailAfter makes the nth call (1 = the next) of op fail with errno, once.
// n <= 0 clears any fault armed for op. It replaces a fault already armed for
// op. It panics if op is unknown or errno is 0. It is a testing hook.
func FailAfter(op Op, n int, errno syscall.Errno) {
	checkFaultArgs("FailAfter", op, errno, n <= 0)
	faults.mu.Lock()
	defer faults.mu.Unlock()
	if n <= 0 {
		faults.byOp[op] = fault{}
	} else {
		faults.byOp[op] = fault{countdown: n, errno: errno}
	}
	updateArmedLocked()
}

// FailAlways makes every call of op fail with errno until ClearFaults (or a
// FailAfter for op). It panics if op is unknown or errno is 0. It is a
// testing hook.
func FailAlways(op Op, errno syscall.Errno) {
	checkFaultArgs("FailAlways", op, errno, false)
	faults.mu.Lock()
	defer faults.mu.Unlock()
	faults.byOp[op] = fault{always: true, errno: errno}
	updateArmedLocked()
}

// ClearFaults disarms every fault armed by FailAfter and FailAlways.
func ClearFaults() {
	faults.mu.Lock()
	defer faults.mu.Unlock()
	faults.byOp = [numOps]fault{}
	updateArmedLocked()
}

func checkFaultArgs(fn string, op Op, errno syscall.Errno, clearing bool) {
	if !op.valid() {
		panic("brk." + fn + "(): unknown op " + op.String())
	}
	if errno == 0 && !clearing {
		panic("brk." + fn + "(): errno 0 cannot fail a call")
	}
}

func updateArmedLocked() {
	armed := false
	for _, f := range faults.byOp {
		armed = armed || f.always || f.countdown > 0
	}
	faults.armed.Store(armed)
}

// injected returns the errno a call of op must fail with, or 0 to make the
// call. It costs one atomic load when nothing is armed.
func injected(op Op) syscall.Errno {
	if !faults.armed.Load() {
		return 0
	}
	return injectedSlow(op)
}

func injectedSlow(op Op) syscall.Errno {
	faults.mu.Lock()
	defer faults.mu.Unlock()
	f := &faults.byOp[op]
	switch {
	case f.always:
		return f.errno
	case f.countdown > 0:
		f.countdown--
		if f.countdown > 0 {
			return 0
		}
		errno := f.errno
		*f = fault{}
		updateArmedLocked()
		return errno
	}
	return 0
}
