package alloc_test

import (
	"testing"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/tune"
)

// TestMalloptProfileRate: Mallopt sets the sampling rate, and the freed
// samples a program never writes out are folded, so they do not pile up.
func TestMalloptProfileRate(t *testing.T) {
	old := alloc.ProfileRate()
	defer alloc.Mallopt(tune.ProfileRate, old)
	if err := alloc.Mallopt(tune.ProfileRate, 4096); err != nil {
		t.Fatal(err)
	}
	if got := alloc.ProfileRate(); got != 4096 {
		t.Fatalf("ProfileRate() = %d after Mallopt(ProfileRate, 4096)", got)
	}
	// About 1 KiB x 20000 / 4 KiB = 5000 samples, all freed.
	folded := alloc.FreedFolded()
	for i := 0; i < 20000; i++ {
		alloc.Free(alloc.Malloc(1024))
	}
	if n := alloc.FreedSamplesWaiting(); n >= alloc.FoldAt {
		t.Fatalf("%d freed samples waiting, want fewer than %d", n, alloc.FoldAt)
	}
	if alloc.FreedFolded()-folded < alloc.FoldAt {
		t.Fatalf("only %d freed samples folded: sampling did not run", alloc.FreedFolded()-folded)
	}
}
