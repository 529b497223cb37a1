//go:build !race && !asan && !msan && (!(amd64 && go1.26 && !go1.27) || offheap_noasm)

package alloc

import (
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// Malloc's fast path in Go (fast.go explains it); amd64 with go1.26 has it
// in assembly (fast_malloc_amd64.s) unless built with the tag offheap_noasm.

// Malloc returns a pointer to at least size bytes of memory outside the Go
// heap, 16-byte aligned, or nil when size is negative, impossibly large, or
// memory runs out. Malloc(0) returns a unique minimum chunk. The memory is
// not zeroed, is invisible to the garbage collector and must not hold Go
// pointers; free it with Free.
//
//go:nosplit
//go:nocheckptr
func Malloc(size int) unsafe.Pointer {
	if fastOff.Load()&mallocOff == 0 {
		pid := getPid()
		if uint(size) <= midLimit && uint(pid) < maxCachedProcs {
			if c := caches[pid].Load(); c != nil {
				b := &c.bins[uint(requestClass(uintptr(size)))%nClassSlots]
				if ch := b.head; ch != 0 {
					next := arena.Protect(ch+16, *(*uintptr)(unsafe.Add(nil, ch+16)))
					k := keyWord(ch)
					left := c.sampleLeft - int64(size)
					if next&15 == 0 && *k == keyFor(ch) {
						c.sampleLeft = left
						b.head = next
						b.count--
						*k = 0
						if left < 0 {
							// The profiling countdown ran out: the chunk
							// is popped, and the cache no longer used.
							return sampledMalloc(ch+16, size)
						}
						return unsafe.Add(nil, ch+16)
					}
				}
			}
		}
	}
	return mallocMiss(size)
}
