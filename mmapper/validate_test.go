package mmapper_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/offheap/offheap/mmapper"
)

// Invalid arguments are refused with EINVAL before any system call.
func TestArgumentValidation(t *testing.T) {
	addr := mustMap(t, 2*page)
	defer mustUnmap(t, addr, 2*page)
	top := ^uintptr(0) &^ (page - 1) // the last page of the address space
	drop := func(_ uintptr, err error) error { return err }

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Map zero", func() error { return drop(mmapper.Map(0)) }},
		{"Map unaligned size", func() error { return drop(mmapper.Map(page + 1)) }},
		{"MapAligned zero", func() error { return drop(mmapper.MapAligned(0, page)) }},
		{"MapAligned align not power of two", func() error { return drop(mmapper.MapAligned(page, 3*page)) }},
		{"MapAligned align below page", func() error { return drop(mmapper.MapAligned(page, page/2)) }},
		{"MapAligned align zero", func() error { return drop(mmapper.MapAligned(page, 0)) }},
		{"MapAligned overflow", func() error { return drop(mmapper.MapAligned(top, 1<<40)) }},
		{"Reserve zero", func() error { return drop(mmapper.Reserve(0, 0)) }},
		{"Reserve bad align", func() error { return drop(mmapper.Reserve(page, page+1)) }},
		{"Unmap unaligned addr", func() error { return mmapper.Unmap(addr+1, page) }},
		{"Unmap zero", func() error { return mmapper.Unmap(addr, 0) }},
		{"Unmap unaligned size", func() error { return mmapper.Unmap(addr, page-1) }},
		{"Unmap wraps", func() error { return mmapper.Unmap(top, 2*page) }},
		{"Remap unaligned addr", func() error { return drop(mmapper.Remap(addr+8, page, 2*page, true)) }},
		{"Remap zero old", func() error { return drop(mmapper.Remap(addr, 0, page, true)) }},
		{"Remap zero new", func() error { return drop(mmapper.Remap(addr, page, 0, true)) }},
		{"Remap unaligned new", func() error { return drop(mmapper.Remap(addr, page, page+3, true)) }},
		{"Commit unaligned", func() error { return mmapper.Commit(addr+page/2, page) }},
		{"Decommit zero", func() error { return mmapper.Decommit(addr, 0) }},
		{"DontNeed unaligned size", func() error { return mmapper.DontNeed(addr, 100) }},
		{"Free unaligned addr", func() error { return mmapper.Free(addr+1, page) }},
		{"Hugepage zero", func() error { return mmapper.Hugepage(addr, 0) }},
		{"Resident unaligned", func() error { return drop(mmapper.Resident(addr+1, page)) }},
		{"Resident wraps", func() error { return drop(mmapper.Resident(top, 2*page)) }},
		{"MapFile bad fd", func() error { return drop(mmapper.MapFile(-1, 0, page, true)) }},
		{"MapFile unaligned offset", func() error { return drop(mmapper.MapFile(0, 100, page, true)) }},
		{"MapFile negative offset", func() error { return drop(mmapper.MapFile(0, -int64(page), page, true)) }},
		{"MapFile zero", func() error { return drop(mmapper.MapFile(0, 0, 0, true)) }},
		{"MapFile overflow", func() error { return drop(mmapper.MapFile(0, 1<<62, top, true)) }},
		{"MapFileFixed unaligned addr", func() error { return mmapper.MapFileFixed(addr+1, 0, 0, page, true) }},
		{"MapFileFixed bad fd", func() error { return mmapper.MapFileFixed(addr, -2, 0, page, true) }},
		{"Msync unaligned", func() error { return mmapper.Msync(addr+8, page) }},
		{"Msync zero", func() error { return mmapper.Msync(addr, 0) }},
	} {
		var err error
		got := counting(func() { err = tc.call() })
		if !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%s: err = %v, want EINVAL", tc.name, err)
			continue
		}
		fn, _, _ := strings.Cut(tc.name, " ")
		if !strings.HasPrefix(err.Error(), "mmapper: "+fn+": ") {
			t.Errorf("%s: error %q does not name %s", tc.name, err, fn)
		}
		check(t, tc.name, mmapper.Counters{}, got)
	}
	// The mapping is untouched by all of that.
	fill(mem(addr, 2*page), 30)
	if !hasPattern(mem(addr, 2*page), 30) {
		t.Error("mapping unusable after refused calls")
	}
}
