package arena

import (
	"math/bits"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Arena is one ptmalloc arena: bins, fastbins, a top chunk, and the regions
// its chunks live in. Each has its own lock; a chunk always goes back to the
// arena it came from.
type Arena struct {
	mu    sync.Mutex
	h     *Heap
	index int

	binPage   uintptr // outside the Go heap: the fd/bk words of the 128 bin heads (binStore, or a mapped page)
	binStatic bool    // binPage is a slot of binStore
	binmap    [binmapWords]uint32
	fastbins  [nFastbins]uintptr
	haveFast  bool

	top           uintptr
	lastRemainder uintptr
	// freshFrom: in the current region, memory at or above this address
	// has never been written since it came from the OS (it reads zero).
	// carved and carvedFresh remember the last chunk cut from the top and
	// the mark before the cut, so Calloc clears only what was written.
	freshFrom, carved, carvedFresh uintptr

	regions []region // regions[len-1] holds the top
	// regionStore holds the first regions, so that an arena's first
	// growth makes no allocation of the Go heap (firstArena).
	regionStore [2]region

	system    uintptr // bytes of all regions obtained from the OS
	maxSystem uintptr
	stats     arenaCounters
	decay     arenaDecay // what decay keeps, and the lock of region-end system calls (decay.go)
}

// region is a contiguous stretch of chunks: the break, or one heap.
type region struct {
	base  uintptr // the break's base, or the heap's reservation start
	start uintptr // first chunk
	isBrk bool
}

// arenaCounters are monotonic counts kept under the arena lock.
type arenaCounters struct {
	mallocs, frees uint64
}

// ArenaIndexOf returns the index of the arena whose break region or heap
// holds chunk c, or -1: Lookup without the mapped set, for chunks known
// to lie in a heap (a front cache's).
func (h *Heap) ArenaIndexOf(c uintptr) int {
	if b, e := h.brkBase.Load(), h.brkEnd.Load(); c-b < e-b {
		return 0
	}
	if g := c >> granuleShift; g < granules {
		if v := granuleTable[g]; v>>arenaBits == h.id {
			return int(v&(1<<arenaBits-1)) - 1
		}
	}
	return -1
}

// Index returns the arena's index in its Heap.
func (a *Arena) Index() int { return a.index }

// lockSpin bounds how long Lock retries a busy arena before it sleeps on
// the mutex.
const lockSpin = 50 * time.Microsecond

// Lock locks the arena. A busy arena is retried, yielding the processor
// between tries, for up to lockSpin before the goroutine sleeps on the
// mutex. The critical sections are short (a refill, a flush of a cache
// class, a free), while a goroutine that sleeps on a sync.Mutex is woken
// onto the unlocker's P and can wait there for milliseconds while the
// unlocker keeps running: with two goroutines freeing each other's blocks
// (rptest), parking made each stall for 2-8 ms at a time, and the blocks
// handed to the stalled one piled up (hundreds of MiB). Retrying removed
// the stalls.
func (a *Arena) Lock() {
	if a.mu.TryLock() {
		return
	}
	a.lockSlow()
}

func (a *Arena) lockSlow() {
	start := time.Now()
	for {
		runtime.Gosched()
		if a.mu.TryLock() {
			return
		}
		if time.Since(start) > lockSpin {
			a.mu.Lock()
			return
		}
	}
}

// TryLock tries to lock the arena without waiting.
func (a *Arena) TryLock() bool { return a.mu.TryLock() }

// Unlock unlocks the arena.
func (a *Arena) Unlock() { a.mu.Unlock() }

// fastLimit is the largest chunk size the fastbins take (glibc's
// global_max_fast: (M_MXFAST + 8) &^ 15, nothing when 0).
func (a *Arena) fastLimit() uintptr {
	m := a.h.mxFast.Load()
	if m == 0 {
		return 0
	}
	return (m + sizeSz) &^ alignMask
}

// Malloc returns a user pointer to at least n bytes, or 0.
func (a *Arena) Malloc(n uintptr) uintptr {
	if n > MaxRequest {
		return 0
	}
	c := a.lockedMalloc(Request2Size(n))
	if c == 0 {
		return 0
	}
	a.h.perturbAlloc(c)
	return Mem(c)
}

func (a *Arena) lockedMalloc(nb uintptr) uintptr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mallocLocked(nb)
}

// Calloc returns a user pointer to a block of n bytes, zero, or 0 (CallocIn
// with size n).
func (a *Arena) Calloc(n uintptr) uintptr { return a.CallocIn(n, n) }

// CallocIn returns a user pointer to a block for a request of size bytes
// whose first n bytes (n <= size) are zero, or 0. Memory fresh from the
// operating system is not cleared again, and the block's bytes after the
// first n are left as they are: a front cache asks for its class's size
// and clears only what its caller asked for.
func (a *Arena) CallocIn(size, n uintptr) uintptr {
	if size > MaxRequest || n > size {
		return 0
	}
	c, clearTo := a.callocLocked(Request2Size(size))
	if c == 0 {
		return 0
	}
	clearTo = min(clearTo, Mem(c)+n)
	if clearTo > Mem(c) {
		clearMem(Mem(c), clearTo-Mem(c))
	}
	return Mem(c)
}

// callocLocked allocates nb and says up to where the chunk must be cleared.
func (a *Arena) callocLocked(nb uintptr) (c, clearTo uintptr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.carved = 0
	a.decay.reused = 0
	c = a.mallocLocked(nb)
	if c != 0 && c == a.decay.reused {
		return c, c + chunkSize(c) // a kept mapping, reused (decay.go): it holds old data
	}
	if c == 0 || isMmapped(c) {
		return c, 0 // a fresh mapping reads zero
	}
	clearTo = c + chunkSize(c) + sizeSz // the last word overlaps the next prev_size
	if c == a.carved && a.carvedFresh < clearTo {
		clearTo = a.carvedFresh // carved from the top: the rest is fresh
	}
	return c, clearTo
}

// MallocChunkLocked is mallocLocked for front caches that refill several
// chunks under one lock: it returns a chunk address for the chunk size nb
// (from Request2Size), or 0. The caller holds the lock.
func (a *Arena) MallocChunkLocked(nb uintptr) uintptr { return a.mallocLocked(nb) }

// FreeChunkLocked frees chunk c of this arena with the lock held, as
// front caches do when they flush.
func (a *Arena) FreeChunkLocked(c uintptr) { a.freeLocked(c, true) }

// UnrefillLocked gives back chunk c, which a refill took (MallocBatchLocked)
// and could not use, as FreeChunkLocked does but without the trim a free
// may set off: the program freed nothing, and the chunk is most often the
// last carved off the top, so a trim here would give back pages the arena
// is about to hand out again (a private heap reused from the heap_cache,
// all of whose committed pages are top, lost them to the first refill that
// met a full cache). The lock must be held.
func (a *Arena) UnrefillLocked(c uintptr) { a.freeLocked(c, false) }

func clearMem(p, n uintptr) {
	clear(unsafe.Slice((*byte)(unsafe.Add(nil, p)), n))
}

// fillMem sets n bytes at p to b, doubling the filled prefix with copy
// (memmove) rather than storing byte by byte.
func fillMem(p, n uintptr, b byte) {
	if n == 0 {
		return
	}
	s := unsafe.Slice((*byte)(unsafe.Add(nil, p)), n)
	s[0] = b
	for i := 1; i < len(s); i *= 2 {
		copy(s[i:], s[:i])
	}
}

// usable is the caller-visible size of chunk c.
func usable(c uintptr) uintptr {
	if isMmapped(c) {
		return chunkSize(c) - hdrSz
	}
	return chunkSize(c) - overhead
}

// UsableSize is malloc_usable_size for chunk c.
func UsableSize(c uintptr) uintptr { return usable(c) }

func (h *Heap) perturbAlloc(c uintptr) {
	if b := h.perturb.Load(); b != 0 {
		fillMem(Mem(c), usable(c), ^byte(b))
	}
}

// perturbFree fills a freed chunk's user memory with the perturb byte,
// except its first two words: they are about to hold the free-list links,
// and a front cache's chunk keeps its mark there (package alloc claims a
// chunk by its second word; wiping it would let a second free of the same
// chunk claim it too).
func (h *Heap) perturbFree(c uintptr) {
	if b := h.perturb.Load(); b != 0 {
		fillMem(Mem(c)+2*sizeSz, chunkSize(c)-hdrSz-2*sizeSz, byte(b))
	}
}

// PerturbAlloc and PerturbFree apply M_PERTURB for front caches.
func (h *Heap) PerturbAlloc(c uintptr) { h.perturbAlloc(c) }

// PerturbFree fills a freed chunk with the perturb byte, if one is set,
// leaving its first two words alone (see perturbFree).
func (h *Heap) PerturbFree(c uintptr) { h.perturbFree(c) }

// mallocLocked is glibc's _int_malloc: nb is a chunk size.
func (a *Arena) mallocLocked(nb uintptr) uintptr { return a.mallocFor(nb, true) }

// mallocFor is mallocLocked; consolidate says whether a large request
// first empties the fastbins into the bins, as glibc's does. A refill's
// batch (MallocBatchLocked) is a large request only because it is many
// small chunks at once: it leaves the fastbins alone unless the top cannot
// serve it.
func (a *Arena) mallocFor(nb uintptr, consolidate bool) uintptr {
	a.stats.mallocs++
	if nb <= a.fastLimit() {
		idx := fastIndex(nb)
		if v := a.fastbins[idx]; v != 0 {
			if v&alignMask != 0 {
				a.corrupt("malloc(): unaligned fastbin chunk detected 2", v)
			}
			if !a.h.validHead(v) || chunkSize(v) != nb {
				a.corrupt("malloc(): memory corruption (fast)", v)
			}
			a.fastbins[idx] = protect(v+16, word(v+16))
			SetCached(v, false)
			return v
		}
	}
	var idx int
	if inSmallRange(nb) {
		idx = smallIndex(nb)
		bin := a.binAt(idx)
		if victim := bk(bin); victim != bin {
			bck := bk(victim)
			if fd(bck) != victim {
				a.corrupt("malloc(): smallbin double linked list corrupted", victim)
			}
			handOut(victim)
			setBk(bin, bck)
			setFd(bck, bin)
			return victim
		}
	} else {
		idx = largeIndex(nb)
		if a.haveFast && consolidate {
			a.consolidate()
		}
	}
	hooked := false
	for {
		if c := a.sortUnsorted(nb); c != 0 {
			return c
		}
		if !inSmallRange(nb) {
			if c := a.fromLargeBin(idx, nb); c != 0 {
				return c
			}
		}
		if c := a.fromBinmap(idx+1, nb); c != 0 {
			return c
		}
		if a.top == 0 {
			return a.sysmalloc(nb) // the main arena before its first growth
		}
		// use the top
		victim := a.top
		size := chunkSize(victim)
		if size > a.system || !a.h.validHead(victim) {
			a.corrupt("malloc(): corrupted top size", victim)
		}
		if size >= nb+MinSize {
			return a.carveTop(nb)
		}
		if a.haveFast {
			a.consolidate()
			continue
		}
		if !hooked && !a.h.mapsFirst(nb) {
			// Before the arena grows: chunks held for reuse elsewhere
			// (the front caches' lists) come back first (SetGrowHook).
			hooked = true
			if f := a.h.growHook.Load(); f != nil && (*f)(a) {
				continue
			}
		}
		return a.sysmalloc(nb)
	}
}

// mapsFirst reports whether sysmalloc maps a request of nb bytes before
// it tries to grow the top.
func (h *Heap) mapsFirst(nb uintptr) bool {
	return nb >= h.mmapThreshold.Load() && h.mapped.live.Load() < h.mmapMax.Load()
}

// SetGrowHook sets f to run, with the arena's lock held, before an arena
// grows its top to serve a request (not before it maps one, see
// sysmalloc): f may give chunks back to the arena (UnrefillLocked) and
// returns whether it did, and the arena then searches its bins again
// first. It runs at most once per request. nil removes it.
func (h *Heap) SetGrowHook(f func(a *Arena) bool) {
	if f == nil {
		h.growHook.Store(nil)
		return
	}
	h.growHook.Store(&f)
}

// carveTop splits nb bytes off the front of the top chunk, which must hold
// at least nb + MinSize.
func (a *Arena) carveTop(nb uintptr) uintptr {
	victim := a.top
	size := chunkSize(victim)
	rem := victim + nb
	a.h.setHead(victim, nb, flagP)
	a.setTop(rem, size-nb)
	a.carved, a.carvedFresh = victim, a.freshFrom
	if rem+hdrSz > a.freshFrom {
		a.freshFrom = rem + hdrSz
	}
	return victim
}

// setTop makes p, of size bytes, the arena's top chunk: P set (the chunk
// before the top is never free), T set.
func (a *Arena) setTop(p, size uintptr) {
	a.top = p
	a.h.setHead(p, size, flagP|flagT)
	if size < a.decay.topMin {
		a.decay.topMin = size // the low-water mark decay releases by (decay.go)
	}
}

// NextIsTop reports whether the chunk after chunk c (of size bytes) is its
// arena's top. Front caches call it without the arena lock to leave chunks
// that border the top to the arena, so the top can grow and be trimmed; a
// stale answer is harmless either way.
func NextIsTop(c, size uintptr) bool { return word(c+size+sizeSz)&flagT != 0 }

// MayBorderTop reports whether the chunk after a chunk of size bytes, room
// bytes before the end of its region (FastRegion), can be its arena's top,
// without reading it: the top ends its region, and with glibc's policy
// it is trimmed to top_pad whenever a free of 64 KiB or more (merged)
// finds it over the trim threshold, so a chunk further from the end than
// that cannot border it. Front caches ask it first and read the next
// header (NextIsTop, a second cache line, most often a miss) only when it
// says yes. With decay, or a huge trim threshold, it always says yes; a
// wrong answer is as harmless as a stale NextIsTop.
//
// The bound, max(trim threshold, fastConsolid) + top_pad + max(huge page,
// page), or all ones with decay, is kept in borderReach (setBorderReach).
func (h *Heap) MayBorderTop(room, size uintptr) bool {
	return room-size <= h.borderReach.Load()
}

// sortUnsorted takes chunks off the unsorted list, returning one of exactly
// nb bytes (or a split of the last remainder for a small request), and
// sorting the others into their bins.
func (a *Arena) sortUnsorted(nb uintptr) uintptr {
	h := a.h
	ub := a.binAt(unsortedBin)
	for iters := 0; iters < maxUnsorted; iters++ {
		victim := bk(ub)
		if victim == ub {
			return 0
		}
		bck := bk(victim)
		size := chunkSize(victim)
		next := victim + size
		if size < MinSize || size > a.system || !h.validHead(victim) {
			a.corrupt("malloc(): invalid size (unsorted)", victim)
		}
		if chunkSize(next) < fenceSz || chunkSize(next) > a.system || !h.validHead(next) {
			a.corrupt("malloc(): invalid next size (unsorted)", victim)
		}
		if prevSize(next) != size {
			a.corrupt("malloc(): mismatching next->prev_size (unsorted)", victim)
		}
		if fd(bck) != victim || fd(victim) != ub {
			a.corrupt("malloc(): unsorted double linked list corrupted", victim)
		}
		if prevInuse(next) {
			a.corrupt("malloc(): invalid next->prev_inuse (unsorted)", victim)
		}
		if inSmallRange(nb) && bck == ub && victim == a.lastRemainder && size > nb+MinSize {
			rem := victim + nb
			rsize := size - nb
			setBk(ub, rem)
			setFd(ub, rem)
			a.lastRemainder = rem
			setFd(rem, ub)
			setBk(rem, ub)
			if !inSmallRange(rsize) {
				setFdNextsize(rem, 0)
				setBkNextsize(rem, 0)
			}
			h.setHead(victim, nb, flagP)
			h.setHead(rem, rsize, flagP|flagA)
			setFoot(rem, rsize)
			return victim
		}
		setBk(ub, bck)
		setFd(bck, ub)
		if size == nb {
			handOut(victim)
			return victim
		}
		a.placeInBin(victim)
	}
	return 0
}

// fromLargeBin serves large request nb from its own bin, best fit.
func (a *Arena) fromLargeBin(idx int, nb uintptr) uintptr {
	bin := a.binAt(idx)
	victim := fd(bin)
	if victim == bin || chunkSize(victim) < nb {
		return 0
	}
	victim = sizeLeaderAtLeast(victim, nb)
	// Avoid removing the first chunk of a size, so the nextsize list
	// need not be rerouted.
	if victim != bk(bin) && chunkSize(victim) == chunkSize(fd(victim)) {
		victim = fd(victim)
	}
	return a.takeAndSplit(victim, nb, false)
}

// fromBinmap serves nb from the smallest non-empty bin at or above idx.
func (a *Arena) fromBinmap(idx int, nb uintptr) uintptr {
	for idx < nBins {
		block := idx >> 5
		m := a.binmap[block] &^ (1<<(uint(idx)&31) - 1)
		if m == 0 {
			idx = (block + 1) << 5
			continue
		}
		i := block<<5 + bits.TrailingZeros32(m)
		bin := a.binAt(i)
		victim := bk(bin)
		if victim == bin {
			a.unmarkBin(i) // a false alarm: the bin emptied since
			idx = i + 1
			continue
		}
		return a.takeAndSplit(victim, nb, inSmallRange(nb))
	}
	return 0
}

// takeAndSplit unlinks free chunk victim (at least nb bytes), returns its
// first nb bytes as an in-use chunk and puts the rest on the unsorted list.
func (a *Arena) takeAndSplit(victim, nb uintptr, remember bool) uintptr {
	size := chunkSize(victim)
	a.unlink(victim)
	rsize := size - nb
	if rsize < MinSize {
		handOut(victim)
		return victim
	}
	rem := victim + nb
	a.h.setHead(victim, nb, flagP)
	a.h.setHead(rem, rsize, flagP)
	setFoot(rem, rsize)
	a.insertUnsorted(rem)
	if remember {
		a.lastRemainder = rem
	}
	return victim
}

// freeLocked is glibc's _int_free for a heap chunk of this arena.
func (a *Arena) freeLocked(p uintptr, trim bool) {
	h := a.h
	a.stats.frees++
	size := chunkSize(p)
	if size < MinSize || size > a.system {
		a.corrupt("free(): invalid size", p)
	}
	if isCached(p) {
		a.corrupt("free(): double free detected", p)
	}
	setWord(p+sizeSz, word(p+sizeSz)&^flagS) // no longer a sampled block
	if p == a.top {
		a.corrupt("double free or corruption (top)", p)
	}
	next := p + size
	if next+hdrSz > a.regionEnd(p) {
		// A stale chunk inside the top, or a size pointing past the region.
		a.corrupt("double free or corruption (out)", p)
	}
	if size <= a.fastLimit() {
		if !h.validHead(next) || chunkSize(next) < fenceSz || chunkSize(next) > a.system {
			a.corrupt("free(): invalid next size (fast)", p)
		}
		if !prevInuse(next) {
			// Free in a bin already (fastbin chunks keep the P bit).
			a.corrupt("double free or corruption (!prev)", p)
		}
		h.perturbFree(p)
		idx := fastIndex(size)
		old := a.fastbins[idx]
		if old == p {
			a.corrupt("double free or corruption (fasttop)", p)
		}
		setWord(p+16, protect(p+16, old))
		SetCached(p, true)
		a.fastbins[idx] = p
		a.haveFast = true
		return
	}
	if !h.validHead(next) {
		a.corrupt("free(): invalid next size (normal)", p)
	}
	if !prevInuse(next) {
		a.corrupt("double free or corruption (!prev)", p)
	}
	nextsize := chunkSize(next)
	if nextsize < fenceSz || nextsize > a.system {
		a.corrupt("free(): invalid next size (normal)", p)
	}
	h.perturbFree(p)
	size = a.coalesce(p, size)
	if size >= fastConsolid {
		if a.haveFast {
			a.consolidate()
		}
		if trim {
			a.autoTrim()
		}
	}
}

// coalesce merges free chunk p (size bytes, not on any list) with its free
// neighbours and puts the result on the unsorted list or into the top. It
// returns the merged size.
func (a *Arena) coalesce(p, size uintptr) uintptr {
	h := a.h
	next := p + size
	nextsize := chunkSize(next)
	if !prevInuse(p) {
		ps := prevSize(p)
		prev := p - ps
		if ps < MinSize || ps > a.system || chunkSize(prev) != ps {
			a.corrupt("corrupted size vs. prev_size while consolidating", p)
		}
		a.unlink(prev)
		h.kill(p)
		p = prev
		size += ps
	}
	if next != a.top {
		nextInuse := nextsize == fenceSz || prevInuse(next+nextsize)
		if !nextInuse {
			a.unlink(next)
			h.kill(next)
			size += nextsize
		} else {
			clearPrevInuse(next)
		}
		h.setHead(p, size, flagP)
		setFoot(p, size)
		a.insertUnsorted(p)
	} else {
		size += nextsize
		h.kill(next)
		a.setTop(p, size)
	}
	return size
}

// consolidate is malloc_consolidate: empty the fastbins, coalescing each
// chunk with its free neighbours.
func (a *Arena) consolidate() {
	a.haveFast = false
	for i := range a.fastbins {
		p := a.fastbins[i]
		a.fastbins[i] = 0
		for p != 0 {
			if p&alignMask != 0 {
				a.corrupt("malloc_consolidate(): unaligned fastbin chunk detected", p)
			}
			if !a.h.validHead(p) || fastIndex(chunkSize(p)) != i {
				a.corrupt("malloc_consolidate(): invalid chunk size", p)
			}
			next := protect(p+16, word(p+16))
			SetCached(p, false)
			a.coalesce(p, chunkSize(p))
			p = next
		}
	}
}

// regionEnd returns the end of the region that holds chunk p.
func (a *Arena) regionEnd(p uintptr) uintptr {
	if base := a.h.brkBase.Load(); a.index == 0 && base != 0 && p >= base && p < a.h.brkEnd.Load() {
		return a.h.brkEnd.Load()
	}
	return heapEnd(p &^ (HeapSize - 1))
}

// MallocBatchLocked fills out with chunks of exactly nb bytes (a chunk
// size from Request2Size) for a front cache's refill, and returns how many
// it found (the last may be up to MinSize-16 bytes larger than nb, when the
// rest of its free chunk was too small to split off). Chunks of the size
// waiting in its fastbin or small bin come first; the rest is carved from
// one free chunk of that many times nb, found as any request of that size
// is (unsorted list, bins, binmap, top): one search per refill instead of
// one per chunk, and chunks that lie side by side, so that the blocks a P
// hands out in a row share pages and cache lines. A mapped chunk is never
// split: when the batch would be mapped, the chunks come one at a time.
// The caller holds the lock.
func (a *Arena) MallocBatchLocked(nb uintptr, out []uintptr) int {
	n := 0
	for n < len(out) && a.exactWaiting(nb) {
		c := a.mallocLocked(nb)
		if c == 0 {
			return n
		}
		out[n] = c
		n++
	}
	k := uintptr(len(out) - n)
	if k == 0 {
		return n
	}
	var c uintptr
	if k > 1 && k*nb < a.h.mmapThreshold.Load() {
		c = a.mallocFor(k*nb, false)
		if c != 0 && isMmapped(c) {
			// The heap could not grow and sysmalloc mapped the batch:
			// give it back and go one chunk at a time.
			a.h.unmapChunk(c)
			c = 0
		}
	}
	if c == 0 {
		for n < len(out) {
			c := a.mallocLocked(nb)
			if c == 0 || isMmapped(c) {
				if c != 0 {
					if n == 0 {
						out[0] = c // the caller hands it out, never caches it
						return 1
					}
					a.h.unmapChunk(c)
				}
				return n
			}
			out[n] = c
			n++
		}
		return n
	}
	size := chunkSize(c)
	a.stats.mallocs += uint64(k - 1)
	h := a.h
	// Ask for the batch's header lines before writing them, and for the
	// lines the next batch from the top would write: the prefetches miss
	// in parallel, where the stores alone miss one after another (and the
	// arena lock's release waits for them all). A private heap's job
	// writing 100,000 blocks into pages it has (heap-destroy): 80 ns a
	// block without, 37 with the batch's own lines, 23 with both, and
	// 5-20% less again with the line of each chunk's first user bytes
	// (a quarter of the chunks start 48 bytes into a line).
	prefetch(c+nb, nb, k-1)
	if t := a.top; t == c+size {
		prefetch(t, nb, min(k, chunkSize(t)/nb))
	}
	h.setHeadSize(c, nb) // keeps c's P bit: the chunk before it decides
	out[n] = c
	n++
	for i := uintptr(1); i < k; i++ {
		ci := c + i*nb
		s := nb
		if i == k-1 {
			s = size - (k-1)*nb
		}
		h.setHead(ci, s, flagP)
		out[n] = ci
		n++
	}
	return n
}

// exactWaiting reports whether a chunk of exactly nb bytes waits in nb's
// fastbin or small bin.
func (a *Arena) exactWaiting(nb uintptr) bool {
	if nb <= a.fastLimit() && a.fastbins[fastIndex(nb)] != 0 {
		return true
	}
	if inSmallRange(nb) {
		bin := a.binAt(smallIndex(nb))
		return bk(bin) != bin
	}
	return false
}
