package brk

import "github.com/offheap/offheap/internal/oscall"

// OpStats counts one kind of system call: Calls made (including failed
// ones), Bytes asked for by the calls that succeeded, Errors (including
// injected failures).
type OpStats = oscall.Stats

// Counters holds one OpStats per system call the backends make. The figures
// are process-wide, all Break values together, and only ever rise.
type Counters struct {
	Brk, Mmap, Mprotect, Madvise OpStats
}

// ReadCounters returns a snapshot of the counters. Each field is read
// atomically; while other goroutines make calls, the fields may come from
// slightly different instants, but Errors never exceeds Calls.
func ReadCounters() Counters {
	return Counters{
		Brk:      calls.Read(int(OpBrk)),
		Mmap:     calls.Read(int(OpMmap)),
		Mprotect: calls.Read(int(OpMprotect)),
		Madvise:  calls.Read(int(OpMadvise)),
	}
}
