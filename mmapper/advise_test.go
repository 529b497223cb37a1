package mmapper_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/offheap/offheap/mmapper"
)

func TestDontNeed(t *testing.T) {
	n := 8 * page
	addr := mustMap(t, n)
	defer mustUnmap(t, addr, n)
	fill(mem(addr, n), 8)
	if r := mustResident(t, addr, n); r != n {
		t.Fatalf("after writing every page, %d bytes resident, want %d", r, n)
	}
	got := counting(func() {
		if err := mmapper.DontNeed(addr, n); err != nil {
			t.Fatalf("DontNeed: %v", err)
		}
	})
	check(t, "DontNeed", mmapper.Counters{Madvise: mmapper.OpStats{Calls: 1, Bytes: uint64(n)}}, got)
	if r := mustResident(t, addr, n); r != 0 {
		t.Errorf("after DontNeed, %d bytes resident, want 0", r)
	}
	b := mem(addr, n)
	if !allZero(b) {
		t.Error("after DontNeed, memory is not zero")
	}
	fill(b, 9) // still usable
	if !hasPattern(b, 9) {
		t.Error("memory is not usable after DontNeed")
	}
}

// restoreFree puts the sticky fallback back as it was when the test ends.
func restoreFree(t *testing.T) {
	was := mmapper.FreeUsesDontNeed()
	t.Cleanup(func() { mmapper.SetFreeUsesDontNeed(was); mmapper.ClearFaults() })
}

func TestFree(t *testing.T) {
	restoreFree(t)
	mmapper.SetFreeUsesDontNeed(false)
	n := 4 * page
	addr := mustMap(t, n)
	defer mustUnmap(t, addr, n)
	fill(mem(addr, n), 10)
	var err error
	got := counting(func() { err = mmapper.Free(addr, n) })
	if err != nil {
		t.Fatalf("Free: %v", err)
	}
	if mmapper.FreeUsesDontNeed() {
		// This kernel has no MADV_FREE: one refused call, one DONTNEED.
		check(t, "Free (fell back)", mmapper.Counters{Madvise: mmapper.OpStats{Calls: 2, Errors: 1, Bytes: uint64(n)}}, got)
	} else {
		check(t, "Free", mmapper.Counters{Madvise: mmapper.OpStats{Calls: 1, Bytes: uint64(n)}}, got)
	}
	// The range stays usable; a write keeps its page.
	b := mem(addr, n)
	fill(b, 11)
	if !hasPattern(b, 11) {
		t.Error("memory is not usable after Free")
	}
}

// A kernel without MADV_FREE answers EINVAL: Free retries with DONTNEED and
// sticks to it.
func TestFreeStickyFallback(t *testing.T) {
	restoreFree(t)
	mmapper.SetFreeUsesDontNeed(false)
	n := 4 * page
	addr := mustMap(t, n)
	defer mustUnmap(t, addr, n)

	fill(mem(addr, n), 12)
	mmapper.FailAfter(mmapper.OpMadvise, 1, syscall.EINVAL)
	var err error
	got := counting(func() { err = mmapper.Free(addr, n) })
	if err != nil {
		t.Fatalf("Free with MADV_FREE refused: %v", err)
	}
	if !mmapper.FreeUsesDontNeed() {
		t.Fatal("Free did not switch to MADV_DONTNEED after EINVAL")
	}
	check(t, "Free falling back", mmapper.Counters{Madvise: mmapper.OpStats{Calls: 2, Errors: 1, Bytes: uint64(n)}}, got)
	// The retry really was MADV_DONTNEED: the pages are gone at once (asked
	// before reading, which would map the zero page back in).
	if r := mustResident(t, addr, n); r != 0 {
		t.Errorf("after fallback Free, %d bytes resident", r)
	}
	if !allZero(mem(addr, n)) {
		t.Error("fallback Free did not discard the contents")
	}

	// From now on one call, DONTNEED, with no MADV_FREE attempt first.
	fill(mem(addr, n), 13)
	got = counting(func() { err = mmapper.Free(addr, n) })
	if err != nil {
		t.Fatalf("second Free: %v", err)
	}
	check(t, "Free after the switch", mmapper.Counters{Madvise: mmapper.OpStats{Calls: 1, Bytes: uint64(n)}}, got)
	if !allZero(mem(addr, n)) {
		t.Error("Free after the switch did not discard the contents")
	}
}

// Only EINVAL means "no MADV_FREE"; any other failure is returned as is.
func TestFreeOtherErrorDoesNotSwitch(t *testing.T) {
	restoreFree(t)
	mmapper.SetFreeUsesDontNeed(false)
	addr := mustMap(t, page)
	defer mustUnmap(t, addr, page)
	mmapper.FailAfter(mmapper.OpMadvise, 1, syscall.EAGAIN)
	var err error
	got := counting(func() { err = mmapper.Free(addr, page) })
	if !errors.Is(err, syscall.EAGAIN) {
		t.Errorf("Free = %v, want EAGAIN", err)
	}
	if mmapper.FreeUsesDontNeed() {
		t.Error("Free switched to MADV_DONTNEED on EAGAIN")
	}
	check(t, "failed Free", mmapper.Counters{Madvise: mmapper.OpStats{Calls: 1, Errors: 1}}, got)
}

func TestHugepage(t *testing.T) {
	n := uintptr(4 << 20)
	addr, err := mmapper.MapAligned(n, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer mustUnmap(t, addr, n)
	got := counting(func() { err = mmapper.Hugepage(addr, n) })
	if errors.Is(err, syscall.EINVAL) {
		t.Skipf("kernel without transparent huge pages: %v", err)
	}
	if err != nil {
		t.Fatalf("Hugepage: %v", err)
	}
	check(t, "Hugepage", mmapper.Counters{Madvise: mmapper.OpStats{Calls: 1, Bytes: uint64(n)}}, got)
	fill(mem(addr, n), 14)
	if !hasPattern(mem(addr, n), 14) {
		t.Error("memory is not usable after Hugepage")
	}
}

// MapHugeTLB takes whole huge pages from the system's pool: where the pool
// is empty (this project's machines) the call fails with ENOMEM, counted,
// and nothing is mapped; where it has pages, the mapping is aligned and
// usable. Bad sizes are refused before any call.
func TestMapHugeTLB(t *testing.T) {
	const huge = 2 << 20
	for _, bad := range []struct{ n, size uintptr }{{huge + page, huge}, {0, huge}, {huge, 3 * page}, {huge, page / 2}} {
		got := counting(func() {
			if _, err := mmapper.MapHugeTLB(bad.n, bad.size); !errors.Is(err, syscall.EINVAL) {
				t.Errorf("MapHugeTLB(%d, %d): err = %v, want EINVAL", bad.n, bad.size, err)
			}
		})
		check(t, "calls for a bad argument", mmapper.Counters{}, got)
	}
	var addr uintptr
	var err error
	got := counting(func() { addr, err = mmapper.MapHugeTLB(huge, huge) })
	if err != nil {
		if !errors.Is(err, syscall.ENOMEM) {
			t.Fatalf("MapHugeTLB with an empty pool: err = %v, want ENOMEM", err)
		}
		check(t, "a refused MapHugeTLB", mmapper.Counters{Mmap: mmapper.OpStats{Calls: 1, Errors: 1}}, got)
		t.Logf("the hugetlb pool is empty here: %v", err)
		return
	}
	defer mustUnmap(t, addr, huge)
	if addr%huge != 0 {
		t.Errorf("MapHugeTLB: %#x not aligned to %d", addr, huge)
	}
	b := mem(addr, huge)
	fill(b, 3)
	if !hasPattern(b, 3) {
		t.Error("a MAP_HUGETLB mapping is not usable")
	}
}

// restorePopulate puts the sticky refusal back as it was when the test ends.
func restorePopulate(t *testing.T) {
	was := mmapper.PopulateRefused()
	t.Cleanup(func() { mmapper.SetPopulateRefused(was); mmapper.ClearFaults() })
}

// Populate makes the pages resident in one counted call, without changing
// what they hold.
func TestPopulate(t *testing.T) {
	restorePopulate(t)
	mmapper.SetPopulateRefused(false)
	n := 8 * page
	addr := mustMap(t, n)
	defer mustUnmap(t, addr, n)
	fill(mem(addr, page), 14) // the first page written, the rest untouched
	if r := mustResident(t, addr, n); r != page {
		t.Fatalf("before Populate, %d bytes resident, want %d", r, page)
	}
	var err error
	got := counting(func() { err = mmapper.Populate(addr, n) })
	if err != nil {
		t.Skipf("Populate: %v (a kernel before 5.14)", err)
	}
	check(t, "Populate", mmapper.Counters{Madvise: mmapper.OpStats{Calls: 1, Bytes: uint64(n)}}, got)
	if r := mustResident(t, addr, n); r != n {
		t.Errorf("after Populate, %d bytes resident, want %d", r, n)
	}
	if !hasPattern(mem(addr, page), 14) || !allZero(mem(addr+page, n-page)) {
		t.Error("Populate changed the contents")
	}
	if err := mmapper.Populate(addr+1, page); err == nil {
		t.Error("Populate of an unaligned address: no error")
	}
}

// A kernel without MADV_POPULATE_WRITE answers EINVAL: Populate reports it
// once and from then on makes no call.
func TestPopulateStickyRefusal(t *testing.T) {
	restorePopulate(t)
	mmapper.SetPopulateRefused(false)
	n := 4 * page
	addr := mustMap(t, n)
	defer mustUnmap(t, addr, n)
	mmapper.FailAfter(mmapper.OpMadvise, 1, syscall.EINVAL)
	var err error
	got := counting(func() { err = mmapper.Populate(addr, n) })
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Populate refused: %v, want EINVAL", err)
	}
	if !mmapper.PopulateRefused() {
		t.Fatal("Populate did not remember the refusal")
	}
	check(t, "Populate refused", mmapper.Counters{Madvise: mmapper.OpStats{Calls: 1, Errors: 1}}, got)
	got = counting(func() { err = mmapper.Populate(addr, n) })
	if err != nil {
		t.Errorf("Populate after the refusal: %v, want nil", err)
	}
	check(t, "Populate after the refusal", mmapper.Counters{}, got)
}
