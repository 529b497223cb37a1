package alloc

import (
	"runtime"
	"testing"
	"unsafe"
)

// TestCacheStash follows one exact class through its list and its stash
// (cache.go, stashBase) with tcache_count=8: 4 chunks in the list, 4 in
// the stash. Thirteen frees into an empty cache leave the last in the list, the 4 before in
// the stash and the first 8 on the arena's lists, two batches; thirteen
// mallocs then hand them out in exactly the reverse order of the frees, as
// one LIFO list of 13 would. A second free of a stashed block is caught, a
// corrupted stash is reported, Check accepts the stash, and FlushCaches
// empties it. One P (GOMAXPROCS=1), so that every call uses one cache.
func TestCacheStash(t *testing.T) {
	if runInChild(t, "OFFHEAP=tcache_count=8,profile_rate=0", "GOMAXPROCS=1") {
		return
	}
	if runtime.GOMAXPROCS(0) != 1 {
		t.Fatal("the child needs GOMAXPROCS=1")
	}
	const cl = 3 // 80-byte chunks
	size := int(classChunk[cl]) - 8
	Free(Malloc(size)) // P 0's cache
	FlushCaches()
	cache := func() *pcache { return onlyCache(t) }
	if c := cache(); c.stashMask&(1<<cl) == 0 || c.bins[cl].limit != 4 {
		t.Fatalf("class %d: stash mask %#x, list limit %d; want a stash and a limit of 4", cl, c.stashMask, c.bins[cl].limit)
	}

	var ps [13]unsafe.Pointer
	// fill mallocs 13 blocks, empties the cache of what the refills left
	// there, and frees them in order.
	fill := func() {
		for i := range ps {
			ps[i] = Malloc(size)
		}
		FlushCaches()
		for _, p := range ps {
			Free(p)
		}
	}
	fill()
	c := cache()
	if l, st := c.bins[cl].count, c.stash[cl].count; l != 1 || st != 4 {
		t.Fatalf("after 13 frees: %d chunks in the list, %d in the stash; want 1 and 4", l, st)
	}
	if n, _ := remoteFigures(); n != 8 {
		t.Fatalf("after 13 frees: %d chunks on the arena's lists, want 8", n)
	}
	var s Stats
	ReadStats(&s)
	if s.CachedChunks < 13 {
		t.Errorf("Stats.CachedChunks = %d, want the 13 cached chunks counted", s.CachedChunks)
	}
	mustCheckHeap(t, "with a stash")
	fill()                                                                             // Check flushed the caches
	expectPanic(t, "free(): double free detected in tcache 2", func() { Free(ps[9]) }) // in the stash

	for i := len(ps) - 1; i >= 0; i-- {
		if q := Malloc(size); q != ps[i] {
			t.Fatalf("malloc %d returned %p, want %p (block %d, freed %d mallocs ago)", len(ps)-1-i, q, ps[i], i, len(ps)-1-i)
		}
	}
	for _, p := range ps {
		Free(p)
	}
	FlushCaches()
	c = cache()
	if l, st := c.bins[cl].count, c.stash[cl].count; l != 0 || st != 0 {
		t.Fatalf("after FlushCaches: %d chunks in the list, %d in the stash", l, st)
	}
	if n, _ := remoteFigures(); n != 0 {
		t.Fatalf("after FlushCaches: %d chunks on the arena's lists", n)
	}

	// A write after free into the stash's first chunk: the malloc that
	// takes the stash reports it, as a pop does.
	for i := range 5 {
		ps[i] = Malloc(size)
	}
	FlushCaches()
	for _, p := range ps[:5] {
		Free(p)
	}
	Malloc(size) // ps[4], from the list; the stash holds ps[3] first
	*keyWord(uintptr(ps[3]) - 16) ^= 0x10
	expectPanic(t, "malloc(): corrupted tcache chunk (double free or write after free)", func() { Malloc(size) })
	*keyWord(uintptr(ps[3]) - 16) ^= 0x10
	mustCheckHeap(t, "after a corrupted stash")
}

// TestCacheStashLimits: only the exact classes of the process heap's
// caches have stashes, and only while half their limit is a batch at most.
func TestCacheStashLimits(t *testing.T) {
	for _, tc := range []struct {
		count    string
		stash    bool
		listHalf bool
	}{{"1", false, false}, {"2", true, true}, {"64", true, true}, {"65", false, false}} {
		t.Run(tc.count, func(t *testing.T) {
			if runInChild(t, "OFFHEAP=tcache_count="+tc.count, "GOMAXPROCS=1") {
				return
			}
			theHeap()
			FlushCaches()
			Free(Malloc(16))
			pid := procPin()
			c := cacheFor(pid)
			procUnpin()
			lim := uint32(cacheLimits.Load()[0])
			if got := c.stashMask&1 != 0; got != tc.stash {
				t.Errorf("tcache_count=%s: class 0 has a stash: %v, want %v", tc.count, got, tc.stash)
			}
			want := lim
			if tc.listHalf {
				want = lim / 2
			}
			if c.bins[0].limit != want {
				t.Errorf("tcache_count=%s: class 0's list limit %d, want %d", tc.count, c.bins[0].limit, want)
			}
			if mid := nSmall + 1; c.stashMask>>mid != 0 || c.bins[mid].limit != cacheLimits.Load()[mid] {
				t.Errorf("a mid-size class has a stash or a halved limit")
			}
			h := NewHeap()
			defer h.Destroy()
			h.Free(h.Malloc(16))
			if pc := h.cache(); pc != nil && pc.stashMask != 0 {
				t.Errorf("a private heap's cache has stashes (mask %#x)", pc.stashMask)
			}
		})
	}
}

// onlyCache returns the cache of the calling goroutine's P, in a child
// process of one P (GOMAXPROCS=1), where every call uses that cache.
func onlyCache(t *testing.T) *pcache {
	t.Helper()
	pid := procPin()
	c := cacheFor(pid)
	procUnpin()
	if c == nil {
		t.Fatal("no cache for P 0")
	}
	return c
}
