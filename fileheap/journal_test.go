package fileheap_test

import (
	"encoding/binary"
	"testing"

	"github.com/offheap/offheap/fileheap"
)

// The fast paths journal by hand (no store hook sees them), so their
// coverage is checked another way: the journal's entries stay in the
// header after the commit (which zeroes only the count), so after one
// operation every word that changed, but the lock, the journal itself and
// the freed block's first word (the quick list's link, which an undone
// Free does not give back), must be among the entries with the value it
// had before; undoing the entries, last first, must give back the file as
// it was. A kill at any point of such an operation leaves the file as it
// was plus a prefix of its stores: entries (not yet counted: ignored),
// then the count, then the words, each of which the undo restores.
func TestJournalCoversFastPaths(t *testing.T) {
	h, _ := open(t, 8<<20)
	defer h.Close()
	word := func(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	check := func(name string, op func() (link fileheap.Offset)) {
		t.Helper()
		before := h.Snapshot()
		link := op()
		after := h.Snapshot()
		if len(after) != len(before) {
			t.Fatalf("%s: the file changed length", name)
		}
		// The entries of the last operation: as many as there are
		// consecutive valid ones (the count is 0 now).
		undone := append([]byte(nil), after...)
		n := 0
		for ; n < 63; n++ {
			e := fileheap.OffJournal + 16*n
			off, old := word(after, e), word(after, e+8)
			if off == 0 || off >= uint64(len(after)) || word(before, int(off)) != old {
				break
			}
			binary.LittleEndian.PutUint64(undone[off:], old)
		}
		if n == 0 {
			t.Fatalf("%s: nothing journaled", name)
		}
		for off := 0; off+8 <= len(after); off += 8 {
			switch {
			case off >= fileheap.OffLock && off < fileheap.OffJournal+16*63,
				link != 0 && off == int(link):
				continue
			}
			if word(undone, off) != word(before, off) {
				t.Fatalf("%s: the word at %#x changed (%#x -> %#x) but is not journaled (%d entries)",
					name, off, word(before, off), word(after, off), n)
			}
		}
		t.Logf("%s: %d words journaled", name, n)
	}
	var small, mid fileheap.Offset
	var err error
	// Fill the lists first (those pushes and pops are the paths checked
	// below, on lists that are not empty).
	for _, n := range []int{64, 3000} {
		a, _ := h.Alloc(n)
		b, _ := h.Alloc(n)
		h.Free(a)
		h.Free(b)
	}
	check("Alloc(64) from a quick list", func() fileheap.Offset {
		if small, err = h.Alloc(64); err != nil {
			t.Fatal(err)
		}
		return 0
	})
	check("Free(64) to a quick list", func() fileheap.Offset {
		if err := h.Free(small); err != nil {
			t.Fatal(err)
		}
		return small
	})
	check("Alloc(3000) from a class list", func() fileheap.Offset {
		if mid, err = h.Alloc(3000); err != nil {
			t.Fatal(err)
		}
		return 0
	})
	check("Free(3000) to a class list", func() fileheap.Offset {
		if err := h.Free(mid); err != nil {
			t.Fatal(err)
		}
		return mid
	})
	check("Alloc(40000) from the top", func() fileheap.Offset {
		if mid, err = h.Alloc(40000); err != nil {
			t.Fatal(err)
		}
		return 0
	})
	check("Free(40000) into the top", func() fileheap.Offset {
		if err := h.Free(mid); err != nil {
			t.Fatal(err)
		}
		return 0
	})
	mustCheck(t, h)
}
