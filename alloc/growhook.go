package alloc

import (
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// Before an arena grows. Chunks that wait in the per-P caches' classes and
// on the arenas' lists (remote.go) are in use to their arena: it cannot
// coalesce them or hand them out for another size. A program whose sizes
// drift (a compiler moving from pass to pass) then grows the heap, and
// touches fresh pages, while a megabyte of its own chunks waits for sizes
// it no longer asks for: replaying gcc's cc1 (../shared/traces), offheap
// ended with 1.9 MB in its caches and lists and 2,360 page faults, glibc
// with 1,940. glibc empties its fastbins into the bins before it grows the
// top (malloc_consolidate, in _int_malloc's use-the-top step);
// giveBackBeforeGrow does the same for what offheap keeps in front of an
// arena. The arena calls it, under its lock, when no bin can serve a
// request and the top is too small (not for a request it maps instead),
// and searches its bins again if it gave anything back. It takes
//
//   - every batch on the arena's own lists (unless a refill is taking one
//     at that moment), and
//   - the chunks of the arena in the calling P's mid-size classes (above
//     1 KiB: 128 KiB a class, two chunks at least), in its stashes, and in
//     its grown classes (grow.go), which go back to tcache_count.
//
// Small classes keep theirs, as glibc's tcache does, and other Ps' caches
// stay as they are: only a P touches its own. With this, cc1's replay
// faults 2,190 pages (peak RSS 0.7 MB lower); emptying the small classes
// too took 90 more off but made the replay 15% slower (their refills).
// Private heaps (NewHeap) have no hook.

// installGrowHook makes giveBackBeforeGrow process heap h's grow hook.
func installGrowHook(h *arena.Heap) { h.SetGrowHook(giveBackBeforeGrow) }

// giveBackBeforeGrow is the grow hook: it gives arena a, whose lock the
// caller holds, the chunks above and reports whether there were any.
func giveBackBeforeGrow(a *arena.Arena) bool {
	freed := 0
	var batch [maxBatch]uintptr
	if r := remoteOf(a.Index(), false); r != nil && r.take.CompareAndSwap(0, 1) {
		// At most what the lists can hold: other Ps may push while this
		// runs, and the arena's lock is held meanwhile.
		for cl := range r.heads {
			for r.heads[cl].Load() != 0 && freed < remoteMax {
				first, n, err := r.takeLocked(cl)
				if err == nil {
					n, err = batchChunks(first, n, batch[:])
				}
				if err != nil {
					reportLater(err)
				}
				k, err := unrefillLocked(a, batch[:n])
				freed += k
				if err != nil {
					reportLater(err)
				}
			}
		}
		r.take.Store(0)
	}
	if raceEnabled {
		// Under the race detector a P's cache is guarded by its mutex,
		// not by pinning: the hook, which runs under an arena lock, leaves
		// the caches alone there rather than add that order of locks.
		return freed > 0
	}
	// The calling P's mid-size classes, then its stashes (the older half
	// of its exact classes, which went to the arena's lists, and so to
	// this hook, before the stashes kept them: without this, cc1's replay
	// faulted 2,221-2,227 pages against 2,132-2,134), then its grown
	// classes (grow.go), which go back to tcache_count: through one small
	// buffer, a class cursor each, rather than an array as large as each
	// kind can hold (13.8 KiB of frame for the three, on the stack of
	// whatever allocation grows the arena, the first one included).
	var buf [hookBatch]uintptr
	for kind := range 3 {
		for from := 0; ; {
			var n int
			switch kind { // (direct calls: through func values buf would escape to the Go heap)
			case 0:
				n = takeMidClasses(a, buf[:], &from)
			case 1:
				n = takeStashes(a, buf[:], &from)
			default:
				n = takeGrown(a, buf[:], &from)
			}
			if n == 0 {
				break
			}
			k, err := unrefillLocked(a, buf[:n])
			freed += k
			if err != nil {
				reportLater(err)
				break
			}
		}
	}
	return freed > 0
}

// hookBatch is how many chunks the grow hook takes from the caches at a
// time.
const hookBatch = 128

// takeStashes takes the chunks of arena a out of the calling P's stashes
// into out, as many as fit, from exact class *from on, and returns how
// many it took, leaving *from at the class to go on from. A stash whose
// links do not check out is left as it is, for the pop that takes it to
// report.
func takeStashes(a *arena.Arena, out []uintptr, from *int) int {
	n := 0
	pid := procPin()
	if c := cacheFor(pid); c != nil {
		for ; *from < nSmall; *from++ {
			if st := &c.stash[*from]; st.head != 0 && st.sound() {
				if n += st.takeArena(a, out[n:]); n == len(out) {
					break // this class again next time
				}
			}
		}
	}
	procUnpin()
	return n
}

// takeMidClasses takes the chunks of arena a out of the calling P's
// mid-size classes into out, as many as fit, from the *from-th on, keeping
// each class's other chunks in order, and returns how many it took,
// leaving *from at the class to go on from. A class whose links do not
// check out is left as it is, for cachePop to report.
func takeMidClasses(a *arena.Arena, out []uintptr, from *int) int {
	n := 0
	pid := procPin()
	if c := cacheFor(pid); c != nil {
		for ; *from < nMid; *from++ {
			if b := &c.bins[nSmall+*from]; b.head != 0 && b.sound() {
				if n += b.takeArena(a, out[n:]); n == len(out) {
					break // this class again next time
				}
			}
		}
	}
	procUnpin()
	return n
}

// sound reports whether class b's links decode to 16-aligned chunks and
// its list ends within b.count chunks. The caller is pinned to b's P.
func (b *cacheBin) sound() bool {
	for x, i := b.head, uint32(0); x != 0; i++ {
		if i >= b.count {
			return false
		}
		if x = link(x); x&15 != 0 {
			return false
		}
	}
	return true
}

// takeArena moves the chunks of arena a in sound class b into out, as
// many as fit, relinking the others in their order, and returns how many
// it moved. The caller is pinned to b's P.
func (b *cacheBin) takeArena(a *arena.Arena, out []uintptr) int {
	n := 0
	var keep, tail uintptr
	kept := uint32(0)
	for x := b.head; x != 0; {
		next := link(x)
		if n < len(out) && heap.ArenaIndexOf(x) == a.Index() {
			out[n] = x
			n++
		} else {
			if tail == 0 {
				keep = x
			} else {
				*(*uintptr)(unsafe.Add(nil, tail+16)) = arena.Protect(tail+16, x)
			}
			tail = x
			kept++
		}
		x = next
	}
	if n > 0 {
		if tail != 0 {
			*(*uintptr)(unsafe.Add(nil, tail+16)) = arena.Protect(tail+16, 0)
		}
		b.head = keep
		b.count = kept
	}
	return n
}

// unrefillLocked gives chunks chs back to arena a, whose lock the caller
// holds, and returns how many it gave back and the corruption that
// stopped it, if any.
func unrefillLocked(a *arena.Arena, chs []uintptr) (n int, bad *arena.CorruptionError) {
	defer catchCorruption(&bad)
	for _, ch := range chs {
		a.UnrefillLocked(ch)
		n++
	}
	return n, nil
}
