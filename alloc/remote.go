package alloc

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// Arena lists: when a P's cache class overflows, the half it gives back
// goes, as one batch, onto the class's list of the arena its chunks belong
// to, with one compare-and-swap, instead of through the arena's lock and
// its coalescing; a refill of the class with an empty cache class takes one
// batch off its arena's list, again with one compare-and-swap, and the
// batch becomes the cache class as it is, without a walk. For another P's
// arena (a consumer freeing what a producer allocated) neither side waits
// for the other; for the P's own arena the chunks are not coalesced only to
// be split again (mimalloc's thread-delayed free lists and tcmalloc's
// transfer cache are the same ideas).
//
// A list is a stack of batches. A batch is chunks linked as in a cache
// class (the link safe-linked in the first user word, the cache key kept in
// the second, so a double free of a chunk waiting there is caught, and a
// forged link is caught when the chunk is handed out, as in a cache); the
// last one's link is 0. The batch's first chunk carries, in its third user
// word, the next batch and the number of chunks (batchMeta). Pushes are
// lock-free; takers (refills, drains) hold the arena's take flag, so only
// one goroutine at a time removes batches, and a batch cannot leave and
// come back to the head while a taker looks at it (no ABA). The chunks are
// in use to their arena, like cached ones. The lists are bounded
// (remoteMax chunks, remoteMaxBytes bytes per arena): past that, chunks go
// through the lock as before. Trim, Check, FlushCaches and the idle
// flusher give waiting chunks back to their arenas (drainRemotes).

// remoteMax and remoteMaxBytes bound what waits on one arena's lists.
const (
	remoteMax      = 16384
	remoteMaxBytes = 1 << 20
)

// remoteLists are one arena's lists, one per exact class.
type remoteLists struct {
	heads  [nSmall]atomic.Uintptr // first chunk of each list's first batch, or 0
	chunks atomic.Int64           // chunks on all the lists
	bytes  atomic.Int64           // and their bytes
	take   atomic.Uint32          // held (1) by the goroutine removing batches
	last   uintptr                // the idle flusher's signature of the heads
	hints  hintTable              // the chunks of recent batches (remotehint.go)
}

// remoteOf returns arena i's lists, creating them if create is set.
func remoteOf(i int, create bool) *remoteLists {
	if r := arenaStates[i].remote.Load(); r != nil || !create {
		return r
	}
	arenaStates[i].remote.CompareAndSwap(nil, new(remoteLists))
	return arenaStates[i].remote.Load()
}

// metaWord returns the word of a batch's first chunk ch that holds the
// batch's metadata: its third user word, inside the chunk's usable bytes
// for every chunk size (a 32-byte chunk has 24).
func metaWord(ch uintptr) *uintptr { return (*uintptr)(unsafe.Add(nil, ch+32)) }

// batchMeta packs a batch's next batch (a chunk address, below 2^48) and
// its chunk count into one word; batchNext and batchCount unpack it.
func batchMeta(next uintptr, n int) uintptr { return next | uintptr(n)<<48 }
func batchNext(m uintptr) uintptr           { return m & (1<<48 - 1) }
func batchCount(m uintptr) int              { return int(m >> 48) }

// maxBatch is the most chunks in one batch: a cache class's flush (half of
// its limit, refillBatch at most) is one batch.
const maxBatch = refillBatch

// giveBack returns chunks of class cl that left a cache: onto their
// arenas' lists while there is room, the rest to their arenas under the
// lock (freeChunks).
func giveBack(chs []uintptr, cl int) {
	if cl >= nSmall || len(chs) == 0 {
		freeChunks(chs)
		return
	}
	var local [refillBatch]uintptr
	nl := 0
	for i := 0; i < len(chs); {
		a := heap.ArenaIndexOf(chs[i])
		j := i + 1
		for j < len(chs) && j-i < maxBatch && heap.ArenaIndexOf(chs[j]) == a {
			j++
		}
		if a < 0 || !pushRemote(a, chs[i:j], cl) {
			for _, ch := range chs[i:j] {
				if nl == len(local) {
					freeChunks(local[:nl])
					nl = 0
				}
				local[nl] = ch
				nl++
			}
		}
		i = j
	}
	freeChunks(local[:nl])
}

// pushRemote puts run (at most maxBatch chunks of class cl of arena idx)
// on the arena's list as one batch, and reports false (leaving the chunks
// alone) when the lists are full.
func pushRemote(idx int, run []uintptr, cl int) bool {
	r := remoteOf(idx, true)
	if !r.reserve(len(run), cl) {
		return false
	}
	for i := 0; i < len(run)-1; i++ {
		setLink(run[i], run[i+1])
	}
	setLink(run[len(run)-1], 0)
	r.hints.noteBatch(run)
	r.pushBatch(run[0], len(run), cl)
	return true
}

// reserve counts n chunks of class cl onto r's lists, or reports false
// (counting nothing) when the lists would hold more than remoteMax chunks
// or remoteMaxBytes.
func (r *remoteLists) reserve(n, cl int) bool {
	b := int64(n) * int64(classChunk[cl])
	if r.chunks.Add(int64(n)) > remoteMax || r.bytes.Add(b) > remoteMaxBytes {
		r.chunks.Add(-int64(n))
		r.bytes.Add(-b)
		return false
	}
	return true
}

// pushBatch puts the batch of n chunks of class cl linked from first (the
// last link 0) on r's list for the class, counted already (reserve).
func (r *remoteLists) pushBatch(first uintptr, n, cl int) {
	for {
		old := r.heads[cl].Load()
		*metaWord(first) = batchMeta(old, n)
		if r.heads[cl].CompareAndSwap(old, first) {
			return
		}
	}
}

// giveBackList is giveBack for a cache list of class cl: n chunks (maxBatch
// at most) linked from first, the last link 0, as a stash is. A list of
// one arena's chunks goes onto that arena's lists as it is, one batch,
// without a walk; a list that may be mixed (pcache.mixed), or one that
// finds the lists full, goes chunk by chunk (giveBack).
func giveBackList(first uintptr, n, cl int, mixed bool) {
	if a := heap.ArenaIndexOf(first); !mixed && a >= 0 && pushRemoteList(a, first, n, cl) {
		return
	}
	var chs [maxBatch]uintptr
	k, err := batchChunks(first, n, chs[:])
	giveBack(chs[:k], cl)
	if err != nil {
		panic(err)
	}
}

// pushRemoteList is pushRemote for a list of arena idx's chunks already
// linked and ending in 0 (n chunks, maxBatch at most): only the batch's
// metadata is written.
func pushRemoteList(idx int, first uintptr, n, cl int) bool {
	r := remoteOf(idx, true)
	if !r.reserve(n, cl) {
		return false
	}
	r.pushBatch(first, n, cl)
	return true
}

// setLink stores next as chunk ch's safe-linked list link.
func setLink(ch, next uintptr) {
	*(*uintptr)(unsafe.Add(nil, ch+16)) = arena.Protect(ch+16, next)
}

// link returns chunk ch's list link, decoded.
func link(ch uintptr) uintptr {
	return arena.Protect(ch+16, *(*uintptr)(unsafe.Add(nil, ch+16)))
}

// takeBatch takes one batch of class cl off arena idx's list and returns
// its first chunk and its length (the chunks linked as in a cache class,
// the last link 0), or 0. It takes none when another goroutine is taking
// from the arena's lists. A batch whose head is not a chunk of offheap's
// heap carrying its cache key drops the whole list (never followed
// further) and is reported; links inside a batch are checked as a cache's
// are, when each chunk is handed out.
func takeBatch(idx, cl int) (first uintptr, n int) {
	if cl >= nSmall {
		return 0, 0
	}
	r := remoteOf(idx, false)
	if r == nil || r.heads[cl].Load() == 0 || !r.take.CompareAndSwap(0, 1) {
		return 0, 0
	}
	first, n, bad := r.takeLocked(cl)
	r.take.Store(0)
	if bad != nil {
		panic(bad)
	}
	if first != 0 {
		r.hints.prefetchBatch(first, n)
	}
	return first, n
}

// takeLocked is takeBatch with the take flag held.
func (r *remoteLists) takeLocked(cl int) (first uintptr, n int, bad *arena.CorruptionError) {
	for {
		h := r.heads[cl].Load()
		if h == 0 {
			return 0, 0, nil
		}
		if h&15 != 0 || heap.Room(h) < 48 || !inCache(h) {
			// Drop the whole list: what follows cannot be trusted.
			r.heads[cl].Store(0)
			r.chunks.Store(0) // lost with it: the counts restart
			r.bytes.Store(0)
			return 0, 0, &arena.CorruptionError{Op: "malloc(): corrupted remote free list (write after free?)", Addr: h + 16}
		}
		m := *metaWord(h)
		// Pushers only add in front of h, and no other taker runs, so h's
		// metadata is what it was when h was pushed: cut h off if it is
		// still the head, or look again.
		if r.heads[cl].CompareAndSwap(h, batchNext(m)) {
			n = batchCount(m)
			r.chunks.Add(int64(-n))
			r.bytes.Add(int64(-n) * int64(classChunk[cl]))
			return h, n, nil
		}
	}
}

// batchChunks lists the chunks of a batch from its first chunk, n of them,
// into out, checking each link as a cache pop does; it returns how many it
// listed and the corruption that cut the batch short, if any.
func batchChunks(first uintptr, n int, out []uintptr) (int, *arena.CorruptionError) {
	x := first
	for i := 0; i < n && i < len(out); i++ {
		if x&15 != 0 || heap.Room(x) < 32 || !inCache(x) {
			return i, &arena.CorruptionError{Op: "malloc(): corrupted remote free list (write after free?)", Addr: x + 16}
		}
		out[i] = x
		x = link(x)
	}
	return min(n, len(out)), nil
}

// drainRemotes gives every chunk waiting on a list back to its arena;
// when idle is set, only the lists of arenas whose lists did not change
// since the last idle call. It returns the first corruption found.
func drainRemotes(idle bool) (bad *arena.CorruptionError) {
	for i := range arenaStates {
		r := arenaStates[i].remote.Load()
		if r == nil {
			continue
		}
		if idle {
			var sig uintptr
			for cl := range r.heads {
				sig += r.heads[cl].Load() * uintptr(cl+1)
			}
			prev := r.last
			r.last = sig
			if sig == 0 || sig != prev {
				continue
			}
		}
		for !r.take.CompareAndSwap(0, 1) {
			runtime.Gosched() // a refill is taking a batch: a moment
		}
		var batch [maxBatch]uintptr
		for cl := range r.heads {
			for r.heads[cl].Load() != 0 {
				first, n, err := r.takeLocked(cl)
				if err == nil {
					n, err = batchChunks(first, n, batch[:])
				}
				if err != nil && bad == nil {
					bad = err
				}
				if ferr := freeBatch(batch[:n]); ferr != nil && bad == nil {
					bad = ferr
				}
			}
		}
		r.take.Store(0)
	}
	return bad
}

// freeBatch is freeChunks that returns the corruption it finds instead of
// panicking.
func freeBatch(chs []uintptr) (bad *arena.CorruptionError) {
	defer catchCorruption(&bad)
	freeChunks(chs)
	return nil
}

// remoteFigures counts the chunks waiting on the lists and their bytes.
func remoteFigures() (chunks, bytes uint64) {
	for i := range arenaStates {
		if r := arenaStates[i].remote.Load(); r != nil {
			chunks += uint64(max(r.chunks.Load(), 0))
			bytes += uint64(max(r.bytes.Load(), 0))
		}
	}
	return
}
