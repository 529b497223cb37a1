//go:build amd64 && go1.26 && !go1.27 && !race && !asan && !msan && !offheap_noasm

package alloc

import (
	"sync/atomic"
	"unsafe"
)

// Malloc returns a pointer to at least size bytes of memory outside the Go
// heap, 16-byte aligned, or nil when size is negative, impossibly large, or
// memory runs out. Malloc(0) returns a unique minimum chunk. The memory is
// not zeroed, is invisible to the garbage collector and must not hold Go
// pointers; free it with Free.
//
// On amd64 its fast path is assembly (fast_malloc_amd64.s), the Go one of
// fast_malloc.go with the P's id read inline: a call to getPid, which Go
// code needs to reach the runtime's g, cost more than the rest of the
// pop. Whatever it cannot finish it hands, untouched, to mallocMiss; a
// block whose allocation is to be sampled it pops, and hands to
// sampledMallocWord.
func Malloc(size int) unsafe.Pointer

// mallocCaches is the table of caches Malloc's assembly reads: caches
// while no bit of mallocOff is set in fastOff, noCaches (every entry nil,
// so every call goes to mallocMiss) otherwise. The assembly tests no flag
// word; setFast keeps the pointer in step with fastOff (publishFast).
//
// It starts at caches although fastOff starts with fastNotInited: until
// initHeap has run every entry of caches is nil, which sends Malloc to
// mallocMiss all the same, and the first Malloc of the process reads the
// page of caches that touchFirstPages wrote, where noCaches's would be a
// page fault (3.5-9 us here) in the call. The first setFast, in initHeap,
// publishes what fastOff says from then on.
var mallocCaches atomic.Pointer[[maxCachedProcs]atomic.Pointer[pcache]]

func init() { mallocCaches.Store(&caches) }

// noCaches is an empty table of caches. Nothing writes it.
var noCaches [maxCachedProcs]atomic.Pointer[pcache]

// sampleSizeShift is where sampledMallocWord's word holds the size, above
// the user pointer: sizes up to midLimit (17 bits) above pointers below
// 2^47, the lower half of amd64's address space, where Linux maps what it
// is not asked to map higher (the assembly checks the pointer).
const sampleSizeShift = 47

// sampledMallocWord records the sample of a block that Malloc's fast path
// popped with its P's profiling countdown run out: w is its user pointer p
// | size<<sampleSizeShift, for Malloc's frame has one argument word.
//
//go:noinline
func sampledMallocWord(w uintptr) unsafe.Pointer {
	p := w & (1<<sampleSizeShift - 1)
	recordSample(p, int(w>>sampleSizeShift), 2, 0)
	return unsafe.Add(nil, p)
}

// What fast_malloc_amd64.s takes for granted, checked by the compiler: a
// cacheBin is 16 bytes (the class index is shifted by 4), and caches and
// fastOff are plain words, as are mallocCaches and freeHeap (atomic.Pointer
// and atomic.Uint32 hold nothing else).
const (
	_ = -(unsafe.Sizeof(cacheBin{}) ^ 16)
	_ = -(unsafe.Sizeof(caches[0]) ^ 8)
	_ = -(unsafe.Sizeof(fastOff) ^ 4)
	_ = -(unsafe.Sizeof(mallocCaches) ^ 8)
	_ = -(unsafe.Sizeof(freeHeap) ^ 8)
	_ = -(uint(midLimit) >> (64 - sampleSizeShift)) // the size fits above the pointer
)
