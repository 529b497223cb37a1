package alloc

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// TestForeignChunksGoHome: a chunk freed on a P whose arena does not own it
// goes to the P's foreign classes, never back to the program from this P:
// the P's next allocations come from its own arena, and the foreign chunks
// go back to their arena (its lists), where its own P finds them. Check and
// FlushCaches see the foreign classes.
func TestForeignChunksGoHome(t *testing.T) {
	if runInChild(t, "OFFHEAP=profile_rate=0") {
		return
	}
	runtime.GOMAXPROCS(1) // one P: this goroutine's cache throughout
	h := theHeap()
	const n = 300
	main, other, owned := freeOnOtherArena(t, h, n)
	if c := myCache(); c.foreignBins[chunkClass(arena.Request2Size(64))].count == 0 {
		t.Fatal("no chunk in the foreign class after freeing another arena's blocks")
	}
	var fresh [n]unsafe.Pointer
	for i := range fresh {
		fresh[i] = Malloc(64)
		if owned[uintptr(fresh[i])] {
			t.Fatalf("Malloc %d handed out a foreign chunk freed on this P", i)
		}
		if _, a := h.Lookup(uintptr(fresh[i])); a != other {
			t.Fatalf("block %d is not from the P's new arena %d", i, other.Index())
		}
	}
	if err := Check(); err != nil {
		t.Fatalf("Check with foreign chunks cached: %v", err)
	}
	// Back on the first arena, the P takes the chunks it gave back there.
	myCache().setArena(main)
	FlushCaches()
	back := 0
	var again [n]unsafe.Pointer
	for i := range again {
		again[i] = Malloc(64)
		if owned[uintptr(again[i])] {
			back++
		}
	}
	if back < n/2 {
		t.Fatalf("only %d of %d chunks came back to their arena's P", back, n)
	}
	for i := range fresh {
		Free(fresh[i])
		Free(again[i])
	}
	FlushCaches()
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}

// TestForeignReusedInBigHeap: in a heap of reuseForeignMin or more, a P
// whose class is empty hands out the chunks of its foreign class (freed on
// it, owned by another arena) before it refills from its own arena; in a
// small heap it does not (TestForeignChunksGoHome).
func TestForeignReusedInBigHeap(t *testing.T) {
	if runInChild(t, "OFFHEAP=profile_rate=0,mmap_threshold=2m") {
		return
	}
	runtime.GOMAXPROCS(1) // one P: this goroutine's cache throughout
	h := theHeap()
	var big []unsafe.Pointer
	for h.HeapSys() < reuseForeignMin {
		big = append(big, Malloc(1<<20)) // from the break, below mmap_threshold
	}
	const n = 30
	main, other, owned := freeOnOtherArena(t, h, n)
	reused := 0
	var fresh [n]unsafe.Pointer
	for i := range fresh {
		fresh[i] = Malloc(64)
		if owned[uintptr(fresh[i])] {
			reused++
		} else if _, a := h.Lookup(uintptr(fresh[i])); a != other {
			t.Fatalf("block %d is neither a reused foreign chunk nor from the P's arena", i)
		}
	}
	if reused != n {
		t.Fatalf("%d of the %d foreign chunks freed on this P handed out again, want all (heap %d bytes)", reused, n, h.HeapSys())
	}
	if err := Check(); err != nil {
		t.Fatalf("Check with foreign chunks reused: %v", err)
	}
	for i := range fresh {
		Free(fresh[i])
	}
	myCache().setArena(main)
	for _, p := range big {
		Free(p)
	}
	FlushCaches()
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}

// freeOnOtherArena allocates n 64-byte blocks from this P's arena, moves
// the P to a new arena and frees them there, where they are foreign. It
// returns the first arena, the new one and the blocks' addresses.
func freeOnOtherArena(t *testing.T, h *arena.Heap, n int) (main, other *arena.Arena, owned map[uintptr]bool) {
	t.Helper()
	main = myCache().arena.Load()
	mine := make([]unsafe.Pointer, n)
	owned = map[uintptr]bool{}
	for i := range mine {
		mine[i] = Malloc(64)
		owned[uintptr(mine[i])] = true
		if _, a := h.Lookup(uintptr(mine[i])); a != main {
			t.Fatalf("block %d is not from the P's arena %d", i, main.Index())
		}
	}
	other, err := h.NewArena()
	if err != nil {
		t.Fatal(err)
	}
	FlushCaches()             // the refills' spare chunks of the first arena leave
	myCache().setArena(other) // the P moves: the blocks above are foreign now
	for _, p := range mine {
		Free(p)
	}
	return main, other, owned
}
