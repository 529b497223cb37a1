package alloc

import "github.com/offheap/offheap/arena"

// Grown limits. A class whose chunks go back to the arenas and come
// straight back pays for every exchange: bench-malloc-simple's 400 blocks
// of 1 KiB, allocated and then freed in order, gave a stash of 32 back to
// the arena's lists every 32 frees and took one back every 32 mallocs
// (the lists, a cold batch, a mispredicted branch or two). So a class of
// the process heap's caches that exchanges that way grows: when a refill
// follows the class's own give-back with no other exchange of its P in
// between, the class's limit doubles (it gives up its stash, whose halves
// would no longer leave as one batch), up to grownClassBytes of chunks,
// while what the P's classes grew stays within tcache_grow (2 MiB by
// default; 0 keeps tcache_count, as glibc does). In bench-malloc-simple of
// 1 KiB blocks with n = 400, offheap's own code went from 133.9 to 96.0
// instructions a pair, and in alloc-test from 115.6 to 109.8 an operation
// (callgrind; README.md has the times). A grown class holds only chunks the program freed and, the
// last time, asked for again at once; a fresh cache (a flush, the idle
// flusher) starts at tcache_count again, and so does a grown class once
// the grow hook (growhook.go) has given its chunks back before an arena
// grows. Exact classes only: a mid-size class refills one chunk at a
// time, and holds 128 KiB already (midBytes).

const (
	// grownClassBytes bounds the chunks one grown class may hold: 400
	// blocks of 1 KiB fit.
	grownClassBytes = 512 << 10
)

// noteGiveBack records that exact class cl of c gives chunks back to the
// arenas. The caller is pinned to c's P.
func (c *pcache) noteGiveBack(cl int) {
	c.slowTick++
	c.gaveBack[cl%nSmall] = c.slowTick // 0 only once the count wraps: no growth then
}

// growOnThrash is refill's, for exact class cl of this P's cache, which is
// empty: it counts the exchange, and grows the class if its give-back was
// the P's last exchange.
func growOnThrash(cl int) {
	c := pinCache()
	if c == nil {
		return
	}
	c.grow(cl%nSmall, cacheGrow.Load())
	c.release()
}

// grow is growOnThrash's work on c, with budget the most growth may add
// to c's classes (tcache_grow). The caller is pinned to c's P.
func (c *pcache) grow(cl int, budget uintptr) {
	c.slowTick++
	if g := c.gaveBack[cl]; g == 0 || c.slowTick-g != 1 {
		return // no give-back, or another exchange since
	}
	c.gaveBack[cl] = 0
	b := &c.bins[cl]
	total := b.limit // what the class holds at most: its list and its stash
	stash := c.stashMask&(1<<cl) != 0
	if stash {
		if b.count != 0 || c.stash[cl].count != 0 {
			return
		}
		total *= 2
	}
	nb := classChunk[cl]
	grown := min(2*total, uint32(min(grownClassBytes, budget)/nb))
	if grown <= total {
		return
	}
	add := uintptr(grown-total) * nb
	if c.grownBytes+add > budget {
		return
	}
	c.grownBytes += add
	c.grownMask |= 1 << cl
	if stash {
		c.stashMask &^= 1 << cl
		c.stashMixed &^= 1 << cl
	}
	b.limit = grown
}

// takeGrown takes the chunks of arena a out of the calling P's grown
// classes into out, as many as fit, from exact class *from on, and returns
// how many it took, leaving *from at the class to go on from; a grown
// class left empty goes back to tcache_count (and its stash). A class
// whose links do not check out is left as it is, for the pop that takes
// it to report.
func takeGrown(a *arena.Arena, out []uintptr, from *int) int {
	n := 0
	pid := procPin()
	if c := cacheFor(pid); c != nil && c.grownMask != 0 {
		l := cacheLimits.Load()
		for ; *from < nSmall; *from++ {
			cl := *from
			if c.grownMask&(1<<cl) == 0 {
				continue
			}
			b := &c.bins[cl]
			if b.head != 0 {
				if !b.sound() {
					continue
				}
				n += b.takeArena(a, out[n:])
			}
			if b.head == 0 {
				c.shrink(cl, l[cl])
			}
			if n == len(out) {
				break // this class again next time
			}
		}
	}
	procUnpin()
	return n
}

// shrink puts grown class cl of c, which is empty, back to limit lim
// (tcache_count's), with its stash as refreshLimits gives it one. The
// caller is pinned to c's P.
func (c *pcache) shrink(cl int, lim uint32) {
	b := &c.bins[cl]
	if b.limit > lim {
		c.grownBytes -= min(c.grownBytes, uintptr(b.limit-lim)*classChunk[cl])
	}
	c.grownMask &^= 1 << cl
	if lim >= 2 && lim <= 2*maxBatch {
		lim /= 2
		c.stashMask |= 1 << cl
		c.listGen[cl] = c.gen.Load()
		c.mixed &^= 1 << cl
	}
	b.limit = lim
}
