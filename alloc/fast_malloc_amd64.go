//go:build amd64 && go1.26 && !go1.27 && !race && !asan && !msan && !offheap_noasm

package alloc

import "unsafe"

// Malloc returns a pointer to at least size bytes of memory outside the Go
// heap, 16-byte aligned, or nil when size is negative, impossibly large, or
// memory runs out. Malloc(0) returns a unique minimum chunk. The memory is
// not zeroed, is invisible to the garbage collector and must not hold Go
// pointers; free it with Free.
//
// On amd64 its fast path is assembly (fast_malloc_amd64.s), the Go one of
// fast_malloc.go with the P's id read inline: a call to getPid, which Go
// code needs to reach the runtime's g, cost more than the rest of the
// pop. Whatever it cannot finish it hands, untouched, to mallocMiss.
func Malloc(size int) unsafe.Pointer

// Malloc returns size bytes of the heap's memory, 16-byte aligned, as
// alloc.Malloc does, or nil.
//
// On amd64 its fast path is alloc.Malloc's assembly (fast_malloc_amd64.s)
// over the heap's caches, heapMalloc; what it cannot finish goes to
// h.mallocMiss.
func (h *Heap) Malloc(size int) unsafe.Pointer { return heapMalloc(h, size) }

// heapMalloc is (*Heap).Malloc's fast path (fast_malloc_amd64.s).
//
//go:noescape
func heapMalloc(h *Heap, size int) unsafe.Pointer

// heapMallocMiss is where heapMalloc goes with what it does not finish.
func heapMallocMiss(h *Heap, size int) unsafe.Pointer { return h.mallocMiss(size) }

// What fast_malloc_amd64.s takes for granted, checked by the compiler: a
// cacheBin is 16 bytes (the class index is shifted by 4), and caches and
// fastOff are plain words (atomic.Pointer and atomic.Uint32 hold nothing
// else), and a Heap's caches are a slice of such words (its length one word
// after its base).
const (
	_ = -(unsafe.Sizeof(cacheBin{}) ^ 16)
	_ = -(unsafe.Sizeof(caches[0]) ^ 8)
	_ = -(unsafe.Sizeof(fastOff) ^ 4)
	_ = -(unsafe.Sizeof(Heap{}.caches[0]) ^ 8)
)
