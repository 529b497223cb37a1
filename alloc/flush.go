package alloc

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// stealCaches replaces the cache of every P for which take returns true
// with an empty one, waits until no goroutine can still be using the old
// caches, and returns them: the caller owns them exclusively.
func stealCaches(take func(pid int, c *pcache) bool) []*pcache {
	cachesMu.Lock()
	defer cachesMu.Unlock()
	var stolen []*pcache
	for pid := range caches {
		old := caches[pid].Load()
		if old != nil && take(pid, old) {
			caches[pid].Store(newCache(pid))
			stolen = append(stolen, old)
		}
	}
	if len(stolen) > 0 {
		quiesce(stolen)
	}
	return stolen
}

// quiesce waits until no goroutine is inside a pinned section that may have
// loaded one of the stolen caches. A pinned goroutine cannot be stopped, so
// once the world has been stopped and restarted all such sections are over
// (runtime.ReadMemStats stops the world). Under the race detector the
// caches' mutexes serve instead, and make the hand-over visible to it.
func quiesce(stolen []*pcache) {
	if raceEnabled {
		for _, c := range stolen {
			c.mu.Lock()
			c.mu.Unlock() //nolint:staticcheck // an empty critical section is the point
		}
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
}

// cachedChunks lists the chunks of stolen caches, checking that each sits
// in the class its size belongs to.
func cachedChunks(stolen []*pcache) ([]uintptr, error) {
	var out []uintptr
	for _, c := range stolen {
		for cl := range c.bins {
			n := 0
			for ch := c.bins[cl].head; ch != 0; ch = arena.Protect(ch+16, *(*uintptr)(unsafe.Add(nil, ch+16))) {
				if ch&15 != 0 {
					return out, fmt.Errorf("cache: class %d: unaligned chunk %#x (forged link?)", cl, ch)
				}
				if n++; n > int(c.bins[cl].count) {
					return out, fmt.Errorf("cache: class %d holds more chunks than its count %d", cl, c.bins[cl].count)
				}
				if k, _ := heap.Lookup(ch + 16); k != arena.InHeap {
					return out, fmt.Errorf("cache: class %d: chunk %#x is not in any arena", cl, ch)
				}
				if !inCache(ch) {
					return out, fmt.Errorf("cache: class %d: chunk %#x lost its key (written after free?)", cl, ch)
				}
				if got := chunkClass(arena.ChunkSize(ch)); got != cl {
					return out, fmt.Errorf("cache: chunk %#x of size %d sits in class %d, belongs in %d", ch, arena.ChunkSize(ch), cl, got)
				}
				out = append(out, ch)
			}
			if n != int(c.bins[cl].count) {
				return out, fmt.Errorf("cache: class %d counts %d chunks, holds %d", cl, c.bins[cl].count, n)
			}
		}
	}
	return out, nil
}

// checkAll is Check made exact while other goroutines allocate and free:
// the caches are taken away and their slots left empty until the walk is
// over (a goroutine that wants a cache meanwhile waits for cachesMu, and
// frees to the arenas), so no chunk enters or leaves a cache during the
// walk. With fresh caches in the slots instead, a chunk freed into one
// during the walk would look, to the arena being walked, like a chunk in use
// that no cache holds, or the other way round.
func checkAll() error {
	h := theHeap()
	cachesMu.Lock()
	defer cachesMu.Unlock()
	var stolen []*pcache
	for pid := range caches {
		if old := caches[pid].Load(); old != nil {
			caches[pid].Store(nil)
			stolen = append(stolen, old)
		}
	}
	if len(stolen) > 0 {
		quiesce(stolen)
	}
	defer func() {
		for _, c := range stolen {
			flushCache(c)
		}
	}()
	cached, err := cachedChunks(stolen)
	if err != nil {
		return err
	}
	return h.Check(cached)
}

// flushCache returns every chunk of a stolen cache to its arena.
func flushCache(c *pcache) {
	for cl := range c.bins {
		b := &c.bins[cl]
		var batch [refillBatch]uintptr
		for b.head != 0 {
			n := 0
			for ; n < len(batch) && b.head != 0; n++ {
				x := b.head
				b.head = arena.Protect(x+16, *(*uintptr)(unsafe.Add(nil, x+16)))
				batch[n] = x
			}
			b.count -= uint32(n)
			freeChunks(batch[:n])
		}
	}
}

func flushAll() {
	for _, c := range stealCaches(func(int, *pcache) bool { return true }) {
		flushCache(c)
	}
}

// idleFlushPeriod is how often the idle flusher looks at the caches: a
// cache whose P made no allocation or free during a whole period is given
// back to the arenas, so memory does not sit in the cache of an idle P, or
// of a P that GOMAXPROCS took away.
const idleFlushPeriod = 250 * time.Millisecond

var idleOnce sync.Once

func startIdleFlusher() {
	idleOnce.Do(func() { go idleFlusher() })
}

func idleFlusher() {
	last := map[*pcache]uintptr{}
	for range time.Tick(idleFlushPeriod) {
		seen := map[*pcache]uintptr{}
		stolen := stealCaches(func(pid int, c *pcache) bool {
			sig := c.signature()
			prev, ok := last[c]
			seen[c] = sig
			return ok && prev == sig && sig != 0
		})
		for _, c := range stolen {
			flushCache(c)
		}
		last = seen
	}
}

// signature sums the heads of a cache's classes: 0 for an empty cache, and
// unchanged over a period only if (almost surely) its P did not use it. It
// reads the owner's fields without synchronisation: a torn or stale view
// only makes the idle flusher look again next period.
func (c *pcache) signature() uintptr {
	if raceEnabled {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	var sig uintptr
	for i := range c.bins {
		h := atomic.LoadUintptr(&c.bins[i].head)
		sig += h ^ (h >> 7) ^ uintptr(i)*boolToUintptr(h != 0)
	}
	return sig
}

func boolToUintptr(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}

// FlushCaches returns the chunks held in every per-P cache to their arenas.
// Trim and Check do it first; programs rarely need it.
func FlushCaches() {
	if inited.Load() {
		flushAll()
	}
}
