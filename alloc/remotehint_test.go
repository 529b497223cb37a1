//go:build !race

package alloc

import "testing"

// TestBatchHintsHarmless: a hint names any addresses at all (stale ones,
// torn ones, never mapped ones), and prefetching them neither faults nor
// writes; a hint is only used for the batch it was noted for.
func TestBatchHintsHarmless(t *testing.T) {
	var tab hintTable
	bogus := []uintptr{0x10, 0x7ff0, 1 << 46, ^uintptr(0) &^ 15, 0}
	tab.noteBatch(bogus)
	tab.prefetchBatch(bogus[0], len(bogus)) // must not fault
	prefetchLinks(&bogus[1], len(bogus)-1)
	e := &tab[hintSlot(bogus[0])]
	if e.first != bogus[0] || e.n != len(bogus)-1 || e.rest[0] != bogus[1] {
		t.Fatalf("the hint for %#x is %#x with %d chunks, want the batch's", bogus[0], e.first, e.n)
	}
	// Another batch in the same slot replaces it.
	other := []uintptr{bogus[0] + hintSlots<<4, 0x20}
	tab.noteBatch(other)
	if e.first != other[0] || e.n != 1 {
		t.Fatalf("the slot holds %#x with %d chunks, want the later batch", e.first, e.n)
	}
	tab.prefetchBatch(bogus[0], len(bogus)) // no entry: nothing to do
}
