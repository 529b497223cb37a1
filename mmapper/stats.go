package mmapper

import "sync/atomic"

// OpStats counts one kind of system call.
type OpStats struct {
	Calls  uint64 // calls made (including failed ones)
	Bytes  uint64 // bytes asked for by the calls that succeeded
	Errors uint64 // calls that failed (including injected failures)
}

// Counters holds one OpStats per system call the package makes. The figures
// are process-wide and only ever rise.
type Counters struct {
	Mmap, Munmap, Mremap, Madvise, Mprotect, Mincore, Msync OpStats
}

// opCounter is the live, atomically updated form of an OpStats.
type opCounter struct {
	calls, bytes, errors atomic.Uint64
}

var counters [numOps]opCounter

// record charges one call of n bytes. Calls is raised first, so a reader that
// loads Errors before Calls never sees more errors than calls.
func (c *opCounter) record(n uintptr, failed bool) {
	c.calls.Add(1)
	if failed {
		c.errors.Add(1)
	} else {
		c.bytes.Add(uint64(n))
	}
}

func (c *opCounter) load() OpStats {
	s := OpStats{Errors: c.errors.Load(), Bytes: c.bytes.Load()}
	s.Calls = c.calls.Load()
	return s
}

// ReadCounters returns a snapshot of the counters. Each field is read
// atomically; while other goroutines make calls, the fields may come from
// slightly different instants, but Errors never exceeds Calls.
func ReadCounters() Counters {
	return Counters{
		Mmap:     counters[OpMmap].load(),
		Munmap:   counters[OpMunmap].load(),
		Mremap:   counters[OpMremap].load(),
		Madvise:  counters[OpMadvise].load(),
		Mprotect: counters[OpMprotect].load(),
		Mincore:  counters[OpMincore].load(),
		Msync:    counters[OpMsync].load(),
	}
}
