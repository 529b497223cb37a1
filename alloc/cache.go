package alloc

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/tune"
)

// The per-P front cache, in the spirit of glibc's tcache.
//
// Each P owns a pcache: one singly linked list of free chunks per size
// class. A goroutine pins itself to its P (procPin), pops or pushes a chunk
// and unpins: no lock, no atomic read-modify-write. Chunks in a cache look
// in use to their arena. Their first user word is the link, safe-linked (the
// pointer mixed with its own address >> 12) and checked on use; their second
// holds the cache key (see keyFor), so a second free of the same pointer is
// caught, as glibc's tcache does with e->key.
//
// The cache never writes a chunk header. The header of an in-use chunk
// belongs to its arena, which sets or clears the chunk's P bit under the
// arena lock whenever the chunk before it is allocated or freed; a lock-free
// read-modify-write of the same word here would race with that and could
// lose the change, corrupting the heap.
//
// Size classes: exact chunk sizes 32, 48, ... 1040 (requests up to 1 KiB),
// then eight classes per doubling of the request up to 4 KiB, 1152, 1280,
// ... 2048, 2304, ... 4096, and four above, 5120, 6144, ... 65536 bytes. A
// request in the upper range is rounded up to its class, so its chunk
// comes back to the same class when freed (at most 12.5% more than asked
// up to 4 KiB, 25% above); a chunk from elsewhere (realloc, memalign) goes
// to the largest class it can serve. With four classes a doubling from 1
// KiB, python-json's replay (../shared/traces), whose blocks are mostly of
// 1-4 KiB above 1 KiB, faulted 145,100 pages and peaked at 497 MiB (glibc:
// 139,300 and 475); with eight up to 4 KiB, 141,950 and 485.5, in 0.2%
// more instructions (rptest +1.8%).
//
// Chunks move between a cache and the arenas in batches: an empty class is
// refilled with half its limit under one arena lock, a full one flushes
// half. Any P may free any chunk: a chunk of the P's own arena goes to its
// class, a small chunk of another arena to the P's foreign class (see
// below), and either goes back to the arena that owns it when flushed.
//
// Flushing a cache that its P may be using (Trim, Check, an idle cache, a P
// gone after GOMAXPROCS shrank) swaps the P's slot for an empty cache and
// then waits for a stop-the-world (runtime.ReadMemStats): a pinned goroutine
// cannot be stopped, so when the world has stopped once, no goroutine still
// holds the old cache. Under the race detector a mutex per cache does that.

const (
	nSmall = 64 // chunk sizes 32..1040
	// smallChunkMax is the largest chunk of a small class.
	smallChunkMax = arena.MinSize + (nSmall-1)*16
	nMid          = 32 // requests 1152..65536
	nClasses      = nSmall + nMid
	smallLimit    = 1024  // largest request of the exact classes
	midLimit      = 65536 // largest request of any class
	// midBytes bounds what one upper class holds (two chunks at least).
	// rptest (sizes 8-16000, most above 1 KiB, freed and allocated in
	// batches of 25-99) took 112 ns an operation at 32 KiB a class, 71 at
	// 64 KiB, 56 at 128 KiB and 55 at 256 KiB (medians of seven alternating
	// runs): below that, most of its blocks went to the arena and back.
	// The replays did not move (cc1 2,194 against 2,167 page faults, 9.31
	// against 9.30 ms; python-json 145,105 against 145,109): before an
	// arena grows, the calling P's mid-size chunks go back to it
	// (growhook.go). Before that hook, 256 KiB a class had cost cc1 290
	// more faults than 32 KiB and 12% more time.
	midBytes = 128 << 10
	// overMid bounds the chunks above the largest class that still go
	// to it (chunkClass): a chunk larger than that serves no class well.
	overMid = 32 << 10
)

// midLimitOf is the most chunks an upper class of request size n holds:
// midBytes of chunks, two at least.
func midLimitOf(n uintptr) uint32 { return uint32(max(2, midBytes/n)) }

// midSizes are the request sizes of the upper classes: eight per
// doubling up to 4 KiB, four above.
var midSizes = func() (s [nMid]uintptr) {
	i := 0
	for base := uintptr(1024); base < midLimit; base *= 2 {
		steps := uintptr(4)
		if base < midFine {
			steps = 8
		}
		for q := uintptr(1); q <= steps; q++ {
			s[i] = base + q*base/steps
			i++
		}
	}
	return
}()

// midFine is where the upper classes go from eight per doubling to four,
// and midShift the log2 of the step of every class size (128 bytes).
const (
	midFine  = 4096
	midShift = 7
)

// midClassOf[(n-1)>>midShift] is the smallest upper class whose size is
// >= n, for 1024 < n <= 65536 (every class size is a multiple of 128).
var midClassOf = func() (t [midLimit >> midShift]uint8) {
	k := 0
	for i := range t {
		n := uintptr(i+1) << midShift
		for midSizes[k] < n {
			k++
		}
		t[i] = uint8(k)
	}
	return
}()

// classChunk is the chunk size each class holds.
var classChunk = func() (s [nClasses]uintptr) {
	for i := 0; i < nSmall; i++ {
		s[i] = uintptr(32 + 16*i)
	}
	for i, n := range midSizes {
		s[nSmall+i] = arena.Request2Size(n)
	}
	return
}()

// smallClassOf[(n+7)>>4] is the class of a request of n <= 1024 bytes:
// the chunk of (n+8+15) &^ 15 bytes, at least 32, is class (n+7)>>4 - 1.
var smallClassOf = func() (t [(smallLimit+7)>>4 + 1]uint8) {
	for i := range t {
		t[i] = uint8(max(i-1, 0))
	}
	return
}()

// requestClass returns the class serving a request of n bytes (n > 1024
// is rounded up to the class), or -1.
func requestClass(n uintptr) int {
	if n <= smallLimit {
		return int(smallClassOf[((n+7)>>4)%uintptr(len(smallClassOf))])
	}
	if n <= midLimit {
		return nSmall + int(midClassOf[(n-1)>>midShift])
	}
	return -1
}

// chunkFloor[u>>midShift] is the class of a free chunk with u usable bytes,
// 1032 < u <= 65536: the largest class whose request size is <= u (every
// class size is a multiple of 128), or the last exact class when none is.
// It has a power-of-two length (entries past midLimit>>midShift repeat the last
// class), so that chunkClass indexes it with a mask: a modulo by 257 was a
// multiply and four more instructions on Free's fast path for every chunk
// above 1 KiB.
var chunkFloor = func() (t [chunkFloorLen]uint8) {
	for i := range t {
		u := uintptr(i) << midShift
		t[i] = nSmall - 1
		for k, n := range midSizes {
			if n <= u {
				t[i] = uint8(nSmall + k)
			}
		}
	}
	return
}()

// chunkClass returns the class a free chunk of size s goes to (the largest
// class it can serve), or -1.
func chunkClass(s uintptr) int {
	if s <= 1040 {
		return int(s-32) >> 4
	}
	u := s - 8 // usable bytes
	if u > midLimit {
		if s > classChunk[nClasses-1]+overMid {
			return -1 // far too big to keep
		}
		u = midLimit
	}
	return int(chunkFloor[(u>>midShift)&(chunkFloorLen-1)])
}

// chunkFloorLen is midLimit>>midShift + 1 rounded up to a power of two.
const chunkFloorLen = 1024

// cacheKey marks the chunks held in per-P caches: a cached chunk's second
// user word holds cacheKey ^ its address (keyFor), as glibc's tcache keeps
// tcache_key in e->key. It is random per process and odd, so no 16-aligned
// chunk has a key of 0.
//
// Free claims a chunk by swapping the key into that word with a
// compare-and-swap (claim): a second free of the same pointer finds the key
// and reports a double free, and of two frees at once exactly one swaps it
// in. The key stays when the chunk goes on to its arena (where it is stale
// and harmless: the arena never reads it, a double free there is still
// caught by it, and perturb leaves the word alone) and is cleared whenever a
// chunk is handed to the program, from a cache (cachePop) or from an arena
// (mallocSlow, AlignedAlloc; Calloc clears everything). A block whose
// second word happens to hold its own key when it is freed is taken for a
// double free: a chance of 2^-64 unless the program copies the key out of
// freed memory.
var cacheKey = rand.Uint64N(1<<63)<<1 | 1

// keyWord returns the word of chunk ch that holds the cache key.
func keyWord(ch uintptr) *uintptr { return (*uintptr)(unsafe.Add(nil, ch+24)) }

// keyFor returns the key a cached chunk ch carries.
func keyFor(ch uintptr) uintptr { return uintptr(cacheKey) ^ ch }

// inCache reports whether chunk ch carries the cache key: it is in a cache,
// or being freed, or (stale) back in its arena.
func inCache(ch uintptr) bool { return *keyWord(ch) == keyFor(ch) }

// clearKey clears the key word of chunk ch, which an arena hands to the
// program (it may hold a stale key), to what M_PERTURB would have put there.
func clearKey(ch uintptr) {
	var w uintptr
	if b := perturbByte.Load(); b != 0 {
		w = 0x0101010101010101 * uintptr(^byte(b))
	}
	*keyWord(ch) = w
}

// claim puts the cache key into heap chunk ch (of size bytes), which a free
// is giving back and which FrontFree found in use, and reports false if the
// key was there already (a double free), or another goroutine put it there
// at the same moment (a double free from two goroutines at once: that one
// wins), or the chunk went back to its arena since FrontFree looked (the
// winner of such a race sent it there; its free-list links may now occupy
// the key's word, which must not be overwritten). The arena clears the next
// chunk's P bit before it writes a link into a freed chunk, and loads are
// not reordered with loads, so reading the P bit after the key word and
// before the swap leaves no gap. The compare-and-swap costs the
// Malloc+Free pair well under a nanosecond here (see SECURITY.md).
func claim(ch, size uintptr) bool {
	k := keyWord(ch)
	v := atomic.LoadUintptr(k)
	return v != keyFor(ch) && arena.NextInUse(ch, size) && atomic.CompareAndSwapUintptr(k, v, keyFor(ch))
}

// claimFree is claim for Free's slow path (freeMiss): with harden=1 the
// compare-and-swap; at harden=0 the same checks and a plain store, as the
// fast path does (fast.go). The swap settles a race of two frees of one
// block, which harden=0 does not promise to settle (SECURITY.md), and it
// cost a sampled block's free an atomic operation for nothing.
func claimFree(ch, size uintptr) bool {
	if fastOff.Load()&fastHarden != 0 {
		return claim(ch, size)
	}
	k := keyWord(ch)
	if *k == keyFor(ch) || !arena.NextInUse(ch, size) {
		return false
	}
	*k = keyFor(ch)
	return true
}

// cacheCorrupted reports a chunk popped from a cache whose link decodes to
// an unaligned address (a forged or overwritten link: next) or that lost its
// key (written after free, or freed twice by two goroutines at once and
// already popped by the other cache).
//
//go:noinline
func cacheCorrupted(ch, next uintptr) {
	if next&15 != 0 {
		panic(&arena.CorruptionError{Op: "malloc(): unaligned tcache chunk detected", Addr: ch + 16})
	}
	panic(&arena.CorruptionError{Op: "malloc(): corrupted tcache chunk (double free or write after free)", Addr: ch + 16})
}

// nClassSlots is nClasses rounded up to a power of two, so that the fast
// paths index a cache's classes with a mask, without a bounds check; the
// slots past nClasses stay empty with limit 0. A cache has nBinSlots
// slots that the fast paths use: its own classes, then, at nClassSlots on,
// the foreign classes of the exact classes; then, at stashBase on, the
// stashes of the exact classes, which only the slow paths touch.
const (
	nClassSlots = 128
	nBinSlots   = nClassSlots + nSmall
	stashBase   = nBinSlots
)

// The stash. A class of the process heap's caches holds half its limit
// (tcache_count) in its list, which the fast paths push to and pop from,
// and up to as many again in its stash, a second list: when a free finds
// the list full, the list becomes the stash, whole, and the stash it
// replaces goes to the arena's lists as one batch (giveBackList); when a
// malloc finds the list empty, the stash becomes the list. Each is a few
// pointer moves (freeToStash, cachePop; cachePushFull when a stash goes
// back), where taking half of a full list off its head walked the links
// of 32 chunks, a chain of dependent loads, with a granule lookup and a
// rewritten link for each chunk. Bonwick's magazines (the loaded and the
// previous magazine of each CPU, "Magazines and Vmem", 2001) work the same
// way. In bench-malloc-simple's 400 blocks of 1 KiB (400 mallocs, then
// their 400 frees in order) a pair went from 234 to 195 instructions and
// from 35.6 to 28.1 ns (AMD EPYC, benchstat of 8 alternating runs); the
// price is paid by a class whose level hovers at half its limit, where
// list and stash change places often (thread-shape and random-live: 180
// to 182 instructions an operation). The list and the stash together hold
// the class's limit at most, as before. Only the exact classes have
// stashes, and only while half their limit is a batch at most (limits 2
// to 2*maxBatch; the default is 64), since a stash leaves as one batch;
// private heaps' caches have none (stashMask).

// Foreign chunks: a chunk freed on a P whose arena does not own it (its
// goroutine allocated it on another P, or the P moved to another arena)
// goes to the P's foreign class, which Malloc does not take from (but in
// a heap of 64 MiB or more, reuseForeign in malloc.go); a full foreign
// class goes back to the owners' arena lists (giveBack), where their own
// Ps refill from. A P thus hands out only chunks of its own arena, and two
// Ps do not hand out neighbouring chunks that share a cache line: with one set of classes, a chunk freed on the other P came back to
// the program from this P, next to chunks the other P kept using, and the
// line went back and forth between the cores for as long as both lived
// (thread-shape's 32-byte chunks, two to a line, ran 15% more CPU time an
// operation on two Ps than on one). foreignSlot tells which.
//
// Only the exact classes (chunks up to 1040 bytes) have foreign classes.
// A larger chunk shares at most the line of its neighbour's header, and
// sending those home cost more than it saved: rptest, whose threads free
// blocks of up to 16 KB that others allocated, went from 73 to 107 ns an
// operation when every class had them (the owner's arena then took the
// chunks under its lock, while the freeing P carved new ones), and back
// to 70-78 with the exact classes only. Even so, a goroutine that keeps a
// large live set and changes P would pay for it: each of its frees sends a
// chunk home and its next malloc takes a cold one (the churn of 5 M
// values: 150-165 ns a replacement against 139-143 with one set of
// classes). In a heap that large, an empty class reuses the foreign class
// instead (reuseForeign), where sharing lines with the other P is rare.

// cacheSlots lists the slots of a cache that hold classes: its own, then
// its foreign ones.
var cacheSlots = func() (s []int) {
	for cl := 0; cl < nClasses; cl++ {
		s = append(s, cl)
	}
	for cl := 0; cl < nSmall; cl++ {
		s = append(s, nClassSlots+cl)
	}
	for cl := 0; cl < nSmall; cl++ {
		s = append(s, stashBase+cl)
	}
	return s
}()

// slotClass is the class of cache slot s.
func slotClass(s int) int {
	if s >= stashBase {
		return s - stashBase
	}
	return s % nClassSlots
}

type cacheBin struct {
	head  uintptr // chunk address of the first chunk, or 0
	count uint32
	limit uint32
}

// pcache is one P's front cache.
type pcache struct {
	bins [nBinSlots]cacheBin
	// foreignBins is &bins[nClassSlots]: the foreign classes.
	foreignBins *[nSmall]cacheBin
	arena       atomic.Pointer[arena.Arena] // the arena this P refills from
	// home is the arena's LocalEntry: a chunk whose GranuleEntry differs
	// is foreign here.
	home atomic.Uint32
	pid  int // the P's id (-1: the spare cache)
	// sampleLeft counts down the bytes this P allocates until the next
	// heap-profile sample (see sample.go).
	sampleLeft int64
	mu         sync.Mutex // used only under the race detector

	// The stashes, after what the fast paths read (stashBase); their
	// arrays last, so that a fresh cache's first malloc writes no more
	// pages than the fields before them.
	//
	// stashMask has bit cl set when exact class cl has a stash (see
	// stashBase). An arena's lists hold its own chunks only, so a stash
	// goes back as one batch only if it holds one arena's chunks: a list
	// that the fast paths filled since it was last empty does, as long as
	// the cache did not change arena meanwhile. mixed and stashMixed have
	// bit cl set when the slow paths put other chunks in the class's list
	// or stash (a refill for another P's arena, reuseForeign); gen counts
	// the cache's changes of arena (setArena, which may run on another P),
	// and listGen and stashGen hold gen as it was when the list, or the
	// list that became the stash, was last empty. Only the cache's P
	// writes the rest.
	stashMask         uint64
	mixed, stashMixed uint64
	gen               atomic.Uint32
	listGen, stashGen [nSmall]uint32
	stash             [nSmall]cacheBin

	// Grown limits (grow.go): slowTick counts the class exchanges with
	// the arenas (give-backs and refills of exact classes), gaveBack[cl]
	// is slowTick at class cl's last give-back (0: none since it last
	// grew), and grownBytes is what growth added to the classes' limits,
	// in bytes of chunks. Only the cache's P touches them.
	slowTick   uint32
	gaveBack   [nSmall]uint32
	grownBytes uintptr
	grownMask  uint64   // bit cl: exact class cl has grown
	_          [64]byte // keep neighbouring caches off this cache line
}

// slot returns cache slot s of c: a class, a foreign class, or a stash.
func (c *pcache) slot(s int) *cacheBin {
	if s >= stashBase {
		return &c.stash[s-stashBase]
	}
	return &c.bins[s]
}

// newPcache returns an empty cache for P pid (-1: none) with the
// sampling countdown at sampleLeft; its classes are off until
// refreshLimits.
func newPcache(pid int, sampleLeft int64) *pcache {
	c := newPcacheStruct() // zeroed: its 4.7 KiB are not written twice
	c.pid, c.sampleLeft = pid, sampleLeft
	c.foreignBins = (*[nSmall]cacheBin)(c.bins[nClassSlots:])
	return c
}

// firstPcache is the first cache of the process, in static memory: the
// first Malloc of a fresh process then takes no span of the Go heap for its
// 3 KiB (a span's first use costs page faults of its own). Later caches,
// and this one's replacements when it is flushed, come from the Go heap.
var (
	firstPcache     pcache
	firstPcacheUsed atomic.Bool
)

// newPcacheStruct returns zeroed memory for a pcache: firstPcache once
// (static memory nothing has used: touchFirstPages writes zeroes to its
// pages), then the Go heap's.
func newPcacheStruct() *pcache {
	if firstPcacheUsed.CompareAndSwap(false, true) {
		return &firstPcache
	}
	return new(pcache)
}

// pinCache pins the caller to its P and returns the P's cache, locked as
// lockedCache locks it (release undoes both), or nil, and the caller
// unpinned, when the P has no cache.
func pinCache() *pcache {
	c := lockedCache(procPin())
	if c == nil {
		procUnpin()
	}
	return c
}

// release ends what lockedCache began for cache c: it unlocks c's mutex
// (the race detector's build) and unpins the caller from its P.
func (c *pcache) release() {
	if raceEnabled {
		c.mu.Unlock()
	}
	procUnpin()
}

// setArena makes a the arena c refills from.
func (c *pcache) setArena(a *arena.Arena) {
	c.home.Store(a.LocalEntry())
	c.arena.Store(a)
	c.gen.Add(1) // after the arena: a P that reads the new gen sees the new home
}

// foreign reports whether a chunk of class cl whose GranuleEntry is entry
// goes to cache c's foreign classes: an exact class's chunk that c's arena
// does not own. The free fast path (with the entry FastRegion gave it) and
// foreignSlot both decide by it.
//
//go:nosplit
func (c *pcache) foreign(entry uint32, cl int) bool {
	return cl < nSmall && entry != c.home.Load()
}

// foreignSlot returns the slot of chunk ch of class cl in cache c: cl, or
// nClassSlots+cl when the chunk is foreign there.
//
//go:nosplit
func (c *pcache) foreignSlot(ch uintptr, cl int) uint {
	if c.foreign(arena.GranuleEntry(ch), cl) {
		return uint(cl) + nClassSlots
	}
	return uint(cl) % nBinSlots
}

// maxCachedProcs bounds the Ps that get a cache; Ps beyond it (GOMAXPROCS
// above 1024) allocate from the arenas directly.
const maxCachedProcs = 1024

var (
	// caches holds one slot per P.
	caches   [maxCachedProcs]atomic.Pointer[pcache]
	cachesMu sync.Mutex

	cacheLimits atomic.Pointer[[nClasses]uint32]
	cacheMax    atomic.Uintptr // largest cached request (tcache_max)
	cacheGrow   atomic.Uintptr // what a P's classes may grow (tcache_grow; grow.go)
)

// firstLimits holds the classes' limits of the first configureCaches, in
// static memory (touchFirstPages writes its page at start-up): from the
// Go heap, the 384 bytes took a span of a size class nothing had used yet,
// and the first Malloc two more page faults, about 10 us here. Later
// configurations, which replace the limits while caches read them, take
// fresh arrays from the Go heap.
var (
	firstLimits     [nClasses]uint32
	firstLimitsUsed atomic.Bool
)

// newLimits returns a zeroed array for the classes' limits.
func newLimits() *[nClasses]uint32 {
	if firstLimitsUsed.CompareAndSwap(false, true) {
		return &firstLimits
	}
	return new([nClasses]uint32)
}

// configureCaches applies tcache_count and tcache_max.
func configureCaches(s *tune.Settings) {
	count := uint32(s.Get(tune.TcacheCount))
	maxReq := uintptr(s.Get(tune.TcacheMax))
	l := newLimits()
	for i := range l {
		// The smallest request the class serves decides whether it is on.
		var minReq uintptr
		switch {
		case i == 0:
			minReq = 0
		case i < nSmall:
			minReq = classChunk[i] - 23
		case i == nSmall:
			minReq = smallLimit + 1
		default:
			minReq = midSizes[i-nSmall-1] + 1
		}
		if minReq > maxReq {
			continue
		}
		lim := count
		if i >= nSmall {
			lim = min(count, midLimitOf(midSizes[i-nSmall]))
		}
		l[i] = lim
	}
	cacheLimits.Store(l)
	cacheMax.Store(maxReq)
	cacheGrow.Store(uintptr(min(s.Get(tune.TcacheGrow), 1<<40)))
	configureDebug(s) // check_action and debug (debug.go)
}

// cacheFor returns the cache of P pid, or nil. Called pinned.
func cacheFor(pid int) *pcache {
	if uint(pid) >= maxCachedProcs {
		return nil
	}
	return caches[pid].Load()
}

// cacheIn is cacheFor over the caches cs of a heap (the process heap's, or
// a private heap's).
func cacheIn(cs []atomic.Pointer[pcache], pid int) *pcache {
	if uint(pid) >= uint(len(cs)) {
		return nil
	}
	return cs[pid].Load()
}

// lockedCache returns P pid's cache, or nil, to a caller pinned to pid
// (or, as cacheFigures, one that only reads its counts atomically).
// Under the race detector it also locks the cache's mutex (the caller
// unlocks it) and, since procPin does not keep the goroutine on its P
// there, makes sure the cache it locked is still the P's: stealCaches may
// have taken it, and quiesce locked and unlocked it, between the load and
// the lock, and the stealer then owns it without the mutex.
func lockedCache(pid int) *pcache { return lockedCacheIn(caches[:], pid) }

// lockedCacheIn is lockedCache over the caches cs of a heap.
func lockedCacheIn(cs []atomic.Pointer[pcache], pid int) *pcache {
	c := cacheIn(cs, pid)
	if !raceEnabled {
		return c
	}
	for c != nil {
		c.mu.Lock()
		cur := cacheIn(cs, pid)
		if cur == c {
			return c
		}
		c.mu.Unlock()
		c = cur
	}
	return nil
}

// ensureCache makes sure P pid has a cache (called unpinned).
func ensureCache(pid int) {
	if uint(pid) >= maxCachedProcs {
		return
	}
	cachesMu.Lock()
	defer cachesMu.Unlock()
	if caches[pid].Load() == nil {
		caches[pid].Store(newCache(pid))
	}
}

func newCache(pid int) *pcache {
	c := newPcache(pid, nextSampleGap())
	c.refreshLimits(true)
	c.setArena(homeArena(pid))
	return c
}

// refreshLimits sets the limits of c's classes from tcache_count; with
// stash, an exact class whose limit is 2 to 2*maxBatch keeps half of it in
// its list and has a stash for the other half (see stashBase). The
// stashes' own slots are left alone: their lists are never longer than
// their class's limit, which says how long they may be.
func (c *pcache) refreshLimits(stash bool) {
	l := cacheLimits.Load()
	c.stashMask = 0
	c.grownBytes, c.grownMask, c.gaveBack = 0, 0, [nSmall]uint32{}
	for _, s := range cacheSlots {
		if s >= stashBase {
			continue
		}
		lim := l[slotClass(s)]
		if stash && s < nSmall && lim >= 2 && lim <= 2*maxBatch {
			lim /= 2
			c.stashMask |= 1 << s
		}
		c.bins[s].limit = lim
	}
}
