package mmapper_test

import (
	"runtime"
	"runtime/debug"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/mmapper"
)

var page = mmapper.PageSize()

// mem views off-heap memory as a slice.
func mem(addr, n uintptr) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(nil, addr)), n)
}

// fill writes a pattern derived from seed over b.
func fill(b []byte, seed byte) {
	for i := range b {
		b[i] = seed + byte(i*7)
	}
}

// hasPattern reports whether b holds what fill(b, seed) wrote.
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

// faultsOn reports whether reading the byte at addr faults. It checks that
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

// delta returns after - before, field by field.
func delta(before, after mmapper.Counters) mmapper.Counters {
	sub := func(a, b mmapper.OpStats) mmapper.OpStats {
		return mmapper.OpStats{Calls: b.Calls - a.Calls, Bytes: b.Bytes - a.Bytes, Errors: b.Errors - a.Errors}
	}
	return mmapper.Counters{
		Mmap:     sub(before.Mmap, after.Mmap),
		Munmap:   sub(before.Munmap, after.Munmap),
		Mremap:   sub(before.Mremap, after.Mremap),
		Madvise:  sub(before.Madvise, after.Madvise),
		Mprotect: sub(before.Mprotect, after.Mprotect),
		Mincore:  sub(before.Mincore, after.Mincore),
		Msync:    sub(before.Msync, after.Msync),
	}
}

// counting runs f and returns how the counters moved.
func counting(f func()) mmapper.Counters {
	before := mmapper.ReadCounters()
	f()
	return delta(before, mmapper.ReadCounters())
}

// check compares the counter movement with want.
func check(t *testing.T, what string, want, got mmapper.Counters) {
	t.Helper()
	if want != got {
		t.Errorf("%s: counters moved by\n\t%+v\nwant\t%+v", what, got, want)
	}
}

func mustMap(t *testing.T, n uintptr) uintptr {
	t.Helper()
	addr, err := mmapper.Map(n)
	if err != nil {
		t.Fatalf("Map(%d): %v", n, err)
	}
	return addr
}

func mustUnmap(t *testing.T, addr, n uintptr) {
	t.Helper()
	if err := mmapper.Unmap(addr, n); err != nil {
		t.Fatalf("Unmap(%#x, %d): %v", addr, n, err)
	}
}

func mustResident(t *testing.T, addr, n uintptr) uintptr {
	t.Helper()
	r, err := mmapper.Resident(addr, n)
	if err != nil {
		t.Fatalf("Resident(%#x, %d): %v", addr, n, err)
	}
	return r
}
