//go:build !race && !asan && !msan && (!(amd64 && go1.26 && !go1.27) || offheap_noasm)

package alloc

import (
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// Free's fast path in Go (fast.go explains it); amd64 with go1.26 has it in
// assembly (fast_free_amd64.s) unless built with the tag offheap_noasm.
// TestFastFreeAsm holds the assembly to this function's decision, of which
// it keeps a copy (freeFastWant): a change here goes there too.

// Free frees memory from Malloc, Calloc, Realloc or AlignedAlloc. Free(nil)
// does nothing. A pointer that offheap did not return (Go heap, stack,
// interior, misaligned) and a second free of the same pointer are misuse:
// by default (check_action 3) they panic with a glibc-style message and the
// address (an *arena.CorruptionError); check_action 0 or 1 ignores the call
// (1 prints a line first). A corrupted neighbouring header always panics.
// The allocator stays usable after recover. See debug.go and SECURITY.md
// for what each check_action level catches.
//
//go:nosplit
//go:nocheckptr
func Free(ptr unsafe.Pointer) {
	if fastOff.Load() == 0 {
		pid := getPid()
		h := heap
		room, entry := h.FastRegion(uintptr(ptr) - 16)
		if ch, size := h.InUseHeader(uintptr(ptr), room); ch != 0 && uint(pid) < maxCachedProcs {
			k := keyWord(ch)
			if key := keyFor(ch); *k != key {
				if c := caches[pid].Load(); c != nil {
					if size <= smallChunkMax {
						// A small chunk. One of another arena goes to the
						// P's foreign class (cache.go). This is a branch,
						// not a conditional move: predicted right, as it is
						// where Ps keep to their own chunks or free only
						// others' (a consumer), it adds no latency.
						cl := uint(size-arena.MinSize) >> 4 % nSmall
						b := &c.bins[cl]
						if entry != c.home.Load() {
							b = &c.bins[nClassSlots+cl]
						}
						if b.count < b.limit {
							fastPush(b, ch, k, key)
							return
						}
					} else if cl := chunkClass(size); cl >= nSmall || cl >= 0 && entry == c.home.Load() {
						// (A chunk larger than an exact class that it
						// falls in: one of another arena goes to the
						// foreign class, through cachePush.)
						// A mid-size chunk bordering the top goes to the
						// arena unless its class is empty (freeToTop); only
						// one near its region's end can (MayBorderTop).
						b := &c.bins[uint(cl)%nClassSlots]
						if b.count < b.limit && (b.count == 0 || !h.MayBorderTop(room, size) || !arena.NextIsTop(ch, size)) {
							fastPush(b, ch, k, key)
							return
						}
					}
				}
			}
		}
	}
	freeMiss(ptr)
}

// fastPush puts chunk ch at the head of class b, with its cache key (key,
// into *k) and its safe-linked link: Free's fast path.
//
//go:nosplit
//go:nocheckptr
func fastPush(b *cacheBin, ch uintptr, k *uintptr, key uintptr) {
	*k = key
	*(*uintptr)(unsafe.Add(nil, ch+16)) = arena.Protect(ch+16, b.head)
	b.head = ch
	b.count++
}
