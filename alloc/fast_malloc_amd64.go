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

// What fast_malloc_amd64.s takes for granted, checked by the compiler: a
// cacheBin is 16 bytes (the class index is shifted by 4), and caches and
// fastOff are plain words (atomic.Pointer and atomic.Uint32 hold nothing
// else).
const (
	_ = -(unsafe.Sizeof(cacheBin{}) ^ 16)
	_ = -(unsafe.Sizeof(caches[0]) ^ 8)
	_ = -(unsafe.Sizeof(fastOff) ^ 4)
)
