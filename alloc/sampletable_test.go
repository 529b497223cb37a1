package alloc_test

import (
	"math/rand/v2"
	"testing"

	"github.com/offheap/offheap/alloc"
)

// TestAddrTable checks the table of sampled blocks against a map: random
// insertions and removals, stale entries replaced on insertion (an address
// allocated again whose free went unseen), and an insertion refused when
// its line is full, which is where the allocator rebuilds the table.
func TestAddrTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(seedFor(t), 1))
	const slots = 1024
	tab := alloc.NewAddrTable(slots)
	model := map[uintptr]uint32{}
	fulls := 0
	addr := func() uintptr { return uintptr(0x10000+rng.IntN(4*slots)) << 4 }
	for i := 0; i < 200000; i++ {
		p := addr()
		if rng.IntN(2) == 0 && len(model) < slots/alloc.LineSlots {
			id := uint32(1 + rng.IntN(1<<20-1))
			full, stale := tab.Insert(p, id)
			if full {
				fulls++
				if _, ok := model[p]; ok {
					t.Fatalf("op %d: insert %#x refused though it is in the table", i, p)
				}
				continue
			}
			if stale != model[p] {
				t.Fatalf("op %d: insert %#x: stale id %d, want %d", i, p, stale, model[p])
			}
			model[p] = id
			continue
		}
		id, found := tab.Remove(p)
		want, ok := model[p]
		if found != ok || id != want {
			t.Fatalf("op %d: remove %#x: %d, %v; want %d, %v", i, p, id, found, want, ok)
		}
		delete(model, p)
	}

	t.Logf("%d insertions refused (a full line) at one entry per line", fulls)

	// Entries are refused only once a line is full: a table fills up to
	// the last slot when every line gets its share.
	full := alloc.NewAddrTable(slots)
	n := 0
	for i := uintptr(1); i < 1<<20; i++ {
		if f, _ := full.Insert(i<<4, 1); !f {
			n++
		}
	}
	if n != slots {
		t.Fatalf("a table of %d slots took %d entries", slots, n)
	}
}
