package alloc

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// mallocMiss is Malloc when the fast path (fast.go) did not serve the
// request: the class is empty, a sample is due, an optional feature is on
// (debug, trace, perturb), the request is not cached, or the fast path is
// not compiled in (race, asan, msan builds). It pins the goroutine
// explicitly.
func mallocMiss(size int) unsafe.Pointer {
	if fastOff.Load()&fastPending != 0 {
		raisePending()
	}
	if debugOn.Load() {
		p := debugMalloc(size, 0, false)
		if traceOn.Load() {
			traceAlloc(recMalloc, p, uint64(size), 0)
		}
		return unsafe.Add(nil, p)
	}
	if uint(size) <= midLimit {
		if p, sample := cachePop(requestClass(uintptr(size)), size); p != 0 {
			if perturbByte.Load() != 0 {
				heap.PerturbAlloc(p - 16)
			}
			if sample {
				recordSample(p, size, 2, 0)
			}
			if traceOn.Load() {
				traceAlloc(recMalloc, p, uint64(size), 0)
			}
			return unsafe.Add(nil, p)
		}
	}
	p := mallocSlow(size)
	sampleAlloc(p, size)
	if traceOn.Load() {
		traceAlloc(recMalloc, p, uint64(size), 0)
	}
	return unsafe.Add(nil, p)
}

// cachePop takes a chunk of class cl from this P's cache and returns its
// user pointer, or 0; sample reports that the P's profiling countdown ran
// out with these size bytes.
func cachePop(cl int, size int) (p uintptr, sample bool) { return cachePopIn(caches[:], cl, size) }

// cachePopIn is cachePop over the caches cs of a heap.
func cachePopIn(cs []atomic.Pointer[pcache], cl int, size int) (p uintptr, sample bool) {
	pid := procPin()
	c := lockedCacheIn(cs, pid)
	if c == nil {
		procUnpin()
		return 0, false
	}
	b := &c.bins[cl]
	ch := b.head
	if ch == 0 && cl < nSmall && c.stashMask&(1<<cl) != 0 {
		// The list is empty: the stash, if any, becomes it (and the list
		// holds no other arena's chunks now).
		c.fromStash(cl)
		ch = b.head
	}
	if ch == 0 {
		c.release()
		return 0, false
	}
	next := arena.Protect(ch+16, *(*uintptr)(unsafe.Add(nil, ch+16)))
	k := keyWord(ch)
	if next&15 != 0 || *k != keyFor(ch) {
		// A forged link or a chunk that lost its key: drop the rest of the
		// list, which cannot be trusted, and report.
		b.head, b.count = 0, 0
		c.release()
		cacheCorrupted(ch, next)
	}
	b.head = next
	b.count--
	*k = 0
	sample = c.countDown(size)
	c.release()
	return ch + 16, sample
}

// mallocSlow serves what the cache could not: refill the class, or
// allocate from an arena.
func mallocSlow(size int) uintptr {
	if size < 0 || uint64(size) > uint64(arena.MaxRequest) {
		return 0
	}
	h := theHeap()
	n := uintptr(size)
	if n <= cacheMax.Load() {
		if cl := requestClass(n); cl >= 0 {
			if p := refill(cl); p != 0 {
				h.PerturbAlloc(p - 16)
				clearKey(p - 16)
				return p
			}
		}
	}
	c := myCache()
	a := lockArena(c)
	p := mallocLocked(a, arena.Request2Size(n))
	if p == 0 && reclaimForLimit() { // refused at the memory limit: flushed and trimmed (limit.go)
		p = mallocLocked(lockArena(c), arena.Request2Size(n))
	}
	if p == 0 {
		return 0
	}
	h.PerturbAlloc(p - 16)
	clearKey(p - 16)
	return p
}

func mallocLocked(a *arena.Arena, nb uintptr) uintptr {
	defer a.Unlock()
	c := a.MallocChunkLocked(nb)
	if c == 0 {
		return 0
	}
	return arena.Mem(c)
}

// myCache returns the calling P's cache, creating it if needed. The result
// is only used for its arena: the caller is not pinned.
func myCache() *pcache {
	pid := procPin()
	c := cacheFor(pid)
	procUnpin()
	if c == nil {
		ensureCache(pid)
		if c = cacheFor(pid); c == nil {
			// A P beyond maxCachedProcs: no cache, only an arena choice.
			return spareCache()
		}
	}
	return c
}

var (
	spareOnce sync.Once
	spare     *pcache
)

// spareCache is the arena chooser of Ps that have no cache; its classes
// are all off.
func spareCache() *pcache {
	spareOnce.Do(func() {
		spare = newPcache(-1, math.MaxInt64)
		spare.setArena(theHeap().Arena(0))
	})
	return spare
}

// lockArena locks the arena of cache c. When another goroutine holds it
// and other Ps refill from it too, the P moves to an arena of its own, as
// glibc moves a thread whose arena is busy (arena_get2): one that no P
// uses, or a new one while fewer than M_ARENA_MAX exist (by default one
// per P). Otherwise it waits: an arena that only this P refills from is
// held by others only for short moments (a P flushing chunks back to it),
// and moving then would mix two Ps' blocks in one arena for good.
func lockArena(c *pcache) *arena.Arena {
	a := c.arena.Load()
	if a.TryLock() {
		return a
	}
	if c.pid >= 0 && arenaStates[a.Index()].users.Load() > 1 {
		if b := moveHome(c.pid, a); b != nil {
			c.setArena(b)
			b.Lock()
			return b
		}
	}
	a.Lock()
	return a
}

var (
	// pidArena holds the arena each P refills from, 1 + its index (0:
	// none yet, that is the main arena).
	pidArena [maxCachedProcs]atomic.Int32
	// arenaStates holds what the caches keep about each arena, one arena's
	// together: the first Malloc of a process then touches one page of it
	// rather than one per array (a page fault costs 1.5 us here).
	arenaStates [maxArenaTable]arenaState
)

// arenaState is what the caches keep about one arena.
type arenaState struct {
	// users counts the Ps whose pidArena is the arena.
	users atomic.Int32
	// turns records the P that refilled from the arena last (low 16
	// bits, 1 + its id) and how many times the refilling P changed within
	// turnsWindow of each other (the rest); turnAt the time of the last
	// change.
	turns  atomic.Uint32
	turnAt atomic.Int64
	// lastG is the goroutine that refilled from the arena last, or made a
	// P its user (curG; 0 where it is not known).
	lastG atomic.Uintptr
	// remote holds the arena's lists of chunks freed by other Ps, created
	// when first needed (remoteOf).
	remote atomic.Pointer[remoteLists]
}

// A P that shares its arena moves to one of its own when the refilling P
// changed turnsToMove times, each within turnsWindow of the one before.
const (
	turnsToMove = 8
	turnsWindow = 10 * time.Millisecond
)

// noteRefill records that cache c's P refills from its arena, and moves
// the P to an arena of its own (moveHome) when Ps take turns on a shared
// arena: two goroutines allocating at once on two Ps, whose chunks would
// otherwise pass from one P to the other through the arena (each side then
// reads lines the other just wrote) and whose refills would wait for each
// other. A goroutine that migrates from P to P now and then changes the
// refilling P once per move, far apart, and stays where it is: a program
// that allocates from one goroutine at a time keeps one arena.
func noteRefill(c *pcache) {
	if c.pid < 0 {
		return
	}
	a := c.arena.Load()
	i := a.Index()
	if g := curG(); arenaStates[i].lastG.Load() != g {
		arenaStates[i].lastG.Store(g)
	}
	me := uint32(c.pid+1) & 0xffff
	old := arenaStates[i].turns.Load()
	if old&0xffff == me {
		return
	}
	now := time.Now().UnixNano()
	turns := old>>16 + 1
	if now-arenaStates[i].turnAt.Swap(now) > int64(turnsWindow) {
		turns = 1
	}
	arenaStates[i].turns.Store(turns<<16 | me)
	if turns >= turnsToMove && arenaStates[i].users.Load() > 1 {
		if b := moveHome(c.pid, a); b != nil {
			c.setArena(b)
			arenaStates[i].turns.Store(0)
		}
	}
}

// homeArena returns the arena P pid refills from. Every P starts on the
// main arena (on the program break), as every thread starts on glibc's, so
// a program that allocates from one goroutine at a time uses one arena
// wherever the scheduler runs it; but a P whose first allocation comes
// from another goroutine than the one that refilled from the main arena
// last takes an arena of its own, while M_ARENA_MAX allows, as glibc gives
// each new thread a new arena (arena_get2). Two goroutines on two Ps of
// one arena would otherwise hand out each other's neighbours: a chunk one
// P allocated and another freed is the other's to reuse when their arena
// is the same, and two cores writing such neighbours share a cache line at
// every write (cache-scratch-par, whose workers each free a block the main
// goroutine allocated and then allocate their own: 600-870 ns an operation
// against 180, in every process where no refill had moved a P). A P also
// moves when it finds its arena busy (lockArena, noteRefill).
func homeArena(pid int) *arena.Arena {
	h := theHeap()
	if uint(pid) >= maxCachedProcs {
		return h.Arena(0)
	}
	for {
		if v := pidArena[pid].Load(); v != 0 {
			return h.Arena(int(v - 1))
		}
		if arenaStates[0].users.Load() > 0 && arenaMax.Load() > 1 && curG() != arenaStates[0].lastG.Load() {
			if a := claimArena(); a != nil {
				if pidArena[pid].CompareAndSwap(0, int32(a.Index()+1)) {
					return a
				}
				arenaStates[a.Index()].users.Add(-1) // set meanwhile
				continue
			}
		}
		if pidArena[pid].CompareAndSwap(0, 1) {
			arenaStates[0].users.Add(1)
			// Its first allocation may take no refill (no cache, a mapped
			// chunk): the goroutine counts as the arena's last from here.
			if g := curG(); arenaStates[0].lastG.Load() != g {
				arenaStates[0].lastG.Store(g)
			}
		}
	}
}

// claimArena returns an arena that no P refills from, counted as used by
// one: an existing one, or a new one while M_ARENA_MAX allows; or nil.
func claimArena() *arena.Arena {
	h := heap
	for i := 0; i < h.NumArenas(); i++ {
		if arenaStates[i].users.CompareAndSwap(0, 1) {
			return h.Arena(i)
		}
	}
	a, err := h.NewArenaUpTo(int(arenaMax.Load()))
	if err != nil {
		return nil
	}
	arenaStates[a.Index()].users.Add(1)
	return a
}

// moveHome gives P pid, whose arena from is busy and shared, an arena that
// no P refills from (claimArena). It returns nil when there is none.
func moveHome(pid int, from *arena.Arena) *arena.Arena {
	to := claimArena()
	if to == nil {
		return nil
	}
	if !pidArena[pid].CompareAndSwap(int32(from.Index()+1), int32(to.Index()+1)) {
		arenaStates[to.Index()].users.Add(-1) // moved meanwhile (another goroutine on this P)
		return nil
	}
	arenaStates[from.Index()].users.Add(-1)
	return to
}

// refillBatch bounds how many chunks one refill takes, and refillBytes
// (but for two chunks) their bytes.
const (
	refillBatch = 32
	refillBytes = 4096
)

// refill fills class cl of this P's cache from an arena and returns one
// chunk's user pointer, or 0.
func refill(cl int) uintptr {
	c := myCache()
	lim := cacheLimits.Load()[cl]
	if lim == 0 {
		return 0
	}
	// Small classes refill in batches; a mid-size class takes one chunk at
	// a time, so no unused chunk sits between the blocks and the top.
	nb := classChunk[cl]
	// Half the class, but about a page's worth at most: a refill writes a
	// header into every chunk it takes, and the pages of chunks the
	// program then never asks for would be faulted in for nothing.
	k := min(max(int(lim)/2, 1), refillBatch, max(refillBytes/int(nb), 2))
	if cl >= nSmall {
		k = 1
	}
	var got [refillBatch]uintptr
	if cl < nSmall {
		growOnThrash(cl)
	}
	noteRefill(c)
	if cl < nSmall && heap.HeapSys() >= reuseForeignMin {
		if ch := reuseForeign(cl); ch != 0 {
			return ch + 16
		}
	}
	// A batch given back to this P's arena first (remote.go).
	if first, n := takeBatch(c.arena.Load().Index(), cl); first != 0 {
		return installBatch(first, n, cl)
	}
	a := lockArena(c)
	m := takeChunks(a, nb, got[:k])
	if m == 0 {
		return 0
	}
	// Keep all but the first in whatever P we are on now.
	pushChunks(got[1:m], cl)
	if refills.Load() < idleAfterRefills && refills.Add(1) == idleAfterRefills {
		startIdleFlusher()
	}
	return got[0] + 16
}

// refills counts refills until the idle flusher starts (and no further:
// a counter all Ps write would be shared by them): after a few, not
// at the first allocation, whose cost it would add to (starting it wakes
// another thread's timer machinery: 10-35 us here).
var refills atomic.Int64

const idleAfterRefills = 8

func takeChunks(a *arena.Arena, nb uintptr, out []uintptr) int {
	defer a.Unlock()
	return a.MallocBatchLocked(nb, out)
}

// reuseForeignMin is the heap (the arenas' system memory) from which an
// empty class takes the P's foreign class of the same size (reuseForeign)
// before it refills from the arena.
const reuseForeignMin = 64 << 20

// reuseForeign makes this P's foreign class cl its class cl, when that is
// empty, and returns the first chunk, or 0. Refill calls it in a heap of
// reuseForeignMin or more: there a goroutine that changed P frees chunks
// of the other arena at every step, and handing them out again from this P
// keeps its working set in this core's cache, where sending them home and
// refilling took cold ones (the churn of 5 M values: 146-165 ns a
// replacement against 166-179, alternating fresh processes). In a small
// heap the foreign classes stay apart (cache.go): two Ps handing out
// chunks of one arena there share cache lines, and their live sets mix
// regions (random-live-par and thread-shape-par ran 15-35% slower when any
// heap reused them).
func reuseForeign(cl int) uintptr {
	pid := procPin()
	c := lockedCache(pid)
	if c == nil {
		procUnpin()
		return 0
	}
	f, b := &c.foreignBins[cl], &c.bins[cl]
	lim := b.limit
	if c.stashMask&(1<<cl) != 0 {
		lim *= 2 // the class's limit: a list that long goes to the stash in halves (cachePushFull)
	}
	var ch uintptr
	if f.count > 0 && b.head == 0 && f.count-1 <= lim {
		c.mixed |= 1 << cl // other arenas' chunks
		ch = f.head
		next := link(ch)
		if next&15 != 0 || !inCache(ch) {
			f.head, f.count = 0, 0
			c.release()
			cacheCorrupted(ch, next)
		}
		b.head, b.count = next, f.count-1
		f.head, f.count = 0, 0
	}
	c.release()
	return ch
}

// installBatch hands out the first chunk of a batch taken off an arena's
// list (takeBatch) and makes the rest the current P's cache class cl, as
// it is, when the class is empty (the common case: the refill came from an
// empty class); otherwise it pushes them one by one (pushChunks).
func installBatch(first uintptr, n, cl int) uintptr {
	if n > 1 {
		rest := link(first)
		pid := procPin()
		c := lockedCache(pid)
		done := false
		if c != nil {
			if b := &c.bins[cl]; b.head == 0 && uint32(n-1) <= b.limit {
				b.head, b.count = rest, uint32(n-1)
				done = true
				if cl < nSmall && heap.ArenaIndexOf(first) != c.arena.Load().Index() {
					c.mixed |= 1 << cl // taken for another P's arena
				}
			}
			if raceEnabled {
				c.mu.Unlock()
			}
		}
		procUnpin()
		if !done {
			var chs [maxBatch]uintptr
			m, err := batchChunks(rest, n-1, chs[:])
			pushChunks(chs[:m], cl)
			if err != nil {
				panic(err)
			}
		}
	}
	if !inCache(first) {
		panic(&arena.CorruptionError{Op: "malloc(): corrupted remote free list (write after free?)", Addr: first + 16})
	}
	return first + 16
}

// pushChunks puts chunks of class cl into the current P's cache, and what
// does not fit back to the arenas (so does a chunk larger than the class,
// which a refill gets when splitting would leave less than MinSize).
func pushChunks(chs []uintptr, cl int) { pushChunksIn(caches[:], heap, chs, cl) }

// pushChunksIn is pushChunks over the caches cs of heap ah.
func pushChunksIn(cs []atomic.Pointer[pcache], ah *arena.Heap, chs []uintptr, cl int) {
	if len(chs) == 0 {
		return
	}
	pid := procPin()
	c := lockedCacheIn(cs, pid)
	i := 0
	if c != nil {
		b := &c.bins[cl]
		if cl < nSmall && c.stashMask != 0 && ah.ArenaIndexOf(chs[0]) != c.arena.Load().Index() {
			c.mixed |= 1 << cl // carved for another P's arena
		}
		for ; i < len(chs) && b.count < b.limit && chunkClass(arena.ChunkSize(chs[i])) == cl; i++ {
			ch := chs[i]
			*keyWord(ch) = keyFor(ch)
			*(*uintptr)(unsafe.Add(nil, ch+16)) = arena.Protect(ch+16, b.head)
			b.head = ch
			b.count++
		}
		if raceEnabled {
			c.mu.Unlock()
		}
	}
	procUnpin()
	if i < len(chs) {
		// Not a free of the program's: no trim (arena.UnrefillLocked).
		unrefillChunksIn(ah, chs[i:])
	}
}

// freeMiss is Free when the fast path (fast.go) did not take the block:
// a mapped, sampled or bad pointer, a double free, a full class, a chunk
// bordering its arena's top, an optional feature on, or no fast path
// compiled in. Of two frees of one pointer at once here, exactly one wins
// (claim).
func freeMiss(ptr unsafe.Pointer) {
	p := uintptr(ptr)
	if fastOff.Load() == 0 {
		// A sampled block (the S bit is why Free's fast path let it go):
		// out of the profile, then freed as any other. First, as it is
		// the one route here that the default mode takes often (a 64 KiB
		// block every eighth time at the default rate); fastOff at 0 says
		// that nothing below applies (no pending corruption, trace or
		// debug mode, the heap set up).
		if room, _ := heap.FastRegion(p - 16); room != 0 {
			if c := heap.SampledHeader(p, room); c != 0 {
				// The mark first: a byte store that Free's load of the
				// whole header word, right after, would have to wait for.
				arena.SetSampled(c, false)
				forgetSample(p)
				Free(ptr)
				return
			}
		}
		// A full exact class with an empty stash: the first miss of the
		// fast path's on a full list.
		if freeToStash(p) {
			return
		}
	}
	if fastOff.Load()&fastPending != 0 {
		raisePending()
	}
	if traceOn.Load() {
		traceFree(p)
	}
	if !inited.Load() {
		if p == 0 {
			return
		}
		theHeap()
	}
	if debugOn.Load() {
		if ph := privateOwner(p); ph != nil && !ph.destroyed.Load() {
			ph.free(p) // private heaps have no debug mode
			return
		}
		debugFree(p)
		return
	}
	ch, size := heap.FrontFree(p)
	if ch != 0 {
		// Claim the chunk: the cache key goes into its second word (with
		// harden=1 by a compare-and-swap, so that of two frees of p at once
		// exactly one wins), and a later free finds the key (cache.go).
		if !claimFree(ch, size) {
			misuse("free(): double free detected in tcache 2", p)
			return
		}
		dropSample(p, ch) // a sampled block leaves the profile, and keeps its place in the cache
		if cl := chunkClass(size); cl >= 0 {
			top := cl >= nSmall && arena.NextIsTop(ch, size)
			if cachePush(ch, cl, top) {
				return
			}
			if top {
				freeToTop(p, ch, cl)
				return
			}
		}
	}
	freeSlow(p, ch)
}

// freeSlow frees what the cache did not take: ch is the chunk of p if
// FrontFree found it sound, or 0 (a mapped or sampled chunk, a chunk in a
// fastbin, or a bad pointer).
func freeSlow(p, ch uintptr) {
	if p == 0 {
		return
	}
	if ch != 0 {
		// A sound heap chunk that the cache did not take.
		heap.PerturbFree(ch)
		heap.Free(p)
		return
	}
	if kind, _ := heap.Lookup(p); kind == arena.InMapped {
		freeMapped(p)
		return
	}
	if ph := privateOwner(p); ph != nil {
		// A private heap's block: its heap frees it.
		if ph.destroyed.Load() {
			misuse("free(): invalid pointer", p)
			return
		}
		ph.free(p)
		return
	}
	c, a, bad := resolve("free()", p)
	if bad != nil {
		misuse(bad.Op, bad.Addr)
		return
	}
	if arena.IsCached(c) {
		misuse("free(): double free detected in tcache 2", p) // in a fastbin
		return
	}
	if !heap.LooksInUse(c) {
		// Back in its arena (a double free), or its neighbour's header is
		// overwritten: the arena finds out which and panics.
		heap.FreeChunk(c, a)
		return
	}
	// In use and sampled (FrontFree leaves those to us): claim it as Free
	// does, then update the profile.
	if !claimForFree(p, c) {
		return
	}
	if dropSample(p, c) && cacheSampled(p, c) {
		return
	}
	heap.FreeChunk(c, a)
}

// cacheSampled puts claimed chunk c of p, a sampled block just dropped
// from the profile, where Free's fast path would have put it, and reports
// whether it did: sampling must not cost a sampled block its place in the
// cache (at the default rate one 64 KiB block in eight is sampled).
func cacheSampled(p, c uintptr) bool {
	size := arena.ChunkSize(c)
	cl := chunkClass(size)
	if cl < 0 {
		return false
	}
	top := cl >= nSmall && arena.NextIsTop(c, size)
	if cachePush(c, cl, top) {
		return true
	}
	if top {
		freeToTop(p, c, cl)
		return true
	}
	return false
}

// claimForFree claims in-use heap chunk c of user pointer p for its free
// (see claim); when another free got there first it reports the double
// free and returns false.
func claimForFree(p, c uintptr) bool {
	if !claim(c, arena.ChunkSize(c)) {
		misuse("free(): double free detected in tcache 2", p)
		return false
	}
	return true
}

// dropSample removes claimed chunk c of p from the heap profile if it was
// sampled, and reports whether it was.
func dropSample(p, c uintptr) bool {
	if !arena.IsSampled(c) {
		return false
	}
	forgetSample(p)
	arena.SetSampled(c, false)
	return true
}

// freeToTop frees a mid-size chunk that borders its arena's top to the
// arena, and with it the chunks this P caches in the same class (likely its
// neighbours): the top then grows back over them and is trimmed as glibc's
// would be, instead of staying fenced in by cached chunks. cachePush sends
// such a chunk here only when the class already holds chunks, which a
// malloc/free loop of one block never does.
func freeToTop(p, ch uintptr, cl int) {
	freeSlow(p, ch)
	var out [refillBatch]uintptr
	n := 0
	pid := procPin()
	if c := lockedCache(pid); c != nil {
		b := &c.bins[cl]
		for ; n < len(out) && b.head != 0; n++ {
			x := b.head
			b.head = arena.Protect(x+16, *(*uintptr)(unsafe.Add(nil, x+16)))
			b.count--
			out[n] = x
		}
		if raceEnabled {
			c.mu.Unlock()
		}
	}
	procUnpin()
	freeChunks(out[:n])
}

// cachePush puts chunk ch into class cl of this P's cache. It returns
// false when the chunk was not taken (no cache yet, the class is off, or
// the chunk borders the top and the class is not empty).
func cachePush(ch uintptr, cl int, top bool) bool {
	pid := procPin()
	c := lockedCache(pid)
	if c == nil {
		procUnpin()
		ensureCache(pid)
		return false
	}
	s := int(c.foreignSlot(ch, cl))
	b := &c.bins[s]
	if b.count >= b.limit || (top && b.count > 0) {
		c.release()
		return !top && cachePushFull(ch, s)
	}
	if perturbByte.Load() != 0 {
		heap.PerturbFree(ch) // leaves the link and key words alone
	}
	*(*uintptr)(unsafe.Add(nil, ch+16)) = arena.Protect(ch+16, b.head)
	b.head = ch
	b.count++
	c.release()
	return true
}

// detachHalf takes half of a full class (refillBatch chunks at most) off
// its head into out and returns how many. The caller is pinned to the
// cache's P.
func (b *cacheBin) detachHalf(out *[refillBatch]uintptr) int {
	n := min(max(int(b.limit)/2, 1), refillBatch)
	for i := 0; i < n; i++ {
		x := b.head
		b.head = link(x)
		b.count--
		out[i] = x
	}
	return n
}

// cachePushFull handles a full cache slot s (a class, or a foreign class):
// it detaches half of it, pushes ch, and gives the detached chunks back
// unpinned (giveBack: foreign ones to their own arenas' lists).
//
//go:noinline
func cachePushFull(ch uintptr, s int) bool {
	var out [refillBatch]uintptr
	nout := 0
	c := pinCache()
	if c == nil {
		return false
	}
	b := &c.bins[s]
	if b.limit == 0 {
		c.release()
		return false
	}
	var oldStash uintptr // a stash to give back, its length, and whether it may be mixed
	var nOld int
	var oldMixed bool
	if b.count >= b.limit {
		if s < nSmall {
			c.noteGiveBack(s)
		}
		if s < nSmall && c.stashMask&(1<<s) != 0 && b.count <= b.limit && b.count <= maxBatch {
			// The list becomes the stash, whole; the old stash goes back.
			st := &c.stash[s]
			oldStash, nOld = st.head, int(st.count)
			oldMixed = c.stashMixed&(1<<s) != 0 || c.stashGen[s] != c.gen.Load()
			c.toStash(s) // (ch is checked below)
		} else {
			nout = b.detachHalf(&out)
		}
	}
	if s < nSmall && c.foreign(arena.GranuleEntry(ch), s) {
		c.mixed |= 1 << s // s was this chunk's slot on the P cachePush ran on
	}
	if perturbByte.Load() != 0 {
		heap.PerturbFree(ch) // leaves the link and key words alone
	}
	*(*uintptr)(unsafe.Add(nil, ch+16)) = arena.Protect(ch+16, b.head)
	b.head = ch
	b.count++
	c.release()
	if nOld > 0 {
		giveBackList(oldStash, nOld, s, oldMixed)
	}
	giveBack(out[:nout], slotClass(s))
	return true
}

// toStash makes exact class cl's list its stash, whole, and leaves the
// list empty; the stash must be empty or given back by the caller, which
// is pinned to c's P.
func (c *pcache) toStash(cl int) {
	b, st, bit := &c.bins[cl], &c.stash[cl], uint64(1)<<cl
	st.head, st.count = b.head, b.count
	b.head, b.count = 0, 0
	c.stashMixed = c.stashMixed&^bit | c.mixed&bit
	c.stashGen[cl] = c.listGen[cl]
	c.mixed &^= bit
	c.listGen[cl] = c.gen.Load()
}

// fromStash makes exact class cl's stash its list, which must be empty,
// and leaves the stash empty; with no stash, it only notes that the list
// is empty, and so holds no other arena's chunks. The caller is pinned to
// c's P.
func (c *pcache) fromStash(cl int) {
	b, st, bit := &c.bins[cl], &c.stash[cl], uint64(1)<<cl
	b.head, b.count = st.head, st.count
	st.head, st.count = 0, 0
	c.mixed = c.mixed&^bit | c.stashMixed&bit
	c.listGen[cl] = c.stashGen[cl]
	if b.head == 0 {
		c.mixed &^= bit
		c.listGen[cl] = c.gen.Load()
	}
	c.stashMixed &^= bit
}

// freeToStash is Free's fast path (fast_free.go's) for a chunk of an exact
// class whose list is full while its stash is empty: the list becomes the
// stash and the chunk starts a new list (cache.go, stashBase). It reports
// false, and changes nothing, for any other chunk or state, which the
// rest of freeMiss then handles: a second free among them (the key), as
// the fast path leaves it.
func freeToStash(p uintptr) bool {
	room, entry := heap.FastRegion(p - 16)
	ch, size := heap.InUseHeader(p, room)
	if ch == 0 || size > smallChunkMax {
		return false
	}
	k, key := keyWord(ch), keyFor(ch)
	if *k == key {
		return false
	}
	cl := int(uint(size-arena.MinSize) >> 4 % nSmall)
	c := pinCache()
	if c == nil {
		return false
	}
	b := &c.bins[cl]
	ok := entry == c.home.Load() && c.stashMask&(1<<cl) != 0 && b.count == b.limit && c.stash[cl].count == 0
	if ok {
		c.toStash(cl)
		*k = key
		*(*uintptr)(unsafe.Add(nil, ch+16)) = arena.Protect(ch+16, 0)
		b.head, b.count = ch, 1
	}
	c.release()
	return ok
}

// freeChunks returns cached chunks (F bit set or not) to their arenas,
// taking each arena's lock once per run of chunks it owns. The arena checks
// each chunk and its neighbours there, glibc's checks of _int_free, which
// the free fast path leaves to this moment (fast.go). A chunk found
// corrupted is left out, the others are still freed, and the first
// corruption found is then reported, as a panic with glibc's message.
func freeChunks(chs []uintptr) { freeChunksIn(heap, chs) }

// freeChunksIn is freeChunks for chunks of heap ah.
func freeChunksIn(ah *arena.Heap, chs []uintptr) { returnChunks(ah, chs, true) }

// unrefillChunksIn is freeChunksIn for chunks a refill took and found no
// room for: their arenas take them back without the trim a free may set
// off (arena.UnrefillLocked).
func unrefillChunksIn(ah *arena.Heap, chs []uintptr) { returnChunks(ah, chs, false) }

func returnChunks(ah *arena.Heap, chs []uintptr, trim bool) {
	var bad *arena.CorruptionError
	for i := 0; i < len(chs); {
		n, err := freeRun(ah, chs[i:], trim)
		i += n
		if err != nil {
			if bad == nil {
				bad = err
			}
			i++ // the chunk that failed: never freed, never handed out again
		}
	}
	if bad != nil {
		panic(bad)
	}
}

// freeRun frees the chunks at the start of chs that belong to the first
// one's arena, under one lock, and returns how many it freed and, if it
// stopped at a corrupted chunk, the error.
func freeRun(h *arena.Heap, chs []uintptr, trim bool) (n int, bad *arena.CorruptionError) {
	ai := h.ArenaIndexOf(chs[0])
	a := h.Arena(ai)
	if a == nil {
		return 0, &arena.CorruptionError{Op: "free(): invalid pointer", Addr: chs[0] + 16}
	}
	a.Lock()
	defer a.Unlock()
	defer catchCorruption(&bad)
	for _, ch := range chs {
		if h.ArenaIndexOf(ch) != ai {
			break
		}
		if trim {
			a.FreeChunkLocked(ch) // the key stays: see keyFor
		} else {
			a.UnrefillLocked(ch)
		}
		n++
	}
	return n, nil
}

// catchCorruption, deferred, stops a panic with an *arena.CorruptionError
// and stores the error in *bad; any other panic goes on.
func catchCorruption(bad **arena.CorruptionError) {
	if r := recover(); r != nil {
		ce, ok := r.(*arena.CorruptionError)
		if !ok {
			panic(r)
		}
		*bad = ce
	}
}

// Calloc returns zeroed memory for n elements of size bytes, or nil when n
// or size is negative, n*size overflows, or memory runs out. Memory fresh
// from the operating system is not cleared again (it reads zero, and its
// pages stay untouched until the program writes them). The n*size bytes
// asked for are zero; the rest of the block's UsableSize may not be.
func Calloc(n, size int) unsafe.Pointer {
	if n < 0 || size < 0 {
		return nil
	}
	hi, total := bits.Mul64(uint64(n), uint64(size))
	if hi != 0 || total > uint64(arena.MaxRequest) {
		return nil
	}
	if debugOn.Load() {
		p := debugMalloc(int(total), 0, true)
		if traceOn.Load() {
			traceAlloc(recCalloc, p, uint64(size), uint64(n))
		}
		return unsafe.Add(nil, p)
	}
	req := uintptr(total) // the request the arena serves when the cache does not
	if total <= smallLimit && fastOff.Load()&mallocOff == 0 && fastPaths {
		// Nothing optional is on (no trace to tell a calloc from a
		// malloc): Malloc's fast path, then clear.
		p := Malloc(int(total))
		if p != nil {
			clearRequest(uintptr(p), uintptr(total))
		}
		return p
	}
	if total <= midLimit {
		// A cached chunk was used before: cleared here. Above 1 KiB an
		// empty class sends the request to the arena (below), which
		// leaves memory fresh from the system as it is (it reads zero)
		// where a refill would hand out a chunk to clear, page by page.
		if p, sample := cachePop(requestClass(uintptr(total)), int(total)); p != 0 {
			clearRequest(p, uintptr(total))
			if sample {
				recordSample(p, int(total), 2, 0)
			}
			if traceOn.Load() {
				traceAlloc(recCalloc, p, uint64(size), uint64(n))
			}
			return unsafe.Add(nil, p)
		}
		if uintptr(total) <= cacheMax.Load() {
			if total <= smallLimit {
				p := mallocSlow(int(total))
				if p == 0 {
					return nil
				}
				clearRequest(p, uintptr(total))
				sampleAlloc(p, int(total))
				if traceOn.Load() {
					traceAlloc(recCalloc, p, uint64(size), uint64(n))
				}
				return unsafe.Add(nil, p)
			}
			// The class's size, so that the block goes back to its class.
			req = midSizes[requestClass(uintptr(total))-nSmall]
		}
	}
	theHeap()
	p := myCache().arena.Load().CallocIn(req, uintptr(total))
	if p == 0 && reclaimForLimit() { // refused at the memory limit (limit.go)
		p = myCache().arena.Load().CallocIn(req, uintptr(total))
	}
	sampleAlloc(p, int(total))
	if traceOn.Load() {
		traceAlloc(recCalloc, p, uint64(size), uint64(n))
	}
	return unsafe.Add(nil, p)
}

func clearUser(p uintptr) {
	n := arena.UsableSize(p - 16)
	clear(unsafe.Slice((*byte)(unsafe.Add(nil, p)), n))
}

// clearRequest clears the n bytes a Calloc asked for at p. The rest of the
// block's usable size (a class rounds a request above 1 KiB up by as much
// as a quarter) is left as it is: Calloc promises n zero bytes.
func clearRequest(p, n uintptr) {
	clear(unsafe.Slice((*byte)(unsafe.Add(nil, p)), n))
}

// Realloc changes the size of the block at p to size bytes, keeping its
// contents up to the smaller of the two sizes, and returns the block's new
// address. It grows in place when the next chunk is free or is the top, and
// with mremap for a mapped chunk. Realloc(nil, size) is Malloc(size);
// Realloc(p, 0) frees p and returns nil. When memory runs out, or size is
// negative or impossibly large, it returns nil and p is left untouched. A
// bad or freed p is misuse, as for Free (with check_action 0 or 1 Realloc
// returns nil).
func Realloc(p unsafe.Pointer, size int) unsafe.Pointer {
	if p == nil {
		return Malloc(size)
	}
	if size == 0 {
		Free(p)
		return nil
	}
	if size < 0 || uint64(size) > uint64(arena.MaxRequest) {
		return nil
	}
	h := theHeap()
	if debugOn.Load() {
		var traceSeq0 uint64
		if traceOn.Load() {
			traceSeq0 = traceReallocBegin(uintptr(p))
		}
		np := debugRealloc(uintptr(p), size)
		if traceSeq0 != 0 {
			traceReallocEnd(traceSeq0, uintptr(p), np, size)
		}
		return unsafe.Add(nil, np)
	}
	ch, a, bad := resolve("realloc()", uintptr(p))
	if bad != nil {
		if ph := privateOwner(uintptr(p)); ph != nil {
			return ph.Realloc(p, size)
		}
		misuse(bad.Op, bad.Addr)
		return nil
	}
	if arena.IsCached(ch) || (a != nil && inCache(ch)) {
		misuse("realloc(): invalid pointer (already freed)", uintptr(p))
		return nil
	}
	sampled := arena.IsSampled(ch)
	var traceSeq0 uint64
	if traceOn.Load() {
		traceSeq0 = traceReallocBegin(uintptr(p))
	}
	if sampled {
		// The old block leaves the profile before the arena may give its
		// address back (a moved block's old chunk is freed, a mapped one
		// remapped): another goroutine's block sampled at that address
		// at once would otherwise lose its entry to this removal. If the
		// realloc fails, the block stays, out of the profile.
		forgetSample(uintptr(p))
	}
	np := h.Realloc(uintptr(p), uintptr(size), myCache().arena.Load())
	if np == 0 && reclaimForLimit() { // refused at the memory limit (limit.go)
		np = h.Realloc(uintptr(p), uintptr(size), myCache().arena.Load())
	}
	if np != 0 {
		if sampled {
			arena.SetSampled(np-16, false) // the new one may enter it afresh
		}
		sampleAlloc(np, size)
	}
	if traceSeq0 != 0 {
		traceReallocEnd(traceSeq0, uintptr(p), np, size)
	}
	return unsafe.Add(nil, np)
}

// AlignedAlloc returns size bytes aligned to alignment, which must be a
// power of two (any, up to half the address space); nil otherwise or when
// memory runs out.
func AlignedAlloc(alignment, size int) unsafe.Pointer {
	if alignment <= 0 || alignment&(alignment-1) != 0 || size < 0 {
		return nil
	}
	if alignment <= 16 {
		return Malloc(size)
	}
	theHeap()
	if debugOn.Load() {
		p := debugMalloc(size, alignment, false)
		if traceOn.Load() {
			traceAlloc(recAligned, p, uint64(size), uint64(alignment))
		}
		return unsafe.Add(nil, p)
	}
	p := myCache().arena.Load().Memalign(uintptr(alignment), uintptr(size))
	if p == 0 && reclaimForLimit() { // refused at the memory limit (limit.go)
		p = myCache().arena.Load().Memalign(uintptr(alignment), uintptr(size))
	}
	if p != 0 {
		clearKey(p - 16)
	}
	sampleAlloc(p, size)
	if traceOn.Load() {
		traceAlloc(recAligned, p, uint64(size), uint64(alignment))
	}
	return unsafe.Add(nil, p)
}

// UsableSize returns how many bytes the block at p can hold (glibc's
// malloc_usable_size): its chunk size less 8, less 16 for a mapped chunk,
// and 0 for nil. A pointer offheap did not return is misuse, as for Free
// (with check_action 0 or 1 UsableSize returns 0). In the debug mode it
// returns the size asked for.
func UsableSize(p unsafe.Pointer) int {
	if p == nil {
		return 0
	}
	theHeap()
	if debugOn.Load() {
		return debugUsable(uintptr(p))
	}
	c, _, bad := resolve("malloc_usable_size()", uintptr(p))
	if bad != nil {
		if ph := privateOwner(uintptr(p)); ph != nil {
			return ph.UsableSize(p)
		}
		misuse(bad.Op, bad.Addr)
		return 0
	}
	return int(arena.UsableSize(c))
}
