package mmapper_test

import (
	"testing"

	"github.com/offheap/offheap/mmapper"
)

func TestReserveCommitDecommit(t *testing.T) {
	const n = 1 << 30
	var addr uintptr
	got := counting(func() {
		var err error
		if addr, err = mmapper.Reserve(n, 0); err != nil {
			t.Fatalf("Reserve: %v", err)
		}
	})
	check(t, "Reserve", mmapper.Counters{Mmap: mmapper.OpStats{Calls: 1, Bytes: n}}, got)
	defer mustUnmap(t, addr, n)

	if r := mustResident(t, addr, n); r != 0 {
		t.Errorf("fresh reservation has %d bytes resident", r)
	}
	if !faultsOn(t, addr) || !faultsOn(t, addr+n-1) {
		t.Fatal("reserved memory is readable before Commit")
	}

	got = counting(func() {
		if err := mmapper.Commit(addr, 2*page); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	})
	check(t, "Commit", mmapper.Counters{Mprotect: mmapper.OpStats{Calls: 1, Bytes: uint64(2 * page)}}, got)
	b := mem(addr, 2*page)
	if !allZero(b) {
		t.Error("committed memory is not zeroed")
	}
	fill(b, 7)
	if r := mustResident(t, addr, n); r != 2*page {
		t.Errorf("after touching 2 committed pages, %d bytes resident, want %d", r, 2*page)
	}
	if !faultsOn(t, addr+2*page) {
		t.Error("memory past the committed range is readable")
	}

	got = counting(func() {
		if err := mmapper.Decommit(addr, 2*page); err != nil {
			t.Fatalf("Decommit: %v", err)
		}
	})
	check(t, "Decommit", mmapper.Counters{
		Madvise:  mmapper.OpStats{Calls: 1, Bytes: uint64(2 * page)},
		Mprotect: mmapper.OpStats{Calls: 1, Bytes: uint64(2 * page)},
	}, got)
	if r := mustResident(t, addr, n); r != 0 {
		t.Errorf("after Decommit, %d bytes resident", r)
	}
	if !faultsOn(t, addr) {
		t.Error("decommitted memory is readable")
	}
	if err := mmapper.Commit(addr, 2*page); err != nil {
		t.Fatalf("Commit again: %v", err)
	}
	if !allZero(mem(addr, 2*page)) {
		t.Error("recommitted memory still holds old contents")
	}
}

func TestReserveAligned(t *testing.T) {
	for _, align := range []uintptr{0, page, 2 << 20, 1 << 30} {
		n := 16 * page
		addr, err := mmapper.Reserve(n, align)
		if err != nil {
			t.Fatalf("Reserve(%d, %#x): %v", n, align, err)
		}
		if align != 0 && addr%align != 0 {
			t.Errorf("Reserve(%d, %#x) = %#x, not aligned", n, align, addr)
		}
		if !faultsOn(t, addr) {
			t.Errorf("align %#x: reservation readable before Commit", align)
		}
		if r := mustResident(t, addr, n); r != 0 {
			t.Errorf("align %#x: %d bytes resident", align, r)
		}
		mustUnmap(t, addr, n)
	}
}
