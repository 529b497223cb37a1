package alloc

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// Arena lists: when a P's cache class overflows, the half it gives back
// goes onto the class's list of the arena each chunk belongs to, with one
// compare-and-swap for the whole batch, instead of through the arena's
// lock and its coalescing; a refill of the class takes up to a batch off
// its arena's list before it searches the bins. For another P's arena (a
// consumer freeing what a producer allocated) neither side waits for the
// other; for the P's own arena the chunks are not coalesced only to be
// split again (mimalloc's thread-delayed free lists and tcmalloc's
// transfer cache are the same ideas).
//
// A list is a stack of chunks linked as in the caches (the link
// safe-linked in the first user word, the cache key kept in the second, so
// a double free of a chunk waiting there is still caught). Pushes are
// lock-free; takers (refills, drains) hold the arena's take flag, so only
// one goroutine at a time removes chunks, and a chunk cannot leave and
// come back to the head while a taker looks at it (no ABA). The chunks are
// in use to their arena, like cached ones. The lists are bounded
// (remoteMax chunks, remoteMaxBytes bytes per arena): past that, chunks go
// through the lock as before. Trim, Check, FlushCaches and the idle
// flusher give waiting chunks back to their arenas (drainRemotes).

// remoteMax and remoteMaxBytes bound what waits on one arena's lists.
const (
	remoteMax      = 4096
	remoteMaxBytes = 1 << 20
)

// remoteLists are one arena's remote lists, one per exact class.
type remoteLists struct {
	heads  [nSmall]atomic.Uintptr // first chunk of each list, or 0
	chunks atomic.Int64           // chunks on all the lists
	bytes  atomic.Int64           // and their bytes
	take   atomic.Uint32          // held (1) by the goroutine removing chunks
	last   uintptr                // the idle flusher's signature of the heads
}

// remotes holds each arena's lists, created when first needed.
var remotes [maxArenaTable]atomic.Pointer[remoteLists]

// remoteOf returns arena i's lists, creating them if create is set.
func remoteOf(i int, create bool) *remoteLists {
	if r := remotes[i].Load(); r != nil || !create {
		return r
	}
	remotes[i].CompareAndSwap(nil, new(remoteLists))
	return remotes[i].Load()
}

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
		_, a := heap.Lookup(chs[i] + 16)
		j := i + 1
		for j < len(chs) {
			if _, b := heap.Lookup(chs[j] + 16); b != a {
				break
			}
			j++
		}
		if a == nil || !pushRemote(a.Index(), chs[i:j], cl) {
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

// pushRemote puts run, chunks of class cl of arena idx, on the arena's
// remote list, and reports false (leaving them alone) when the lists are
// full.
func pushRemote(idx int, run []uintptr, cl int) bool {
	r := remoteOf(idx, true)
	n := int64(len(run))
	b := n * int64(classChunk[cl])
	if r.chunks.Add(n) > remoteMax || r.bytes.Add(b) > remoteMaxBytes {
		r.chunks.Add(-n)
		r.bytes.Add(-b)
		return false
	}
	for i := 0; i < len(run)-1; i++ {
		setLink(run[i], run[i+1])
	}
	last := run[len(run)-1]
	for {
		old := r.heads[cl].Load()
		setLink(last, old)
		if r.heads[cl].CompareAndSwap(old, run[0]) {
			return true
		}
	}
}

// setLink stores next as chunk ch's safe-linked list link.
func setLink(ch, next uintptr) {
	*(*uintptr)(unsafe.Add(nil, ch+16)) = arena.Protect(ch+16, next)
}

// link returns chunk ch's list link, decoded.
func link(ch uintptr) uintptr {
	return arena.Protect(ch+16, *(*uintptr)(unsafe.Add(nil, ch+16)))
}

// takeRemote takes up to len(out) chunks of class cl off arena idx's list
// into out and returns how many. It takes none when another goroutine is
// taking from the arena's lists. A link that does not lead to a chunk of
// offheap's heap carrying its cache key ends the list: the whole list is
// dropped (never followed further) and the corruption reported.
func takeRemote(idx, cl int, out []uintptr) int {
	if cl >= nSmall {
		return 0
	}
	r := remoteOf(idx, false)
	if r == nil || r.heads[cl].Load() == 0 || !r.take.CompareAndSwap(0, 1) {
		return 0
	}
	n, bad := r.takeLocked(cl, out)
	r.take.Store(0)
	if bad != nil {
		freeChunks(out[:n])
		panic(bad)
	}
	return n
}

// takeLocked is takeRemote with the take flag held.
func (r *remoteLists) takeLocked(cl int, out []uintptr) (n int, bad *arena.CorruptionError) {
	for {
		h := r.heads[cl].Load()
		n = 0
		x := h
		for x != 0 && n < len(out) {
			if x&15 != 0 || heap.FastRoom(x) < 32 || !inCache(x) {
				// Drop the whole list: what follows cannot be trusted.
				lost := r.heads[cl].Swap(0)
				_ = lost
				r.chunks.Store(0) // lost with it: the counts restart
				r.bytes.Store(0)
				return n, &arena.CorruptionError{Op: "malloc(): corrupted remote free list (write after free?)", Addr: x + 16}
			}
			out[n] = x
			n++
			x = link(x)
		}
		// Pushers only add in front of h, and no other taker runs, so the
		// chain from h to x is unchanged: cut it off if h is still the
		// head, or look again.
		if r.heads[cl].CompareAndSwap(h, x) {
			r.chunks.Add(int64(-n))
			r.bytes.Add(int64(-n) * int64(classChunk[cl]))
			return n, nil
		}
	}
}

// drainRemotes gives every chunk waiting on a remote list back to its
// arena; when idle is set, only the lists of arenas whose lists did not
// change since the last idle call. It returns the first corruption found.
func drainRemotes(idle bool) (bad *arena.CorruptionError) {
	for i := range remotes {
		r := remotes[i].Load()
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
		var batch [refillBatch]uintptr
		for cl := range r.heads {
			for r.heads[cl].Load() != 0 {
				n, err := r.takeLocked(cl, batch[:])
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
	defer func() {
		if p := recover(); p != nil {
			ce, ok := p.(*arena.CorruptionError)
			if !ok {
				panic(p)
			}
			bad = ce
		}
	}()
	freeChunks(chs)
	return nil
}

// remoteFigures counts the chunks waiting on remote lists and their bytes.
func remoteFigures() (chunks, bytes uint64) {
	for i := range remotes {
		if r := remotes[i].Load(); r != nil {
			chunks += uint64(max(r.chunks.Load(), 0))
			bytes += uint64(max(r.bytes.Load(), 0))
		}
	}
	return
}
