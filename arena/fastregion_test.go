package arena_test

import (
	"math/rand/v2"
	"testing"

	"github.com/offheap/offheap/arena"
)

// TestFastRegionMatchesRoom: FastRegion, the region lookup of the free
// fast paths, gives what Room gives for chunks of the break region and of
// a heap arena, for addresses around and between them, in headers, in
// another Heap's heap, and at random; and the GranuleEntry of a chunk it
// finds, 0 in the break region, LocalEntry for a heap arena's.
func TestFastRegionMatchesRoom(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	h, _ := newHeap(t, 64<<20, arena.DefaultParams())
	other, _ := newHeap(t, 0, arena.DefaultParams())
	heapArena, err := h.NewArenaUpTo(8)
	if err != nil {
		t.Fatal(err)
	}
	otherArena, err := other.NewArenaUpTo(8)
	if err != nil {
		t.Fatal(err)
	}
	var probes []uintptr
	for _, a := range []*arena.Arena{h.Arena(0), heapArena, otherArena} {
		for i := 0; i < 200; i++ {
			p := a.Malloc(uintptr(r.IntN(4096)))
			if p == 0 {
				t.Fatal("Malloc failed")
			}
			c := p - 16
			probes = append(probes, c, c+8, c-16, c&^(arena.HeapSize-1), c&^(arena.HeapSize-1)+16, c|(arena.HeapSize-16), c+arena.HeapSize, c-arena.HeapSize)
		}
	}
	for i := 0; i < 1000; i++ {
		probes = append(probes, uintptr(r.Uint64N(1<<47))&^15)
	}
	inBrk, inHeap := 0, 0
	for _, c := range probes {
		want := h.Room(c)
		got, entry := h.FastRegion(c)
		if got != want {
			t.Fatalf("c %#x: FastRegion %d, Room %d", c, got, want)
		}
		if want != 0 {
			a := h.Arena(h.ArenaIndexOf(c))
			if a.Index() == 0 {
				inBrk++
			} else {
				inHeap++
			}
			if entry != a.LocalEntry() {
				t.Fatalf("c %#x in arena %d: entry %#x, LocalEntry %#x", c, a.Index(), entry, a.LocalEntry())
			}
		}
		if o, _ := other.FastRegion(c); o != other.Room(c) {
			t.Fatalf("c %#x: the other Heap's FastRegion %d, Room %d", c, o, other.Room(c))
		}
	}
	if inBrk < 200 || inHeap < 200 {
		t.Fatalf("probes in the break region %d, in a heap %d: the test did not reach both", inBrk, inHeap)
	}
}
