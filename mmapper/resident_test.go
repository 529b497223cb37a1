package mmapper_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/offheap/offheap/mmapper"
)

func TestResidentCountsTouchedPages(t *testing.T) {
	n := 16 * page
	for _, touched := range [][]uintptr{{}, {0}, {15}, {1, 3, 4, 9, 14}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}} {
		addr := mustMap(t, n)
		for _, i := range touched {
			mem(addr+i*page+page/2, 1)[0] = 1
		}
		want := uintptr(len(touched)) * page
		got := counting(func() {
			if r := mustResident(t, addr, n); r != want {
				t.Errorf("touched pages %v: Resident = %d, want %d", touched, r, want)
			}
		})
		check(t, "Resident", mmapper.Counters{Mincore: mmapper.OpStats{Calls: 1, Bytes: uint64(n)}}, got)
		mustUnmap(t, addr, n)
	}
}

// A range bigger than one mincore chunk is asked about chunk by chunk.
func TestResidentChunks(t *testing.T) {
	chunk := mmapper.ResidentChunkPages * page
	n := 4*chunk + 3*page
	addr, err := mmapper.Reserve(n, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer mustUnmap(t, addr, n)
	touch := []uintptr{0, chunk - page, chunk, 3*chunk + 5*page, n - page}
	for _, off := range touch {
		if err := mmapper.Commit(addr+off, page); err != nil {
			t.Fatal(err)
		}
		mem(addr+off, 1)[0] = 1
	}
	got := counting(func() {
		if r := mustResident(t, addr, n); r != uintptr(len(touch))*page {
			t.Errorf("Resident = %d, want %d", r, uintptr(len(touch))*page)
		}
	})
	check(t, "Resident over 5 chunks", mmapper.Counters{Mincore: mmapper.OpStats{Calls: 5, Bytes: uint64(n)}}, got)
}

func TestResidentUnmapped(t *testing.T) {
	addr := mustMap(t, 2*page)
	mustUnmap(t, addr, 2*page)
	_, err := mmapper.Resident(addr, 2*page)
	if !errors.Is(err, syscall.ENOMEM) {
		t.Errorf("Resident on unmapped memory = %v, want ENOMEM", err)
	}
}

func TestCountResident(t *testing.T) {
	for _, tc := range []struct {
		vec  []byte
		want uintptr
	}{
		{nil, 0},
		{[]byte{1}, 1},
		{[]byte{0, 2, 4, 0xfe}, 0}, // only bit 0 means resident
		{[]byte{1, 3, 0xff, 0, 1, 1, 0, 1}, 6},
		{[]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1}, 10},
	} {
		if got := mmapper.CountResident(tc.vec); got != tc.want {
			t.Errorf("countResident(%v) = %d, want %d", tc.vec, got, tc.want)
		}
	}
}
