package mmapper_test

import (
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/offheap/offheap/mmapper"
)

func TestPageSize(t *testing.T) {
	if got, want := mmapper.PageSize(), uintptr(os.Getpagesize()); got != want {
		t.Fatalf("PageSize() = %d, want %d", got, want)
	}
}

func TestOpString(t *testing.T) {
	for op, want := range map[mmapper.Op]string{
		mmapper.OpMmap: "mmap", mmapper.OpMunmap: "munmap", mmapper.OpMremap: "mremap",
		mmapper.OpMadvise: "madvise", mmapper.OpMprotect: "mprotect", mmapper.OpMincore: "mincore",
		mmapper.OpMsync: "msync", mmapper.Op(-1): "Op(-1)", mmapper.Op(7): "Op(7)",
	} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", int(op), got, want)
		}
	}
}

func TestMapUnmap(t *testing.T) {
	n := 4 * page
	var addr uintptr
	got := counting(func() { addr = mustMap(t, n) })
	check(t, "Map", mmapper.Counters{Mmap: mmapper.OpStats{Calls: 1, Bytes: uint64(n)}}, got)
	if addr%page != 0 {
		t.Errorf("Map returned unaligned %#x", addr)
	}
	b := mem(addr, n)
	if !allZero(b) {
		t.Error("fresh mapping is not zeroed")
	}
	fill(b, 1)
	if !hasPattern(b, 1) {
		t.Error("mapping does not keep what was written")
	}
	got = counting(func() { mustUnmap(t, addr, n) })
	check(t, "Unmap", mmapper.Counters{Munmap: mmapper.OpStats{Calls: 1, Bytes: uint64(n)}}, got)
	if !faultsOn(t, addr) || !faultsOn(t, addr+n-1) {
		t.Error("unmapped memory is still readable")
	}
}

// A request the kernel refuses comes back wrapping its errno, and counted.
func TestMapKernelRefuses(t *testing.T) {
	const huge = 1 << 46 // 64 TiB: more than RAM + swap, refused by overcommit heuristics
	var addr uintptr
	var err error
	got := counting(func() { addr, err = mmapper.Map(huge) })
	if err == nil {
		mustUnmap(t, addr, huge)
		t.Skip("kernel overcommits 64 TiB (vm.overcommit_memory=1?)")
	}
	if !errors.Is(err, syscall.ENOMEM) {
		t.Errorf("Map(64 TiB) = %v, want ENOMEM", err)
	}
	if want := "mmapper: mmap 70368744177664 bytes: cannot allocate memory"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	check(t, "failed Map", mmapper.Counters{Mmap: mmapper.OpStats{Calls: 1, Errors: 1}}, got)
}

func TestMapAligned(t *testing.T) {
	for _, align := range []uintptr{page, 64 << 10, 2 << 20, 1 << 30} {
		n := 3 * page
		var addr uintptr
		got := counting(func() {
			var err error
			if addr, err = mmapper.MapAligned(n, align); err != nil {
				t.Fatalf("MapAligned(%d, %#x): %v", n, align, err)
			}
		})
		if addr%align != 0 {
			t.Errorf("MapAligned(%d, %#x) = %#x, not aligned", n, align, addr)
		}
		// One over-sized mmap; the slack on each side (if any) unmapped,
		// exactly what was mapped beyond n.
		if got.Mmap.Calls != 1 || got.Mmap.Errors != 0 {
			t.Errorf("align %#x: mmap %+v, want one successful call", align, got.Mmap)
		}
		if got.Munmap.Calls > 2 || got.Munmap.Errors != 0 {
			t.Errorf("align %#x: munmap %+v, want at most two successful calls", align, got.Munmap)
		}
		if over := n + align - page; got.Mmap.Bytes != uint64(over) {
			t.Errorf("align %#x: over-mapped %d bytes, want n+align-PageSize = %d", align, got.Mmap.Bytes, over)
		}
		if got.Mmap.Bytes-got.Munmap.Bytes != uint64(n) {
			t.Errorf("align %#x: mapped %d, unmapped %d slack: keeps %d bytes, want %d",
				align, got.Mmap.Bytes, got.Munmap.Bytes, got.Mmap.Bytes-got.Munmap.Bytes, n)
		}
		b := mem(addr, n)
		if !allZero(b) {
			t.Errorf("align %#x: not zeroed", align)
		}
		fill(b, 2)
		if !hasPattern(b, 2) {
			t.Errorf("align %#x: does not keep what was written", align)
		}
		mustUnmap(t, addr, n)
	}
}

func TestRemap(t *testing.T) {
	t.Run("grow keeps contents", func(t *testing.T) {
		oldN, newN := 2*page, 64*page
		addr := mustMap(t, oldN)
		fill(mem(addr, oldN), 3)
		var moved uintptr
		got := counting(func() {
			var err error
			if moved, err = mmapper.Remap(addr, oldN, newN, true); err != nil {
				t.Fatalf("Remap grow: %v", err)
			}
		})
		check(t, "Remap", mmapper.Counters{Mremap: mmapper.OpStats{Calls: 1, Bytes: uint64(newN)}}, got)
		if !hasPattern(mem(moved, oldN), 3) {
			t.Error("grown mapping lost its contents")
		}
		tail := mem(moved+oldN, newN-oldN)
		if !allZero(tail) {
			t.Error("grown tail is not zeroed")
		}
		fill(tail, 4)
		mustUnmap(t, moved, newN)
	})
	t.Run("shrink in place", func(t *testing.T) {
		addr := mustMap(t, 8*page)
		fill(mem(addr, 8*page), 5)
		got, err := mmapper.Remap(addr, 8*page, 2*page, false)
		if err != nil {
			t.Fatalf("Remap shrink: %v", err)
		}
		if got != addr {
			t.Errorf("shrink without mayMove moved %#x to %#x", addr, got)
		}
		if !hasPattern(mem(addr, 2*page), 5) {
			t.Error("shrunk mapping lost its contents")
		}
		if !faultsOn(t, addr+2*page) {
			t.Error("pages cut off by the shrink are still readable")
		}
		mustUnmap(t, addr, 2*page)
	})
	t.Run("grow blocked without mayMove", func(t *testing.T) {
		// Grow the first page of a two-page mapping in place: the second
		// page is in the way.
		addr := mustMap(t, 2*page)
		fill(mem(addr, 2*page), 6)
		var err error
		got := counting(func() { _, err = mmapper.Remap(addr, page, 2*page, false) })
		if !errors.Is(err, syscall.ENOMEM) {
			t.Errorf("blocked grow: %v, want ENOMEM", err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "mmapper: mremap ") {
			t.Errorf("error %q does not name mremap", err)
		}
		check(t, "failed Remap", mmapper.Counters{Mremap: mmapper.OpStats{Calls: 1, Errors: 1}}, got)
		if !hasPattern(mem(addr, 2*page), 6) {
			t.Error("failed Remap changed the mapping")
		}
		mustUnmap(t, addr, 2*page)
	})
}

// Counters are exact under concurrent calls.
func TestCountersConcurrent(t *testing.T) {
	const goroutines, rounds = 4, 50
	got := counting(func() {
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range rounds {
					addr, err := mmapper.Map(page)
					if err != nil {
						t.Error(err)
						return
					}
					mem(addr, page)[0] = 1
					if err := mmapper.Unmap(addr, page); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
	calls := uint64(goroutines * rounds)
	check(t, "concurrent Map/Unmap", mmapper.Counters{
		Mmap:   mmapper.OpStats{Calls: calls, Bytes: calls * uint64(page)},
		Munmap: mmapper.OpStats{Calls: calls, Bytes: calls * uint64(page)},
	}, got)
}
