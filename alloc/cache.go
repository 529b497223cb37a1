package alloc

import (
	"sync"
	"sync/atomic"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/tune"
)

// The per-P front cache, in the spirit of glibc's tcache.
//
// Each P owns a pcache: one singly linked list of free chunks per size
// class. A goroutine pins itself to its P (procPin), pops or pushes a chunk
// and unpins: no lock, no atomic read-modify-write. Chunks in a cache look
// in use to their arena and carry the F bit in their header, so a second
// free of the same pointer is caught; their links are safe-linked (the
// pointer mixed with its own address >> 12) and checked on use.
//
// Size classes: exact chunk sizes 32, 48, ... 1040 (requests up to 1 KiB),
// then four classes per doubling of the request, 1280, 1536, 1792, 2048,
// 2560, ... 65536 bytes. A request in the upper range is rounded up to its
// class, so its chunk comes back to the same class when freed (at most 25%
// more than asked, 11% on average); a chunk from elsewhere (realloc,
// memalign) goes to the largest class it can serve.
//
// Chunks move between a cache and the arenas in batches: an empty class is
// refilled with half its limit under one arena lock, a full one flushes
// half. Any P may free any chunk: a chunk goes to the freeing P's cache, and
// back to the arena that owns it when flushed.
//
// Flushing a cache that its P may be using (Trim, Check, an idle cache, a P
// gone after GOMAXPROCS shrank) swaps the P's slot for an empty cache and
// then waits for a stop-the-world (runtime.ReadMemStats): a pinned goroutine
// cannot be stopped, so when the world has stopped once, no goroutine still
// holds the old cache. Under the race detector a mutex per cache does that.

const (
	nSmall     = 64 // chunk sizes 32..1040
	nMid       = 24 // requests 1280..65536
	nClasses   = nSmall + nMid
	smallLimit = 1024  // largest request of the exact classes
	midLimit   = 65536 // largest request of any class
	midBytes   = 256 << 10
)

// midSizes are the request sizes of the upper classes.
var midSizes = func() (s [nMid]uintptr) {
	i := 0
	for base := uintptr(1024); base < midLimit; base *= 2 {
		for q := uintptr(1); q <= 4; q++ {
			s[i] = base + q*base/4
			i++
		}
	}
	return
}()

// midClassOf[(n-1)>>8] is the smallest upper class whose size is >= n, for
// 1024 < n <= 65536 (every class size is a multiple of 256).
var midClassOf = func() (t [midLimit >> 8]uint8) {
	k := 0
	for i := range t {
		n := uintptr(i+1) << 8
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

// requestClass returns the class serving a request of n bytes (n > 1024
// is rounded up to the class), or -1.
func requestClass(n uintptr) int {
	if n <= smallLimit {
		if n <= 24 {
			return 0
		}
		return int((n+23)>>4) - 2
	}
	if n <= midLimit {
		return nSmall + int(midClassOf[(n-1)>>8])
	}
	return -1
}

// chunkClass returns the class a free chunk of size s goes to (the largest
// class it can serve), or -1.
func chunkClass(s uintptr) int {
	if s <= 1040 {
		return int(s-32) >> 4
	}
	u := s - 8 // usable bytes
	if u > midLimit {
		u = midLimit
		if s > classChunk[nClasses-1]+midBytes {
			return -1 // far too big to keep
		}
	}
	k := int(midClassOf[(u-1)>>8])
	if midSizes[k] > u {
		k--
		if k < 0 {
			return nSmall - 1
		}
	}
	return nSmall + k
}

type cacheBin struct {
	head  uintptr // chunk address of the first chunk, or 0
	count uint32
	limit uint32
}

// pcache is one P's front cache.
type pcache struct {
	bins  [nClasses]cacheBin
	arena atomic.Pointer[arena.Arena] // the arena this P refills from
	// sampleLeft counts down the bytes this P allocates until the next
	// heap-profile sample (see sample.go).
	sampleLeft int64
	mu         sync.Mutex // used only under the race detector
	_          [64]byte   // keep neighbouring caches off this cache line
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
)

// configureCaches applies tcache_count and tcache_max.
func configureCaches(s *tune.Settings) {
	count := uint32(s.Get(tune.TcacheCount))
	maxReq := uintptr(s.Get(tune.TcacheMax))
	var l [nClasses]uint32
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
			lim = min(count, max(2, uint32(midBytes/midSizes[i-nSmall])))
		}
		l[i] = lim
	}
	cacheLimits.Store(&l)
	cacheMax.Store(maxReq)
}

// cacheFor returns the cache of P pid, or nil. Called pinned.
func cacheFor(pid int) *pcache {
	if uint(pid) >= maxCachedProcs {
		return nil
	}
	return caches[pid].Load()
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
		startIdleFlusher()
	}
}

func newCache(pid int) *pcache {
	c := &pcache{sampleLeft: nextSampleGap()}
	c.refreshLimits()
	c.arena.Store(theHeap().Arena(0))
	return c
}

func (c *pcache) refreshLimits() {
	l := cacheLimits.Load()
	for i := range c.bins {
		c.bins[i].limit = l[i]
	}
}
