package alloc

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// remoteChunks allocates n chunks of class cl from arena a and marks them
// as cached chunks are (the key in their second word), as a P's cache
// holds them before it gives them back.
func remoteChunks(t *testing.T, a *arena.Arena, cl, n int) []uintptr {
	t.Helper()
	var chs []uintptr
	for range n {
		p := a.Malloc(classChunk[cl] - 8)
		if p == 0 {
			t.Fatal("arena Malloc failed")
		}
		ch := p - 16
		*keyWord(ch) = keyFor(ch)
		chs = append(chs, ch)
	}
	return chs
}

// TestRemoteFree gives chunks of an arena back as a cache does when a
// class overflows: they wait on the arena's list for the class (counted in
// the statistics, a second free of one still caught by its key), a refill
// takes them a batch at a time, a corrupted link is reported and the list
// dropped, and the lists drain back into their arena for Check and
// FlushCaches.
func TestRemoteFree(t *testing.T) {
	if runInChild(t, "OFFHEAP=arena_max=4") {
		return
	}
	h := theHeap()
	FlushCaches()
	for h.NumArenas() < 2 {
		if _, err := h.NewArena(); err != nil {
			t.Fatal(err)
		}
	}
	a0, a1 := h.Arena(0), h.Arena(1)
	const cl = 3 // 80-byte chunks
	_ = a1

	chs := remoteChunks(t, a0, cl, 20)
	giveBack(chs[:15], cl) // two batches: 15 and 5
	giveBack(chs[15:], cl)
	if n, b := remoteFigures(); n != 20 || b != 20*uint64(classChunk[cl]) {
		t.Fatalf("remote figures %d chunks, %d bytes; want 20, %d", n, b, 20*classChunk[cl])
	}
	var st Stats
	ReadStats(&st)
	if st.CachedChunks < 20 {
		t.Errorf("Stats.CachedChunks = %d, want the 20 waiting chunks counted", st.CachedChunks)
	}
	expectPanic(t, "free(): double free detected in tcache 2", func() { Free(unsafe.Add(nil, chs[7]+16)) })

	var got []uintptr
	for _, want := range []int{5, 15} { // the last batch pushed comes first
		first, n := takeBatch(0, cl)
		if n != want {
			t.Fatalf("takeBatch took a batch of %d chunks, want %d", n, want)
		}
		out := make([]uintptr, maxBatch)
		m, err := batchChunks(first, n, out)
		if err != nil || m != n {
			t.Fatalf("batchChunks: %d of %d, %v", m, n, err)
		}
		got = append(got, out[:m]...)
	}
	if first, _ := takeBatch(0, cl); first != 0 {
		t.Fatal("takeBatch found a third batch")
	}
	slices.Sort(got)
	want := slices.Clone(chs)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the batches held other chunks than were given back")
	}
	if n, _ := remoteFigures(); n != 0 {
		t.Fatalf("%d chunks still counted on the lists", n)
	}

	// A batch installed as a cache class by a refill: Malloc hands out
	// every chunk of it. (One goroutine on its P, as long as it does not
	// migrate: the test pins nothing, and checks the chunks as a set.)
	FlushCaches()
	giveBack(got[:8], cl)
	handed := map[uintptr]bool{}
	for range 8 {
		handed[uintptr(Malloc(int(classChunk[cl])-8))-16] = true
	}
	hits := 0
	for _, ch := range got[:8] {
		if handed[ch] {
			hits++
		}
	}
	if hits != 8 {
		t.Errorf("%d of the batch's 8 chunks were handed out by the next 8 Mallocs of the class", hits)
	}
	for q := range handed {
		Free(unsafe.Add(nil, q+16))
	}
	FlushCaches()

	// A write after free into a waiting batch's head.
	giveBack(got[8:], cl)
	head := remoteOf(0, false).heads[cl].Load()
	*keyWord(head) ^= 0x10
	expectPanic(t, "malloc(): corrupted remote free list (write after free?)", func() { takeBatch(0, cl) })
	if r := remoteOf(0, false); r.heads[cl].Load() != 0 {
		t.Fatal("the corrupted list was not taken off")
	}
	*keyWord(head) ^= 0x10
	mustCheckHeap(t, "after a corrupted list")

	// Drained back for FlushCaches and Check.
	giveBack(remoteChunks(t, a0, cl, 9), cl)
	giveBack(remoteChunks(t, a0, cl+5, 4), cl+5)
	FlushCaches()
	if n, _ := remoteFigures(); n != 0 {
		t.Fatalf("%d chunks on remote lists after FlushCaches", n)
	}
	giveBack(remoteChunks(t, a0, cl, 3), cl)
	mustCheckHeap(t, "with chunks on a remote list")
	if n, _ := remoteFigures(); n != 0 {
		t.Fatalf("%d chunks on remote lists after Check", n)
	}
}

// TestRemoteFreeBounded: past remoteMax chunks (or remoteMaxBytes) an
// arena's lists take no more, and the chunks go back through the arena's
// lock.
func TestRemoteFreeBounded(t *testing.T) {
	if runInChild(t, "OFFHEAP=arena_max=4") {
		return
	}
	h := theHeap()
	h.SetGrowHook(nil) // growth would drain the lists (giveBackBeforeGrow)
	for h.NumArenas() < 2 {
		if _, err := h.NewArena(); err != nil {
			t.Fatal(err)
		}
	}
	for given := 0; given < remoteMax+200; given += 32 {
		giveBack(remoteChunks(t, h.Arena(0), 0, 32), 0)
	}
	if n, _ := remoteFigures(); n > remoteMax || n < remoteMax-32 {
		t.Fatalf("%d chunks wait on remote lists, want at most %d and close to it", n, remoteMax)
	}
	mustCheckHeap(t, "after the bound")
}
