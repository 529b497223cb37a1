package mmapper_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/offheap/offheap/mmapper"
)

// Guard closes pages without losing their contents; Commit opens them again.
func TestGuard(t *testing.T) {
	addr := mustMap(t, 3*page)
	defer mustUnmap(t, addr, 3*page)
	fill(mem(addr, 3*page), 9)

	got := counting(func() {
		if err := mmapper.Guard(addr+page, page); err != nil {
			t.Fatalf("Guard: %v", err)
		}
	})
	check(t, "Guard", mmapper.Counters{Mprotect: mmapper.OpStats{Calls: 1, Bytes: uint64(page)}}, got)
	if !faultsOn(t, addr+page) || !faultsOn(t, addr+2*page-1) {
		t.Fatal("a guarded page is readable")
	}
	if faultsOn(t, addr+page-1) || faultsOn(t, addr+2*page) {
		t.Fatal("a page next to the guard faults")
	}
	if err := mmapper.Commit(addr+page, page); err != nil {
		t.Fatalf("Commit after Guard: %v", err)
	}
	if !hasPattern(mem(addr, 3*page), 9) {
		t.Fatal("Guard lost the contents of the page")
	}
}

func TestGuardErrors(t *testing.T) {
	addr := mustMap(t, page)
	defer mustUnmap(t, addr, page)
	for _, tc := range []struct {
		name string
		a, n uintptr
	}{{"unaligned", addr + 8, page}, {"zero", addr, 0}, {"odd size", addr, page + 1}} {
		var err error
		got := counting(func() { err = mmapper.Guard(tc.a, tc.n) })
		if !errors.Is(err, syscall.EINVAL) || !strings.HasPrefix(err.Error(), "mmapper: Guard: ") {
			t.Errorf("Guard %s: err = %v, want EINVAL naming Guard", tc.name, err)
		}
		check(t, "Guard "+tc.name, mmapper.Counters{}, got)
	}
	// A refusal by the kernel (injected) wraps the errno and is counted as a
	// call and an error (failed calls move no bytes).
	mmapper.FailAfter(mmapper.OpMprotect, 1, syscall.ENOMEM)
	defer mmapper.ClearFaults()
	var err error
	got := counting(func() { err = mmapper.Guard(addr, page) })
	if !errors.Is(err, syscall.ENOMEM) || !strings.Contains(err.Error(), "PROT_NONE (guard)") {
		t.Errorf("Guard under an injected ENOMEM: err = %v", err)
	}
	check(t, "Guard refused", mmapper.Counters{Mprotect: mmapper.OpStats{Calls: 1, Errors: 1}}, got)
	if faultsOn(t, addr) {
		t.Error("a refused Guard closed the page")
	}
}
