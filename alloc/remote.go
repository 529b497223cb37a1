package alloc

import (
	"sync/atomic"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// Remote frees: when a P's cache overflows with blocks of another P's arena
// (a consumer freeing what a producer allocated), the overflow goes onto
// that arena's remote list for the class, with one compare-and-swap for
// the whole batch, instead of through the arena's lock; the arena's own P
// takes the whole list with one swap at its next refill of the class, and
// the chunks go straight into its cache. Neither side waits for the other,
// and the chunks are not coalesced only to be split again (mimalloc's
// thread-delayed free lists are the same idea).
//
// A remote list is a stack of chunks linked as in the caches (the link
// safe-linked in the first user word, the cache key kept in the second, so
// a double free of a chunk waiting there is still caught). Pushing a batch
// and taking the whole list are both single atomic operations, and a list
// is only ever taken whole, so the stack has no ABA problem. The chunks are
// in use to their arena, like cached ones. A list is bounded (remoteMax
// chunks per arena): past that, chunks go through the lock as before.
// Trim, Check, FlushCaches and the idle flusher give waiting chunks back to
// their arenas (drainRemotes).

// remoteMax bounds the chunks waiting on one arena's remote lists.
const remoteMax = 4096

// remoteLists are one arena's remote lists, one per exact class.
type remoteLists struct {
	heads  [nSmall]atomic.Uintptr // first chunk of each list, or 0
	chunks atomic.Int64           // chunks on all the lists
	bytes  atomic.Int64           // and their bytes
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

// giveBack returns chunks of class cl that left cache c: those of other
// arenas onto their remote lists while there is room, the rest to their
// arenas under the lock (freeChunks). c may be nil (no cache).
func giveBack(c *pcache, chs []uintptr, cl int) {
	if c == nil || cl >= nSmall || len(chs) == 0 {
		freeChunks(chs)
		return
	}
	home := c.arena.Load()
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
		if a == nil || a == home || !pushRemote(a.Index(), chs[i:j], cl) {
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
	if r.chunks.Add(n) > remoteMax {
		r.chunks.Add(-n)
		return false
	}
	r.bytes.Add(n * int64(classChunk[cl]))
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

// takeRemote takes arena idx's whole remote list of class cl, puts up to
// len(out) of its chunks in out and gives the rest back to their arena
// under the lock; it returns how many it put in out. A link that does not
// lead to a chunk of offheap's heap carrying its cache key ends the list:
// the rest is dropped and reported.
func takeRemote(idx, cl int, out []uintptr) int {
	if cl >= nSmall {
		return 0
	}
	r := remoteOf(idx, false)
	if r == nil || r.heads[cl].Load() == 0 {
		return 0
	}
	x := r.heads[cl].Swap(0)
	n, walked := 0, int64(0)
	var extra [refillBatch]uintptr
	ne := 0
	var bad *arena.CorruptionError
	for x != 0 {
		if x&15 != 0 || heap.FastRoom(x) < 32 || !inCache(x) {
			bad = &arena.CorruptionError{Op: "malloc(): corrupted remote free list (write after free?)", Addr: x + 16}
			break
		}
		next := link(x)
		walked++
		if n < len(out) {
			out[n] = x
			n++
		} else {
			if ne == len(extra) {
				freeChunks(extra[:ne])
				ne = 0
			}
			extra[ne] = x
			ne++
		}
		x = next
	}
	r.chunks.Add(-walked)
	r.bytes.Add(-walked * int64(classChunk[cl]))
	if bad != nil {
		r.chunks.Store(0) // lost with the rest of the list: the count restarts
		r.bytes.Store(0)
	}
	freeChunks(extra[:ne])
	if bad != nil {
		freeChunks(out[:n])
		panic(bad)
	}
	return n
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
		var batch [refillBatch]uintptr
		for cl := range r.heads {
			for r.heads[cl].Load() != 0 {
				err := func() (err *arena.CorruptionError) {
					defer func() {
						if p := recover(); p != nil {
							ce, ok := p.(*arena.CorruptionError)
							if !ok {
								panic(p)
							}
							err = ce
						}
					}()
					freeChunks(batch[:takeRemote(i, cl, batch[:])])
					return nil
				}()
				if err != nil && bad == nil {
					bad = err
				}
			}
		}
	}
	return bad
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
