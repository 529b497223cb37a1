package arena_test

import (
	"math/rand/v2"
	"testing"

	"github.com/offheap/offheap/arena"
)

// TestFastRegionMatchesRoom: FastRegion, the region lookup of the free
// fast paths, and Room give what heapRegionEnd, the arena's own lookup,
// gives for chunks of the break region and of a heap arena, for addresses
// around and between them, in headers, in another Heap's heap, and at
// random; and the GranuleEntry of a chunk it finds, 0 in the break region,
// LocalEntry for a heap arena's.
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
	// want is the room by heapRegionEnd, which reads the arena's region
	// bounds its own way and leaves a heap's header out; FastRegion may
	// count an address in a heap's header (its tag check refuses it).
	roomOf := func(h *arena.Heap, c uintptr) uintptr {
		if e := h.RegionEndOf(c); e != 0 {
			return e - c
		}
		return 0
	}
	inHeader := func(h *arena.Heap, c uintptr) bool {
		base := c &^ (arena.HeapSize - 1)
		return c-base < 48 && h.RegionEndOf(base+48) != 0
	}
	inBrk, inHeap := 0, 0
	for _, c := range probes {
		want := roomOf(h, c)
		got, entry := h.FastRegion(c)
		if got != want && !(want == 0 && inHeader(h, c)) {
			t.Fatalf("c %#x: FastRegion %d, want %d", c, got, want)
		}
		if room := h.Room(c); room != got {
			t.Fatalf("c %#x: Room %d, FastRegion %d", c, room, got)
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
		if o, w := other.FastRegion(c); o != roomOf(other, c) && !(roomOf(other, c) == 0 && inHeader(other, c)) {
			t.Fatalf("c %#x: the other Heap's FastRegion %d (entry %#x), want %d", c, o, w, roomOf(other, c))
		}
	}
	if inBrk < 200 || inHeap < 200 {
		t.Fatalf("probes in the break region %d, in a heap %d: the test did not reach both", inBrk, inHeap)
	}
}
