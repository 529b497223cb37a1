// Package oscall is the choke point that packages brk and mmapper share at
// the OS boundary: the counters of their system calls and the test hook that
// injects failures into them. Each package makes one Table for the kinds of
// call it makes (its Op type numbers them from 0) and passes every call
// through it: Injected first, then, after the call (or instead of it),
// Count.
//
// An injected failure behaves exactly like a real one: no system call is
// made, the call is counted as made and failed, and the error is the errno.
// When nothing is armed the check is one atomic load.
//
// The package is a leaf: it imports the standard library only, so the two
// packages that make memory system calls stay free of the rest of offheap.
package oscall

import (
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// Stats counts one kind of system call.
type Stats struct {
	Calls  uint64 // calls made (including failed ones)
	Bytes  uint64 // bytes asked for by the calls that succeeded
	Errors uint64 // calls that failed (including injected failures)
}

// Table holds the counters and the armed faults of one package's calls,
// one slot per kind of call.
type Table struct {
	pkg      string   // "brk", "mmapper": prefixes panic messages
	names    []string // the calls' names, by number
	counters []counter

	// armed is true while any call has a fault armed: the only thing a
	// call reads when nothing is armed.
	armed  atomic.Bool
	mu     sync.Mutex
	faults []fault
}

// counter is the live, atomically updated form of a Stats.
type counter struct {
	calls, bytes, errors atomic.Uint64
}

// fault is what is armed for one kind of call.
type fault struct {
	countdown int  // fail when this reaches zero; 0 = no one-shot fault
	always    bool // fail every call until Clear
	errno     syscall.Errno
}

// New returns a Table for package pkg whose calls are named names, numbered
// from 0 in that order.
func New(pkg string, names ...string) *Table {
	return &Table{pkg: pkg, names: names, counters: make([]counter, len(names)), faults: make([]fault, len(names))}
}

// Valid reports whether op numbers one of the table's calls.
func (t *Table) Valid(op int) bool { return op >= 0 && op < len(t.names) }

// Name returns the name of call op ("mmap"), or "Op(42)" for a number the
// table does not hold.
func (t *Table) Name(op int) string {
	if t.Valid(op) {
		return t.names[op]
	}
	return "Op(" + strconv.Itoa(op) + ")"
}

// Injected returns the errno a call of op must fail with, or 0 to make the
// call. It costs one atomic load when nothing is armed.
func (t *Table) Injected(op int) syscall.Errno {
	if !t.armed.Load() {
		return 0
	}
	return t.injectedSlow(op)
}

func (t *Table) injectedSlow(op int) syscall.Errno {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := &t.faults[op]
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
		t.updateArmedLocked()
		return errno
	}
	return 0
}

// Count charges one call of op for n bytes and turns errno into an error
// (nil for 0, the bare syscall.Errno otherwise). Calls is raised first, so a
// reader that loads Errors before Calls never sees more errors than calls.
func (t *Table) Count(op int, n uintptr, errno syscall.Errno) error {
	c := &t.counters[op]
	c.calls.Add(1)
	if errno != 0 {
		c.errors.Add(1)
		return errno
	}
	c.bytes.Add(uint64(n))
	return nil
}

// Read returns the counts of op. Each field is read atomically; while other
// goroutines make calls, the fields may come from slightly different
// instants, but Errors never exceeds Calls.
func (t *Table) Read(op int) Stats {
	c := &t.counters[op]
	s := Stats{Errors: c.errors.Load(), Bytes: c.bytes.Load()}
	s.Calls = c.calls.Load()
	return s
}

// FailAfter makes the nth call (1 = the next) of op fail with errno, once.
// n <= 0 clears any fault armed for op. It replaces a fault already armed
// for op. It panics if op is unknown or errno is 0.
func (t *Table) FailAfter(op, n int, errno syscall.Errno) {
	t.checkFaultArgs("FailAfter", op, errno, n <= 0)
	t.mu.Lock()
	defer t.mu.Unlock()
	if n <= 0 {
		t.faults[op] = fault{}
	} else {
		t.faults[op] = fault{countdown: n, errno: errno}
	}
	t.updateArmedLocked()
}

// FailAlways makes every call of op fail with errno until Clear (or a
// FailAfter for op). It panics if op is unknown or errno is 0.
func (t *Table) FailAlways(op int, errno syscall.Errno) {
	t.checkFaultArgs("FailAlways", op, errno, false)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults[op] = fault{always: true, errno: errno}
	t.updateArmedLocked()
}

// Clear disarms every fault armed by FailAfter and FailAlways.
func (t *Table) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.faults)
	t.updateArmedLocked()
}

// Armed reports whether any fault is armed (the flag Injected loads).
func (t *Table) Armed() bool { return t.armed.Load() }

func (t *Table) checkFaultArgs(fn string, op int, errno syscall.Errno, clearing bool) {
	if !t.Valid(op) {
		panic(t.pkg + "." + fn + "(): unknown op " + t.Name(op))
	}
	if errno == 0 && !clearing {
		panic(t.pkg + "." + fn + "(): errno 0 cannot fail a call")
	}
}

func (t *Table) updateArmedLocked() {
	armed := false
	for _, f := range t.faults {
		armed = armed || f.always || f.countdown > 0
	}
	t.armed.Store(armed)
}
