package alloc

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/tune"
)

// TestCacheGrow follows bench-malloc-simple's 400 blocks of 1 KiB
// (mallocs, then the frees in order) on one P (grow.go): at tcache_count
// 64 the class gives a stash back and refills every 32 blocks, so it
// grows, doubling until 512 KiB of chunks (504 of 1,040 bytes), after
// which a round makes no exchange with the arena at all. The grow hook
// then takes the class back to tcache_count with its stash;
// tcache_grow=0 never grows, and a smaller tcache_grow bounds the growth.
func TestCacheGrow(t *testing.T) {
	if runInChild(t, "OFFHEAP=profile_rate=0", "GOMAXPROCS=1") {
		return
	}
	if runtime.GOMAXPROCS(0) != 1 {
		t.Fatal("the child needs GOMAXPROCS=1")
	}
	const cl = nSmall - 1 // 1,040-byte chunks
	size := int(classChunk[cl]) - 16
	cache := func() *pcache { return onlyCache(t) }
	var ps [400]unsafe.Pointer
	round := func() {
		for i := range ps {
			ps[i] = Malloc(size)
		}
		for _, p := range ps {
			Free(p)
		}
	}
	grownLimit := uint32(grownClassBytes / classChunk[cl])

	Free(Malloc(size))
	FlushCaches()
	c := cache()
	if c.grownMask != 0 || c.bins[cl].limit != 32 || c.stashMask&(1<<cl) == 0 {
		t.Fatalf("fresh cache: grown %#x, limit %d, stash %v; want nothing grown, 32 and a stash", c.grownMask, c.bins[cl].limit, c.stashMask&(1<<cl) != 0)
	}
	for range 8 {
		round()
	}
	c = cache()
	if c.bins[cl].limit != grownLimit || c.stashMask&(1<<cl) != 0 || c.grownMask != 1<<cl {
		t.Fatalf("after 8 rounds: limit %d, stash %v, grown %#x; want %d, no stash, class %d alone grown",
			c.bins[cl].limit, c.stashMask&(1<<cl) != 0, c.grownMask, grownLimit, cl)
	}
	if want := uintptr(grownLimit-64) * classChunk[cl]; c.grownBytes != want {
		t.Fatalf("grown bytes %d, want %d", c.grownBytes, want)
	}
	tick := c.slowTick
	round()
	if c.slowTick != tick || c.bins[cl].count < uint32(len(ps)) {
		t.Fatalf("a round of a grown class: %d exchanges with the arena, %d chunks cached; want none and %d at least", c.slowTick-tick, c.bins[cl].count, len(ps))
	}
	mustCheckHeap(t, "with a grown class") // flushes the caches
	Free(Malloc(size))
	if c = cache(); c.grownMask != 0 || c.bins[cl].limit != 32 {
		t.Fatalf("after a flush: grown %#x, limit %d; want a fresh cache", c.grownMask, c.bins[cl].limit)
	}

	// The grow hook gives the class's chunks back and shrinks it (not
	// under the race detector, where it leaves the caches alone).
	for range 8 {
		round()
	}
	c = cache()
	if c.grownMask == 0 {
		t.Fatal("the class did not grow again")
	}
	a := c.arena.Load()
	a.Lock()
	gave := giveBackBeforeGrow(a)
	a.Unlock()
	if raceEnabled {
		FlushCaches()
	} else if !gave || c.grownMask != 0 || c.bins[cl].count != 0 || c.bins[cl].limit != 32 || c.stashMask&(1<<cl) == 0 || c.grownBytes != 0 {
		t.Fatalf("after the grow hook: gave %v, grown %#x, %d chunks, limit %d, stash %v, grown bytes %d; want the class back at 32 with a stash",
			gave, c.grownMask, c.bins[cl].count, c.bins[cl].limit, c.stashMask&(1<<cl) != 0, c.grownBytes)
	}
	mustCheckHeap(t, "after the grow hook")

	// tcache_grow bounds the growth; 0 turns it off.
	for _, budget := range []int{100 << 10, 0} {
		if err := Mallopt(tune.TcacheGrow, budget); err != nil {
			t.Fatal(err)
		}
		for range 8 {
			round()
		}
		c = cache()
		if c.grownBytes > uintptr(budget) {
			t.Errorf("tcache_grow=%d: grew %d bytes", budget, c.grownBytes)
		}
		max := uint32(64)
		if budget > 0 {
			max = 2 * (64 + uint32(budget)/uint32(classChunk[cl])) // a list's limit is half the class's with a stash
		}
		if lim := c.bins[cl].limit; (budget == 0) != (c.grownMask == 0) || lim > max {
			t.Errorf("tcache_grow=%d: limit %d, grown %#x", budget, lim, c.grownMask)
		}
		t.Logf("tcache_grow=%d: limit %d, grown bytes %d", budget, c.bins[cl].limit, c.grownBytes)
	}
	mustCheckHeap(t, "at the end")
}
