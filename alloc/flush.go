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
func cachedChunks(stolen []*pcache) ([]uintptr, error) { return cachedChunksIn(heap, stolen) }

// cachedChunksIn is cachedChunks for caches of heap ah.
func cachedChunksIn(ah *arena.Heap, stolen []*pcache) ([]uintptr, error) {
	var out []uintptr
	for _, c := range stolen {
		for _, s := range cacheSlots {
			cl := slotClass(s)
			n := 0
			for ch := c.slot(s).head; ch != 0; ch = arena.Protect(ch+16, *(*uintptr)(unsafe.Add(nil, ch+16))) {
				if ch&15 != 0 {
					return out, fmt.Errorf("cache: class %d: unaligned chunk %#x (forged link?)", cl, ch)
				}
				if n++; n > int(c.slot(s).count) {
					return out, fmt.Errorf("cache: class %d holds more chunks than its count %d", cl, c.slot(s).count)
				}
				if k, _ := ah.Lookup(ch + 16); k != arena.InHeap {
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
			if n != int(c.slot(s).count) {
				return out, fmt.Errorf("cache: class %d counts %d chunks, holds %d", cl, c.slot(s).count, n)
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
	if err := drainRemotes(false); err != nil {
		return err
	}
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
			if err := flushCache(c); err != nil {
				reportLater(err)
			}
		}
	}()
	cached, err := cachedChunks(stolen)
	if err != nil {
		return err
	}
	return h.Check(cached)
}

// flushCache returns every chunk of a stolen cache to its arena. It goes
// on past a corrupted chunk or list (freeChunks, cacheList) and returns the
// first corruption found, or nil.
func flushCache(c *pcache) *arena.CorruptionError { return flushCacheIn(heap, c) }

// flushCacheIn is flushCache for a cache of heap ah.
func flushCacheIn(ah *arena.Heap, c *pcache) *arena.CorruptionError {
	var bad *arena.CorruptionError
	note := func(err *arena.CorruptionError) {
		if bad == nil {
			bad = err
		}
	}
	for _, s := range cacheSlots {
		b := c.slot(s)
		var batch [refillBatch]uintptr
		for b.head != 0 {
			n, err := cacheList(ah, b, batch[:])
			if err != nil {
				note(err)
			}
			var ferr *arena.CorruptionError
			func() {
				defer catchCorruption(&ferr)
				freeChunksIn(ah, batch[:n])
			}()
			if ferr != nil {
				note(ferr)
			}
		}
	}
	return bad
}

// cacheList takes up to len(out) chunks off the front of cache list b. A
// link that does not lead to a 16-aligned address in offheap's heap (a
// forged link, a write after free) ends the list there: the rest is
// dropped, never followed, and reported.
func cacheList(ah *arena.Heap, b *cacheBin, out []uintptr) (n int, bad *arena.CorruptionError) {
	for n < len(out) && b.head != 0 {
		x := b.head
		if x&15 != 0 || ah.Room(x) < 32 {
			b.head, b.count = 0, 0
			return n, &arena.CorruptionError{Op: "malloc(): unaligned tcache chunk detected", Addr: x + 16}
		}
		b.head = arena.Protect(x+16, *(*uintptr)(unsafe.Add(nil, x+16)))
		b.count--
		out[n] = x
		n++
	}
	return n, nil
}

// flushAll returns the chunks of every cache to their arenas; a corruption
// found on the way is reported (panics) once everything else is back.
func flushAll() {
	var bad *arena.CorruptionError
	for _, c := range stealCaches(func(int, *pcache) bool { return true }) {
		if err := flushCache(c); err != nil && bad == nil {
			bad = err
		}
	}
	if err := drainRemotes(false); err != nil && bad == nil {
		bad = err
	}
	if bad != nil {
		panic(bad)
	}
}

// pendingCorruption holds a corruption that a background flush found
// (reportLater): the program's next call that reaches a slow path panics
// with it, in the program's own goroutine, where it can be recovered,
// instead of a panic that no one can recover ending the process.
var pendingCorruption atomic.Pointer[arena.CorruptionError]

// reportLater keeps err for the program's next call (see
// pendingCorruption), unless one is already waiting.
func reportLater(err *arena.CorruptionError) {
	if pendingCorruption.CompareAndSwap(nil, err) {
		setFast(fastPending, true)
	}
}

// raisePending panics with the corruption a background flush found, if
// any. The slow paths call it when fastOff has fastPending set.
func raisePending() {
	if err := pendingCorruption.Swap(nil); err != nil {
		setFast(fastPending, false)
		panic(err)
	}
}

// idleFlushPeriod is how often the idle flusher looks at the caches: a
// cache whose P made no allocation or free during a whole period is given
// back to the arenas, so memory does not sit in the cache of an idle P, or
// of a P that GOMAXPROCS took away.
const idleFlushPeriod = 250 * time.Millisecond

var (
	idleOnce  sync.Once
	idleTimer *time.Timer
	// idleLast holds each cache's signature at the last tick; only the
	// tick uses it, and ticks never overlap (each re-arms the timer when
	// it is done).
	idleLast map[*pcache]uintptr
)

// startIdleFlusher arms the idle flusher's timer. A timer, not a goroutine
// started at once: starting a goroutine at the first allocation wakes
// another thread, which cost the first Malloc about 25 us.
func startIdleFlusher() {
	idleOnce.Do(func() { idleTimer = time.AfterFunc(idleFlushPeriod, idleFlushTick) })
}

// idleFlushTick gives back the caches whose P did not use them for a whole
// period, and the remote lists that did not change, then re-arms.
func idleFlushTick() {
	seen := map[*pcache]uintptr{}
	stolen := stealCaches(func(pid int, c *pcache) bool {
		sig := c.signature()
		prev, ok := idleLast[c]
		seen[c] = sig
		return ok && prev == sig && sig != 0
	})
	for _, c := range stolen {
		if err := flushCache(c); err != nil {
			reportLater(err)
		}
	}
	if err := drainRemotes(true); err != nil {
		reportLater(err)
	}
	idleLast = seen
	idleTimer.Reset(idleFlushPeriod)
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
	for _, i := range cacheSlots {
		h := atomic.LoadUintptr(&c.slot(i).head)
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
