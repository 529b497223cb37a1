package alloc

import (
	"runtime"
	"testing"
	"unsafe"
)

// TestGrowGivesBackCaches: when the arena must grow to serve a request, the
// chunks of that arena waiting in the calling P's mid-size classes, its
// stashes and the arena's lists go back to it first (giveBackBeforeGrow),
// where they can merge and serve other sizes.
func TestGrowGivesBackCaches(t *testing.T) {
	if raceEnabled {
		t.Skip("under the race detector the give-back leaves the caches alone (their mutexes)")
	}
	if runInChild(t, "OFFHEAP=profile_rate=0,mmap_threshold=32m") {
		return
	}
	runtime.GOMAXPROCS(1) // one P: this goroutine's cache throughout
	cl := requestClass(4000)
	var held [4]unsafe.Pointer
	for i := range held {
		held[i] = Malloc(4000)
	}
	spacer := Malloc(4000) // keeps the four off the top (cachePush)
	for _, p := range held {
		Free(p)
	}
	c := myCache()
	if got := c.bins[cl].count; got != uint32(len(held)) {
		t.Fatalf("the 4 KiB class holds %d chunks after the frees, want %d", got, len(held))
	}
	// And a small class that overflows: its surplus waits, as batches, on
	// the arena's own lists (remote.go).
	small := make([]unsafe.Pointer, 300)
	for i := range small {
		small[i] = Malloc(64)
	}
	for _, p := range small {
		Free(p)
	}
	if n, _ := remoteFigures(); n == 0 {
		t.Fatal("no chunk waits on the arena's lists after 300 frees of 64 bytes")
	}
	// ... and the class's stash holds the older half of its limit.
	cl64 := requestClass(64)
	if c.stash[cl64].count == 0 {
		t.Fatal("the 64-byte class's stash is empty after 300 frees")
	}
	var st Stats
	ReadStats(&st)
	sys0 := st.Arenas[0].System
	big := Malloc(int(st.Arenas[0].Top) + 256<<10) // more than the top: the arena grows
	if big == nil {
		t.Fatal("Malloc of the top's size and more failed")
	}
	ReadStats(&st)
	if st.Arenas[0].System <= sys0 {
		t.Fatalf("the arena did not grow (%d -> %d bytes): the request was served otherwise", sys0, st.Arenas[0].System)
	}
	if got := c.bins[cl].count; got != 0 {
		t.Fatalf("the 4 KiB class still holds %d chunks after the arena grew, want 0 (given back first)", got)
	}
	if n, _ := remoteFigures(); n != 0 {
		t.Fatalf("%d chunks still wait on the arena's lists after it grew, want 0", n)
	}
	if got := c.stash[cl64].count; got != 0 {
		t.Fatalf("the 64-byte class's stash still holds %d chunks after the arena grew, want 0", got)
	}
	if err := Check(); err != nil {
		t.Fatalf("Check after the give-back: %v", err)
	}
	Free(big)
	Free(spacer)
	FlushCaches()
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}

// TestGrowHookKeepsOtherArenas: the give-back takes only the growing
// arena's chunks out of a class that holds two arenas' chunks, and leaves
// the others linked in their order.
func TestGrowHookKeepsOtherArenas(t *testing.T) {
	if raceEnabled {
		t.Skip("under the race detector the give-back leaves the caches alone (their mutexes)")
	}
	if runInChild(t, "OFFHEAP=profile_rate=0") {
		return
	}
	runtime.GOMAXPROCS(1)
	h := theHeap()
	main := myCache().arena.Load()
	var mine, theirs [2]unsafe.Pointer
	for i := range mine {
		mine[i] = Malloc(4000)
	}
	spacer0 := Malloc(4000)
	other, err := h.NewArena()
	if err != nil {
		t.Fatal(err)
	}
	myCache().setArena(other)
	for i := range theirs {
		theirs[i] = Malloc(4000)
	}
	spacer1 := Malloc(4000)
	for _, p := range theirs {
		if _, a := h.Lookup(uintptr(p)); a != other {
			t.Fatalf("%p is not from the second arena", p)
		}
	}
	for i := range mine { // the class, head first: theirs[1], mine[1], theirs[0], mine[0]
		Free(mine[i])
		Free(theirs[i])
	}
	cl := requestClass(4000)
	c := myCache()
	if got := c.bins[cl].count; got != 4 {
		t.Fatalf("the class holds %d chunks, want 4", got)
	}
	main.Lock()
	gave := giveBackBeforeGrow(main)
	again := giveBackBeforeGrow(main)
	main.Unlock()
	if !gave || again {
		t.Fatalf("giveBackBeforeGrow reported %v then %v, want true then false", gave, again)
	}
	if got := c.bins[cl].count; got != 2 {
		t.Fatalf("the class holds %d chunks after the give-back, want the second arena's 2", got)
	}
	for i := len(theirs) - 1; i >= 0; i-- {
		if p := Malloc(4000); p != theirs[i] {
			t.Fatalf("Malloc returned %p, want the kept chunk %p (in order)", p, theirs[i])
		}
	}
	if err := Check(); err != nil {
		t.Fatalf("Check after the give-back: %v", err)
	}
	for _, p := range theirs {
		Free(p)
	}
	Free(spacer0)
	Free(spacer1)
	myCache().setArena(main)
	FlushCaches()
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}

// TestGrowHookTakesMany: the grow hook takes its chunks from the caches
// through a buffer of hookBatch, class after class: mid-size classes that
// hold more than that between them, and a grown class of 400 chunks, are
// all given back.
func TestGrowHookTakesMany(t *testing.T) {
	if raceEnabled {
		t.Skip("under the race detector the give-back leaves the caches alone (their mutexes)")
	}
	if runInChild(t, "OFFHEAP=profile_rate=0,mmap_threshold=32m", "GOMAXPROCS=1") {
		return
	}
	if runtime.GOMAXPROCS(0) != 1 {
		t.Fatal("the child needs GOMAXPROCS=1")
	}
	// Three mid-size classes' worth of blocks, to be freed into them
	// (full) once a class of 1 KiB has grown: 400 blocks of 1 KiB, all
	// allocated, then freed in order, eight times (TestCacheGrow). The
	// blocks come first, since a growing arena would shrink the class.
	sizes := []int{1152, 1280, 2048}
	var blocks []unsafe.Pointer
	for _, n := range sizes {
		for range midLimitOf(uintptr(n)) {
			blocks = append(blocks, Malloc(n))
		}
	}
	spacer := Malloc(64) // keeps them off the top
	const small = nSmall - 1
	var ps [400]unsafe.Pointer
	for range 8 {
		for i := range ps {
			ps[i] = Malloc(1024)
		}
		for _, p := range ps {
			Free(p)
		}
	}
	for _, p := range blocks {
		Free(p)
	}
	c := myCache()
	held := int(c.bins[small].count)
	for _, n := range sizes {
		held += int(c.bins[requestClass(uintptr(n))].count)
	}
	if c.grownMask&(1<<small) == 0 || held <= 2*hookBatch {
		t.Fatalf("before the hook: grown %#x, %d chunks held; want class %d grown and more than %d", c.grownMask, held, small, 2*hookBatch)
	}
	a := c.arena.Load()
	a.Lock()
	gave := giveBackBeforeGrow(a)
	a.Unlock()
	if !gave || c.grownMask != 0 || c.bins[small].count != 0 {
		t.Fatalf("after the hook: gave %v, grown %#x, %d chunks in class %d", gave, c.grownMask, c.bins[small].count, small)
	}
	for _, n := range sizes {
		if k := c.bins[requestClass(uintptr(n))].count; k != 0 {
			t.Errorf("after the hook: class of %d bytes holds %d chunks", n, k)
		}
	}
	Free(spacer)
	mustCheckHeap(t, "after the hook")
}
