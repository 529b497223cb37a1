//go:build !race && !asan && !msan

package alloc

// The fast paths of Malloc and Free: a chunk popped from, or pushed to, the
// calling P's cache with no lock, no atomic read-modify-write and no pin.
//
// Free (fast_free.go) and Malloc (fast_malloc.go) are go:nosplit: the compiler
// marks every instruction of a nosplit function an unsafe point, so the
// goroutine cannot be preempted inside one, and it makes no call between
// reading its P's id (getPid) and its last use of the P's cache. No other
// goroutine can run on that P meanwhile, which is what procPin would
// guarantee, for free. On amd64 with go1.26 both are the same fast paths in
// assembly (fast_malloc_amd64.s, fast_free_amd64.s), which read the P's id
// inline: the runtime never preempts assembly asynchronously, and they call
// nothing. The build tag offheap_noasm keeps the Go fast paths on amd64 too
// (CI tests them so: they are what other platforms run).
//
// Whatever the fast path cannot finish (an empty or full class, a bad,
// mapped or sampled pointer, an optional feature on) it hands, untouched,
// to mallocMiss or freeMiss, ordinary functions that pin explicitly. A
// block whose allocation is to be sampled is popped as any other, and the
// cache left, before sampledMalloc records it (sample.go; the assembly
// Malloc jumps to sampledMallocWord with the pointer and the size in its
// one argument word). A sampled block's free takes the fast path's checks
// too, and the assembly Free then jumps to freeSampled, which takes it
// out of the profile and frees it (the Go Free leaves it to freeMiss).
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
