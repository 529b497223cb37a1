package alloc

import (
	"testing"

	"github.com/offheap/offheap/arena"
)

// TestRequestClassExhaustive checks requestClass for every cached request
// size: the smallest exact class whose chunk holds it up to 1 KiB, the
// smallest upper class whose request size is at least it above.
func TestRequestClassExhaustive(t *testing.T) {
	for n := uintptr(0); n <= midLimit; n++ {
		cl := requestClass(n)
		if cl < 0 || cl >= nClasses {
			t.Fatalf("requestClass(%d) = %d", n, cl)
		}
		if classChunk[cl] < arena.Request2Size(n) {
			t.Fatalf("requestClass(%d) = %d holds %d bytes, need %d", n, cl, classChunk[cl], arena.Request2Size(n))
		}
		if n <= smallLimit {
			if cl > 0 && classChunk[cl-1] >= arena.Request2Size(n) {
				t.Fatalf("requestClass(%d) = %d: class %d would do", n, cl, cl-1)
			}
		} else if k := cl - nSmall; k < 0 || midSizes[k] < n || k > 0 && midSizes[k-1] >= n {
			t.Fatalf("requestClass(%d) = %d: not the smallest upper class of at least %d bytes", n, cl, n)
		}
	}
}

// TestClassTablesInRange: every class the tables give is a class, as the
// fast paths' assembly, which indexes the bins with them unmasked, takes
// for granted (Malloc: smallClassOf and nSmall+midClassOf; Free's small
// path: (size-minChunk)>>4 for sizes of the small classes only).
func TestClassTablesInRange(t *testing.T) {
	for i, cl := range smallClassOf {
		if int(cl) >= nSmall {
			t.Errorf("smallClassOf[%d] = %d, not below nSmall %d", i, cl, nSmall)
		}
	}
	for i, k := range midClassOf {
		if int(k) >= nMid {
			t.Errorf("midClassOf[%d] = %d, not below nMid %d", i, k, nMid)
		}
	}
	for i, cl := range chunkFloor {
		if int(cl) >= nClasses {
			t.Errorf("chunkFloor[%d] = %d, not below nClasses %d", i, cl, nClasses)
		}
	}
	if (smallChunkMax-arena.MinSize)>>4 != nSmall-1 {
		t.Errorf("the largest small chunk (%d) is class %d, want %d", smallChunkMax, (smallChunkMax-arena.MinSize)>>4, nSmall-1)
	}
	if nClasses > nClassSlots {
		t.Errorf("nClasses %d above nClassSlots %d", nClasses, nClassSlots)
	}
}
