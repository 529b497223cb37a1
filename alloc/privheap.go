package alloc

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/tune"
)

// Private heaps: a Heap of its own (NewHeap), whose blocks all go at once
// (Destroy), as mimalloc's mi_heap_new/mi_heap_destroy, jemalloc's
// arenas.create/arena.<i>.destroy, or APR's pools.
//
// A Heap is an arena.Heap of its own, without the program break (its
// arenas live on heaps, 64 MiB reservations committed as they grow), with
// per-P caches of its own in front, used as the process heap's are: a
// goroutine working in its heap pins nothing, locks nothing and makes no
// atomic read-modify-write on the fast path (fast.go's argument holds for
// the Heap's fast paths too). The arena lists, the idle flusher and the
// debug mode are the process heap's only: a private heap's overflowing
// cache class goes straight back to its arena, a private heap's caches are
// given back when it is destroyed, and its blocks carry no canaries.
//
// The owner of a pointer is found from its address (arena.OwnerID reads
// the process-wide granule table; privMapped holds the private heaps'
// mapped chunks), so that alloc.Free, alloc.Realloc and alloc.UsableSize
// take a pointer of any heap. Destroy gives everything back in time
// proportional to the mappings (arena.Heap.Destroy), except up to
// heap_cache bytes of heaps that the next NewHeap reuses (heapPool).

// Heap is a private heap: blocks allocated with its methods come from
// memory of its own, and Destroy frees all of them at once. Its methods
// have the semantics of the package's functions (alignment, the mmap
// threshold and the trim parameters in force when it was created, nil on
// failure, glibc's panics on bad pointers). Free and Realloc of the package
// accept its blocks too; h.Free of another heap's block panics with
// "free(): invalid pointer".
//
// A Heap may be used by several goroutines at once. Each P has a cache of
// its own in the Heap (as in the process heap), so one goroutine working
// in its own heap pays what it pays in the process heap, and goroutines on
// other Ps do not slow it down; what differs is memory: a P that allocates
// in many heaps holds a cache's worth of chunks in each, until the heap is
// destroyed (the idle flusher looks at the process heap's caches only).
//
// Destroy must not run while another goroutine uses the Heap, and no block
// of the Heap may be used after it; using a destroyed Heap panics with a
// message that says so.
type Heap struct {
	ah      *arena.Heap
	id      uint32
	caches  []atomic.Pointer[pcache] // one per P (GOMAXPROCS when created)
	cacheMu sync.Mutex
	spare   *pcache // the arena chooser of Ps past len(caches)

	destroyed atomic.Bool
	created   time.Time
	// life is held for reading by whoever looks at the heap from outside
	// (forEachHeap: the statistics, Mallopt, Trim) and for writing by
	// Destroy, so that none of them reads an arena Destroy is giving back.
	life sync.RWMutex

	mu      sync.Mutex
	mapped  map[uintptr]struct{} // user pointers of its live mapped chunks
	sampled map[uintptr]struct{} // user pointers of its sampled blocks
}

var (
	// privHeaps holds the live private heaps by their arena.Heap's ID.
	privHeaps sync.Map
	// privMapped holds the mapped chunks of private heaps: user pointer
	// to *Heap.
	privMapped sync.Map
	// heapPool keeps the heaps of destroyed private heaps (heap_cache).
	heapPool *arena.HeapPool
	// poolGen changes whenever the pool changes hands; the decay timer
	// releases the pool only if it did not (configurePool).
	poolGen atomic.Uint64
)

// heapsCreated and heapsDestroyed count private heaps.
var heapsCreated, heapsDestroyed atomic.Uint64

// errDestroyed is the panic of a call on a destroyed Heap.
func errDestroyed(op string) string {
	return fmt.Sprintf("alloc: (*Heap).%s: the heap was destroyed", op)
}

// configurePool applies heap_cache (initMu held).
func configurePool(s *tune.Settings) {
	if heapPool == nil {
		heapPool = arena.NewHeapPool(osMemory{}, uintptr(s.Get(tune.HeapCache)))
		return
	}
	heapPool.SetMax(uintptr(s.Get(tune.HeapCache)))
}

// privParams returns the parameters a new private heap starts with: the
// process heap's, with the mmap and trim thresholds as set (not where the
// process heap's dynamic threshold has taken them).
func privParams() arena.Params {
	initMu.Lock()
	defer initMu.Unlock()
	return privParamsLocked()
}

// privParamsLocked is privParams with initMu held.
func privParamsLocked() arena.Params {
	p := heap.Params()
	if p.DynamicThreshold {
		p.MmapThreshold = uintptr(settings.Get(tune.MmapThreshold))
		p.TrimThreshold = uintptr(settings.Get(tune.TrimThreshold))
	}
	return p
}

// NewHeap returns a new private heap. Creating one reserves a heap (or
// takes one that a destroyed Heap left in the heap_cache) for its first
// arena; when the system refuses even that, the Heap's allocations return
// nil.
func NewHeap() *Heap {
	theHeap()
	ah, err := arena.New(arena.Config{Memory: osMemory{}, MaxArenas: maxArenaTable, Params: privParams(), Pool: heapPool})
	n := runtime.GOMAXPROCS(0)
	h := &Heap{ah: ah, caches: make([]atomic.Pointer[pcache], n), created: time.Now()}
	heapsCreated.Add(1)
	if err != nil {
		h.ah = nil
		return h
	}
	h.id = ah.ID()
	h.spare = newPcache(-1, 0)
	h.spare.setArena(ah.Arena(0))
	privHeaps.Store(h.id, h)
	if traceOn.Load() {
		traceHeap(recHeapNew, h.id)
	}
	return h
}

// ID returns the heap's number (the label its samples carry in heap
// profiles, and its name in the statistics and traces). Numbers are those
// of the heaps alive at once: a destroyed heap's goes to a later heap, as
// a closed file's descriptor does, so a profile's offheap_heap label names
// the heap that holds the number now (its in-use figures) and every heap
// that held it before (the allocation counts).
func (h *Heap) ID() uint32 { return h.id }

// privateOwner returns the live private heap that p belongs to, or nil.
func privateOwner(p uintptr) *Heap {
	if id := arena.OwnerID(p); id != 0 && (heap == nil || id != heap.ID()) {
		if v, ok := privHeaps.Load(id); ok {
			return v.(*Heap)
		}
		return nil
	}
	if v, ok := privMapped.Load(p); ok {
		return v.(*Heap)
	}
	return nil
}

// Malloc returns size bytes of the heap's memory, 16-byte aligned, as
// alloc.Malloc does, or nil.
//
// Its fast path repeats alloc.Malloc's (fast.go) over the heap's caches on
// purpose: the shared pop, as a function, costs 149 against the compiler's
// inlining budget of 80, and a call on this path is what the fast path is
// there to avoid. A change to one is a change to both (and to Free's).
//
//go:nosplit
//go:nocheckptr
func (h *Heap) Malloc(size int) unsafe.Pointer {
	if fastOff.Load()&mallocOff == 0 && fastPaths {
		pid := getPid()
		if uint(size) <= midLimit && uint(pid) < uint(len(h.caches)) {
			if c := h.caches[pid].Load(); c != nil {
				b := &c.bins[uint(requestClass(uintptr(size)))%nClassSlots]
				if ch := b.head; ch != 0 {
					next := arena.Protect(ch+16, *(*uintptr)(unsafe.Add(nil, ch+16)))
					k := keyWord(ch)
					left := c.sampleLeft - int64(size)
					if next&15 == 0 && *k == keyFor(ch) && left >= 0 {
						c.sampleLeft = left
						b.head = next
						b.count--
						*k = 0
						return unsafe.Add(nil, ch+16)
					}
				}
			}
		}
	}
	return h.mallocMiss(size)
}

// mallocMiss is Malloc when its fast path did not serve the request.
func (h *Heap) mallocMiss(size int) unsafe.Pointer {
	if h.destroyed.Load() {
		panic(errDestroyed("Malloc"))
	}
	if fastOff.Load()&fastPending != 0 {
		raisePending()
	}
	p := h.malloc(size)
	if traceOn.Load() {
		traceAllocIn(h.id, recMalloc, p, uint64(size), 0)
	}
	return unsafe.Add(nil, p)
}

// malloc allocates size bytes: from the cache, a refill, or the arena.
func (h *Heap) malloc(size int) uintptr {
	if h.ah == nil || size < 0 || uint64(size) > uint64(arena.MaxRequest) {
		return 0
	}
	n := uintptr(size)
	var p uintptr
	if n <= midLimit {
		cl := requestClass(n)
		if q, sample := cachePopIn(h.caches, cl, size); q != 0 {
			if perturbByte.Load() != 0 {
				h.ah.PerturbAlloc(q - 16)
			}
			if sample {
				h.record(q, size)
			}
			return q
		}
		if n <= cacheMax.Load() {
			p = h.refill(cl)
		}
	}
	if p == 0 {
		c := h.cache()
		p = mallocLocked(h.lockArena(c), arena.Request2Size(n))
		if p == 0 {
			return 0
		}
	}
	h.noteMapped(p)
	h.ah.PerturbAlloc(p - 16)
	clearKey(p - 16)
	h.sample(p, size)
	return p
}

// sample charges size bytes of the heap's block p to the calling P's
// profiling countdown and records p when it runs out (sampleAlloc).
func (h *Heap) sample(p uintptr, size int) {
	if p == 0 {
		return
	}
	if sampleDue(h.caches, size) {
		h.record(p, size)
	}
}

// record enters the heap's block p into the heap profile, labelled with the
// heap, and notes it, so that Destroy takes it out.
func (h *Heap) record(p uintptr, size int) {
	recordSampleIn(p, size, 2, h.id)
	h.mu.Lock()
	if h.sampled == nil {
		h.sampled = map[uintptr]struct{}{}
	}
	h.sampled[p] = struct{}{}
	h.mu.Unlock()
}

// forgetSampled notes that p, sampled, left the profile.
func (h *Heap) forgetSampled(p uintptr) {
	h.mu.Lock()
	delete(h.sampled, p)
	h.mu.Unlock()
}

// noteMapped registers p if it is a mapped chunk, so that alloc.Free
// finds its heap.
func (h *Heap) noteMapped(p uintptr) {
	if p == 0 || !arena.IsMmapped(p-16) {
		return
	}
	privMapped.Store(p, h)
	h.mu.Lock()
	if h.mapped == nil {
		h.mapped = map[uintptr]struct{}{}
	}
	h.mapped[p] = struct{}{}
	h.mu.Unlock()
}

// unnoteMapped is noteMapped undone, for a mapped chunk freed or moved.
func (h *Heap) unnoteMapped(p uintptr) {
	privMapped.Delete(p)
	h.mu.Lock()
	delete(h.mapped, p)
	h.mu.Unlock()
}

// cache returns the calling P's cache of the heap, creating it; a P past
// the caches the heap was made with gets the spare chooser. The caller is
// not pinned: only the cache's arena is used.
func (h *Heap) cache() *pcache {
	pid := procPin()
	c := cacheIn(h.caches, pid)
	procUnpin()
	if c != nil {
		return c
	}
	if uint(pid) >= uint(len(h.caches)) {
		return h.spare
	}
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	if c = h.caches[pid].Load(); c == nil {
		c = newPcache(-1, nextSampleGap())
		c.refreshLimits(false)
		c.setArena(h.ah.Arena(0))
		if !h.destroyed.Load() {
			h.caches[pid].Store(c)
		}
	}
	return c
}

// lockArena locks the arena of cache c; when another goroutine holds it,
// it takes one of the heap's arenas that is free, or a new one while fewer
// than M_ARENA_MAX exist, and keeps it for c; failing that it waits.
func (h *Heap) lockArena(c *pcache) *arena.Arena {
	a := c.arena.Load()
	if a.TryLock() {
		return a
	}
	for i := 0; i < h.ah.NumArenas(); i++ {
		if b := h.ah.Arena(i); b != a && b.TryLock() {
			c.setArena(b)
			return b
		}
	}
	if b, err := h.ah.NewArenaUpTo(int(arenaMax.Load())); err == nil {
		c.setArena(b)
		b.Lock()
		return b
	}
	a.Lock()
	return a
}

// refill fills class cl of the calling P's cache of the heap from its
// arena, as the process heap's refill does, and returns one chunk's user
// pointer, or 0.
func (h *Heap) refill(cl int) uintptr {
	c := h.cache()
	lim := cacheLimits.Load()[cl]
	if lim == 0 {
		return 0
	}
	// A whole class at a time: a private heap is most often filled and
	// dropped, not churned, so each refill may as well take all it can.
	k := min(max(int(lim), 1), refillBatch)
	if cl >= nSmall {
		k = 1
	}
	var got [refillBatch]uintptr
	m := takeChunks(h.lockArena(c), classChunk[cl], got[:k])
	if m == 0 {
		return 0
	}
	pushChunksIn(h.caches, h.ah, got[1:m], cl)
	return got[0] + 16
}

// Free frees a block of the heap, as alloc.Free does; a pointer of another
// heap (or of none) is misuse: "free(): invalid pointer".
//
//go:nosplit
//go:nocheckptr
func (h *Heap) Free(ptr unsafe.Pointer) {
	if fastOff.Load() == 0 && fastPaths && h.ah != nil {
		pid := getPid()
		ah := h.ah
		room, _ := ah.FastRegion(uintptr(ptr) - 16)
		if ch, size := ah.InUseHeader(uintptr(ptr), room); ch != 0 && uint(pid) < uint(len(h.caches)) {
			k := keyWord(ch)
			if key := keyFor(ch); *k != key {
				if cl := chunkClass(size); cl >= 0 {
					if c := h.caches[pid].Load(); c != nil {
						b := &c.bins[uint(cl)%nClassSlots]
						if b.count < b.limit && (cl < nSmall || b.count == 0 || !ah.MayBorderTop(room, size) || !arena.NextIsTop(ch, size)) {
							*k = key
							*(*uintptr)(unsafe.Add(nil, ch+16)) = arena.Protect(ch+16, b.head)
							b.head = ch
							b.count++
							return
						}
					}
				}
			}
		}
	}
	h.freeMiss(ptr)
}

// freeMiss is Free when its fast path did not take the block.
func (h *Heap) freeMiss(ptr unsafe.Pointer) {
	p := uintptr(ptr)
	if p == 0 {
		return
	}
	if h.destroyed.Load() {
		panic(errDestroyed("Free"))
	}
	if fastOff.Load()&fastPending != 0 {
		raisePending()
	}
	if traceOn.Load() {
		traceFreeIn(h.id, p)
	}
	if h.ah == nil {
		misuse("free(): invalid pointer", p)
		return
	}
	h.free(p)
}

// free frees p, a pointer of this heap or a bad one.
func (h *Heap) free(p uintptr) {
	ah := h.ah
	ch, size := ah.FrontFree(p)
	if ch != 0 {
		if !claim(ch, size) {
			misuse("free(): double free detected in tcache 2", p)
			return
		}
		if dropSample(p, ch) {
			h.forgetSampled(p)
		}
		if cl := chunkClass(size); cl >= 0 && h.cachePush(ch, cl, cl >= nSmall && arena.NextIsTop(ch, size)) {
			return
		}
		ah.PerturbFree(ch)
		ah.Free(p)
		return
	}
	switch kind, _ := ah.Lookup(p); kind {
	case arena.InMapped:
		forgetSample(p)
		h.forgetSampled(p)
		h.unnoteMapped(p)
		if bad := ah.FreeMapped(p); bad != nil {
			misuse(bad.Op, bad.Addr)
		}
	case arena.InHeap:
		c, a, bad := ah.Validate("free()", p)
		switch {
		case bad != nil:
			misuse(bad.Op, bad.Addr)
		case arena.IsCached(c):
			misuse("free(): double free detected in tcache 2", p)
		case !ah.LooksInUse(c):
			ah.FreeChunk(c, a) // a double free or a broken neighbour: the arena reports it
		default:
			if claim(c, arena.ChunkSize(c)) {
				if dropSample(p, c) {
					h.forgetSampled(p)
				}
				ah.FreeChunk(c, a)
			} else {
				misuse("free(): double free detected in tcache 2", p)
			}
		}
	default:
		misuse("free(): invalid pointer", p) // not this heap's
	}
}

// cachePush puts chunk ch into class cl of the calling P's cache of the
// heap; a full class first gives half its chunks back to the arena. It
// returns false when the chunk was not taken (no cache, the class off, or
// a chunk bordering the top while the class holds others).
func (h *Heap) cachePush(ch uintptr, cl int, top bool) bool {
	var out [refillBatch]uintptr
	nout := 0
	pid := procPin()
	c := lockedCacheIn(h.caches, pid)
	if c == nil {
		procUnpin()
		if uint(pid) < uint(len(h.caches)) {
			h.cache()
		}
		return false
	}
	b := &c.bins[cl]
	if b.limit == 0 || (top && b.count > 0) {
		c.release()
		return false
	}
	if b.count >= b.limit {
		nout = b.detachHalf(&out)
	}
	if perturbByte.Load() != 0 {
		h.ah.PerturbFree(ch)
	}
	setLink(ch, b.head)
	b.head = ch
	b.count++
	c.release()
	freeChunksIn(h.ah, out[:nout])
	return true
}

// Calloc returns zeroed memory for n elements of size bytes from the heap,
// as alloc.Calloc does, or nil.
func (h *Heap) Calloc(n, size int) unsafe.Pointer {
	if n < 0 || size < 0 {
		return nil
	}
	hi, total := bits.Mul64(uint64(n), uint64(size))
	if hi != 0 || total > uint64(arena.MaxRequest) {
		return nil
	}
	if h.destroyed.Load() {
		panic(errDestroyed("Calloc"))
	}
	if h.ah == nil {
		return nil
	}
	if total <= midLimit {
		p := h.malloc(int(total))
		if p != 0 {
			clearRequest(p, uintptr(total))
		}
		if traceOn.Load() {
			traceAllocIn(h.id, recCalloc, p, uint64(size), uint64(n))
		}
		return unsafe.Add(nil, p)
	}
	// Larger: the arena clears only what is not fresh from the system.
	c := h.cache()
	p := c.arena.Load().Calloc(uintptr(total))
	if p != 0 {
		h.noteMapped(p)
		clearKey(p - 16)
		h.sample(p, int(total))
	}
	if traceOn.Load() {
		traceAllocIn(h.id, recCalloc, p, uint64(size), uint64(n))
	}
	return unsafe.Add(nil, p)
}

// Realloc resizes a block of the heap, as alloc.Realloc does: in place when
// it can, with mremap for a mapped chunk, otherwise by moving it within the
// heap. A block of another heap is misuse.
func (h *Heap) Realloc(ptr unsafe.Pointer, size int) unsafe.Pointer {
	if ptr == nil {
		return h.Malloc(size)
	}
	if size == 0 {
		h.Free(ptr)
		return nil
	}
	if h.destroyed.Load() {
		panic(errDestroyed("Realloc"))
	}
	if size < 0 || uint64(size) > uint64(arena.MaxRequest) || h.ah == nil {
		return nil
	}
	p := uintptr(ptr)
	var seq uint64
	if traceOn.Load() {
		seq = traceReallocBegin(p)
	}
	np := h.realloc(p, size)
	if seq != 0 {
		traceReallocEnd(seq, p, np, size)
	}
	return unsafe.Add(nil, np)
}

// realloc is Realloc past its checks of the heap's state.
func (h *Heap) realloc(p uintptr, size int) uintptr {
	ch, a, bad := h.ah.Validate("realloc()", p)
	if bad != nil {
		misuse(bad.Op, bad.Addr)
		return 0
	}
	if arena.IsCached(ch) || (a != nil && inCache(ch)) {
		misuse("realloc(): invalid pointer (already freed)", p)
		return 0
	}
	sampled := arena.IsSampled(ch)
	mapped := a == nil
	if mapped {
		// Out of privMapped before the arena may give the address back
		// (mremap moves the chunk, or it is freed once copied): another
		// heap's new mapped chunk may get the address at once and enter
		// itself under it, which a later unnoteMapped(p) would take away.
		h.unnoteMapped(p)
	}
	if sampled {
		// Out of the profile before the address may go too (see Realloc).
		forgetSample(p)
		h.forgetSampled(p)
	}
	np := h.ah.Realloc(p, uintptr(size), h.cache().arena.Load())
	if np == 0 {
		if mapped {
			h.noteMapped(p) // still the caller's
		}
		return 0
	}
	h.noteMapped(np)
	if sampled {
		arena.SetSampled(np-16, false)
	}
	h.sample(np, size)
	return np
}

// UsableSize returns how many bytes the heap's block at p can hold, as
// alloc.UsableSize does.
func (h *Heap) UsableSize(p unsafe.Pointer) int {
	if p == nil {
		return 0
	}
	if h.destroyed.Load() {
		panic(errDestroyed("UsableSize"))
	}
	if h.ah == nil {
		misuse("malloc_usable_size(): invalid pointer", uintptr(p))
		return 0
	}
	c, _, bad := h.ah.Validate("malloc_usable_size()", uintptr(p))
	if bad != nil {
		misuse(bad.Op, bad.Addr)
		return 0
	}
	return int(arena.UsableSize(c))
}

// Mallinfo2 returns glibc's mallinfo2 figures for the heap alone.
func (h *Heap) Mallinfo2() Mallinfo {
	if h.destroyed.Load() {
		panic(errDestroyed("Mallinfo2"))
	}
	if h.ah == nil {
		return Mallinfo{}
	}
	return mallinfoOf(h.ah)
}

// Check walks the heap's arenas, mapped chunks and per-P caches and
// returns an error naming the first broken invariant, or nil, as
// alloc.Check does for the process heap. It empties the heap's caches.
func (h *Heap) Check() error {
	if h.destroyed.Load() {
		panic(errDestroyed("Check"))
	}
	if h.ah == nil {
		return nil
	}
	h.cacheMu.Lock()
	var stolen []*pcache
	for i := range h.caches {
		if c := h.caches[i].Swap(nil); c != nil {
			stolen = append(stolen, c)
		}
	}
	h.cacheMu.Unlock()
	if len(stolen) > 0 {
		quiesce(stolen)
	}
	cached, err := cachedChunksIn(h.ah, stolen)
	if err == nil {
		err = h.ah.Check(cached)
	}
	for _, c := range stolen {
		if ferr := flushCacheIn(h.ah, c); ferr != nil && err == nil {
			err = ferr
		}
	}
	return err
}

// Destroy frees every block of the heap at once and gives its memory back
// to the system, but for up to heap_cache bytes of heaps that the next
// NewHeap takes over (with decay set, those too go back once unused for
// that long). It costs time in proportion to the heap's mappings, not its
// blocks. No goroutine may use the heap, or any of its blocks, during or
// after Destroy; calling a method of a destroyed heap panics.
func (h *Heap) Destroy() {
	if h.destroyed.Swap(true) {
		panic(errDestroyed("Destroy"))
	}
	heapsDestroyed.Add(1)
	if h.ah == nil {
		return
	}
	h.life.Lock() // wait for forEachHeap's callers; the later ones skip the heap
	privHeaps.Delete(h.id)
	for i := range h.caches {
		h.caches[i].Store(nil)
	}
	h.mu.Lock()
	for p := range h.mapped {
		privMapped.Delete(p)
	}
	for p := range h.sampled {
		forgetSample(p)
	}
	h.mapped, h.sampled = nil, nil
	h.mu.Unlock()
	// Recorded before the ID can go to a new heap (ah.Destroy frees it),
	// so that a trace never sees a heap made with the ID of a live one.
	if traceOn.Load() {
		traceHeap(recHeapDestroy, h.id)
	}
	h.ah.Destroy()
	h.life.Unlock()
	poolGen.Add(1)
	if d := settingDecay(); d > 0 {
		gen := poolGen.Load()
		time.AfterFunc(d, func() {
			if poolGen.Load() == gen {
				heapPool.Release()
			}
		})
	}
}

// settingDecay returns the decay in force.
func settingDecay() time.Duration {
	initMu.Lock()
	defer initMu.Unlock()
	return time.Duration(settings.Get(tune.Decay)) * time.Millisecond
}

// forEachHeap calls f for every live private heap, which Destroy does not
// give back while f looks at it. Callers may hold initMu (Mallopt): Destroy
// takes no lock of the set-up while it holds life.
func forEachHeap(f func(h *Heap)) {
	privHeaps.Range(func(_, v any) bool {
		h := v.(*Heap)
		h.life.RLock()
		if !h.destroyed.Load() {
			f(h)
		}
		h.life.RUnlock()
		return true
	})
}
