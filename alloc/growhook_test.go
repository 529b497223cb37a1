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

// TestMidHeld: one give-back can take every chunk the mid-size classes
// hold when full, at any tcache_count.
func TestMidHeld(t *testing.T) {
	total := 0
	for _, n := range midSizes {
		total += int(midLimitOf(n))
	}
	if total > midHeld {
		t.Fatalf("full mid-size classes hold %d chunks, the give-back takes %d", total, midHeld)
	}
	t.Logf("full mid-size classes hold %d chunks at most; midHeld %d", total, midHeld)
}
