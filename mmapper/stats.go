package mmapper

import "github.com/offheap/offheap/internal/oscall"

// OpStats counts one kind of system call: Calls made (including failed
// ones), Bytes asked for by the calls that succeeded, Errors (including
// injected failures).
type OpStats = oscall.Stats

// Counters holds one OpStats per system call the package makes. The figures
// are process-wide and only ever rise.
type Counters struct {
	Mmap, Munmap, Mremap, Madvise, Mprotect, Mincore, Msync OpStats
}

// ReadCounters returns a snapshot of the counters. Each field is read
// atomically; while other goroutines make calls, the fields may come from
// slightly different instants, but Errors never exceeds Calls.
func ReadCounters() Counters {
	return Counters{
		Mmap:     calls.Read(int(OpMmap)),
		Munmap:   calls.Read(int(OpMunmap)),
		Mremap:   calls.Read(int(OpMremap)),
		Madvise:  calls.Read(int(OpMadvise)),
		Mprotect: calls.Read(int(OpMprotect)),
		Mincore:  calls.Read(int(OpMincore)),
		Msync:    calls.Read(int(OpMsync)),
	}
}
