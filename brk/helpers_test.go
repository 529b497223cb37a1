package brk_test

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/offheap/offheap/brk"
)

var page = uintptr(os.Getpagesize())

// kernelBreak asks the kernel where the program break is: brk(0).
func kernelBreak() uintptr {
	cur, _, _ := unix.RawSyscall(unix.SYS_BRK, 0, 0, 0)
	return cur
}

// mem views off-heap memory as a slice.
func mem(addr, n uintptr) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(nil, addr)), n)
}

func fill(b []byte, seed byte) {
	for i := range b {
		b[i] = seed + byte(i*7)
	}
}

func hasPattern(b []byte, seed byte) bool {
	for i := range b {
		if b[i] != seed+byte(i*7) {
			return false
		}
	}
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

var sink byte

// faultsOn reports whether reading the byte at addr faults, and checks that
// the fault names addr.
func faultsOn(t *testing.T, addr uintptr) (faulted bool) {
	t.Helper()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		faulted = true
		if e, ok := r.(interface{ Addr() uintptr }); !ok || e.Addr() != addr {
			t.Errorf("fault reading %#x: got %v", addr, r)
		}
	}()
	sink = *(*byte)(unsafe.Add(nil, addr))
	runtime.KeepAlive(sink)
	return false
}

func delta(before, after brk.Counters) brk.Counters {
	sub := func(a, b brk.OpStats) brk.OpStats {
		return brk.OpStats{Calls: b.Calls - a.Calls, Bytes: b.Bytes - a.Bytes, Errors: b.Errors - a.Errors}
	}
	return brk.Counters{
		Brk:      sub(before.Brk, after.Brk),
		Mmap:     sub(before.Mmap, after.Mmap),
		Mprotect: sub(before.Mprotect, after.Mprotect),
		Madvise:  sub(before.Madvise, after.Madvise),
	}
}

// counting runs f and returns how the counters moved.
func counting(f func()) brk.Counters {
	before := brk.ReadCounters()
	f()
	return delta(before, brk.ReadCounters())
}

func check(t *testing.T, what string, want, got brk.Counters) {
	t.Helper()
	if want != got {
		t.Errorf("%s: counters moved by\n\t%+v\nwant\t%+v", what, got, want)
	}
}

// growCounters is how the counters move for a successful Grow of n bytes.
func growCounters(k brk.Kind, n uintptr) brk.Counters {
	if k == brk.Real {
		return brk.Counters{Brk: brk.OpStats{Calls: 1, Bytes: uint64(n)}}
	}
	return brk.Counters{Mprotect: brk.OpStats{Calls: 1, Bytes: uint64(n)}}
}

// shrinkCounters is how the counters move for a successful Shrink of n bytes.
func shrinkCounters(k brk.Kind, n uintptr) brk.Counters {
	if k == brk.Real {
		return brk.Counters{Brk: brk.OpStats{Calls: 1, Bytes: uint64(n)}}
	}
	return brk.Counters{
		Madvise:  brk.OpStats{Calls: 1, Bytes: uint64(n)},
		Mprotect: brk.OpStats{Calls: 1, Bytes: uint64(n)},
	}
}

// checkBreak checks b.Current() and, for Real, the kernel's break.
func checkBreak(t *testing.T, b *brk.Break, want uintptr) {
	t.Helper()
	if got := b.Current(); got != want {
		t.Errorf("Current() = %#x, want %#x", got, want)
	}
	if b.Kind() == brk.Real {
		if got := kernelBreak(); got != want {
			t.Errorf("kernel break = %#x, want %#x", got, want)
		}
	}
}

func mustGrow(t *testing.T, b *brk.Break, n uintptr) uintptr {
	t.Helper()
	old, err := b.Grow(n)
	if err != nil {
		t.Fatalf("Grow(%d): %v", n, err)
	}
	return old
}

func mustShrink(t *testing.T, b *brk.Break, n uintptr) {
	t.Helper()
	if err := b.Shrink(n); err != nil {
		t.Fatalf("Shrink(%d): %v", n, err)
	}
}
