//go:build !race && !asan && !msan

package alloc

import (
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// The fast paths of Malloc and Free: a chunk popped from, or pushed to, the
// calling P's cache with no lock, no atomic read-modify-write and no pin.
//
// Free (below) and Malloc (fast_malloc.go) are go:nosplit: the compiler
// marks every instruction of a nosplit function an unsafe point, so the
// goroutine cannot be preempted inside one, and it makes no call between
// reading its P's id (getPid) and its last use of the P's cache. No other
// goroutine can run on that P meanwhile, which is what procPin would
// guarantee, for free. On amd64 with go1.26 Malloc is the same fast path in
// assembly (fast_malloc_amd64.s), which reads the P's id inline: the
// runtime never preempts assembly asynchronously, and it calls nothing.
// Whatever the fast path cannot finish (an empty or full class, a bad,
// mapped or sampled pointer, an optional feature on) it hands, untouched,
// to mallocMiss or freeMiss, ordinary functions that pin explicitly. A
// block whose allocation is to be sampled is popped as any other, and the
// cache left, before sampledMalloc records it (sample.go); the assembly
// Malloc leaves that case to mallocMiss, which pops and records it.
//
// What the fast paths check (SECURITY.md lists it against the slow paths):
//   - Malloc: the popped chunk's safe-linked link decodes to a 16-aligned
//     address, and the chunk carries its cache key (a forged link or a
//     write after free is reported by mallocMiss).
//   - Free: the pointer lies in a region offheap owns with its whole chunk,
//     its header has a valid tag and marks an in-use chunk of an arena
//     (arena.InUseFast: one cache line, the chunk's own header), and it
//     does not carry the cache key already (a double free by one
//     goroutine). Two goroutines freeing one pointer at the same instant may
//     both get past the key check here; with harden=1, which routes every
//     free to the slow path, its compare-and-swap (claim) catches that
//     (claimFree: at harden=0 the slow path stores the key as this one
//     does), and refill and flush catch a chunk held twice.
//
// With -race, -asan or -msan the compiler inserts calls into every
// function, which would break the no-preemption argument: fast_instr.go
// then routes every call to the slow paths.

// fastPaths says that Malloc and Free have their fast paths in this build.
const fastPaths = true

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
					} else if cl := chunkClass(size); cl >= 0 {
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
