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
	giveBack(chs, cl)
	if n, b := remoteFigures(); n != 20 || b != 20*uint64(classChunk[cl]) {
		t.Fatalf("remote figures %d chunks, %d bytes; want 20, %d", n, b, 20*classChunk[cl])
	}
	var st Stats
	ReadStats(&st)
	if st.CachedChunks < 20 {
		t.Errorf("Stats.CachedChunks = %d, want the 20 remote chunks counted", st.CachedChunks)
	}
	expectPanic(t, "free(): double free detected in tcache 2", func() { Free(unsafe.Add(nil, chs[7]+16)) })

	out := make([]uintptr, 32)
	n := takeRemote(0, cl, out[:8])
	if n != 8 {
		t.Fatalf("takeRemote took %d chunks, want a batch of 8", n)
	}
	if left, _ := remoteFigures(); left != 12 {
		t.Fatalf("%d chunks left on the list, want 12", left)
	}
	n += takeRemote(0, cl, out[8:])
	if n != 20 {
		t.Fatalf("takeRemote took %d chunks in all, want 20", n)
	}
	got := slices.Clone(out[:n])
	slices.Sort(got)
	want := slices.Clone(chs)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("takeRemote returned other chunks than were given back")
	}
	if n, _ := remoteFigures(); n != 0 {
		t.Fatalf("%d chunks still counted on remote lists", n)
	}

	// A write after free into a waiting chunk's link.
	giveBack(got, cl)
	victim := *(*uintptr)(unsafe.Add(nil, remoteOf(0, false).heads[cl].Load()+16))
	*(*uintptr)(unsafe.Add(nil, remoteOf(0, false).heads[cl].Load()+16)) = victim ^ 0x1234568
	expectPanic(t, "malloc(): corrupted remote free list (write after free?)", func() { takeRemote(0, cl, out) })
	if r := remoteOf(0, false); r.heads[cl].Load() != 0 {
		t.Fatal("the corrupted list was not taken off")
	}
	mustCheckHeap(t, "after a corrupted remote list")

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

// TestRemoteFreeBounded: past remoteMax chunks an arena's lists take no
// more, and the chunks go back through the arena's lock.
func TestRemoteFreeBounded(t *testing.T) {
	if runInChild(t, "OFFHEAP=arena_max=4") {
		return
	}
	h := theHeap()
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
