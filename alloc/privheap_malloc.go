//go:build !(amd64 && go1.26 && !go1.27) || race || asan || msan || offheap_noasm

package alloc

import (
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// A private heap's Malloc in Go; amd64 with go1.26 has its fast path in
// assembly (fast_malloc_amd64.s, the process Malloc's body over the heap's
// caches) unless built with the tag offheap_noasm.

// Malloc returns size bytes of the heap's memory, 16-byte aligned, as
// alloc.Malloc does, or nil.
//
// Its fast path repeats alloc.Malloc's (fast_malloc.go) over the heap's
// caches on purpose: the shared pop, as a function, costs 149 against the compiler's
// inlining budget of 80, and a call on this path is what the fast path is
// there to avoid. A change to one is a change to both (and to Free's).
//
//go:nosplit
//go:nocheckptr
func (h *Heap) Malloc(size int) unsafe.Pointer {
	if fastOff.Load()&mallocOff == 0 && fastPaths {
		pid := getPid()
		if uint(size) <= midLimit && uint(pid) < uint(len(h.caches)) {
			if c := h.caches[pid].Load(); c != nil {
				b := &c.bins[uint(requestClass(uintptr(size)))%nClassSlots]
				if ch := b.head; ch != 0 {
					next := arena.Protect(ch+16, *(*uintptr)(unsafe.Add(nil, ch+16)))
					k := keyWord(ch)
					left := c.sampleLeft - int64(size)
					if next&15 == 0 && *k == keyFor(ch) && left >= 0 {
						c.sampleLeft = left
						b.head = next
						b.count--
						*k = 0
						return unsafe.Add(nil, ch+16)
					}
				}
			}
		}
	}
	return h.mallocMiss(size)
}
