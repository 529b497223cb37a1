package bench

import (
	"runtime"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/brk"
	"github.com/offheap/offheap/mmapper"
)

// Allocator is the malloc/free pair a Go-side workload loop calls. Every
// peer driven from Go (offheap, Go's heap, a C allocator through cgo) is
// reached through this one interface, so they all pay the same dynamic call
// (about 1 ns; BenchmarkDirectPair shows offheap without it).
type Allocator interface {
	// Malloc returns at least n bytes, 16-byte aligned; never nil (the
	// loops write the first byte, so an out-of-memory nil faults).
	Malloc(n int) unsafe.Pointer
	// Free releases a block from Malloc or Realloc of the same Allocator;
	// Free(nil) does nothing.
	Free(p unsafe.Pointer)
	// Realloc resizes a block from Realloc to n bytes, keeping its contents
	// up to the smaller size, as C's realloc; Realloc(nil, n) allocates.
	// The workloads allocate through Realloc the blocks that hold other
	// blocks' addresses (mstress's growing array, xmalloc-test's batches,
	// rptest's hand-over lists), since GoHeap must give those a type the
	// collector scans.
	Realloc(p unsafe.Pointer, n int) unsafe.Pointer
}

// Offheap is offheap's alloc.Malloc and alloc.Free.
type Offheap struct{}

// Malloc calls alloc.Malloc.
func (Offheap) Malloc(n int) unsafe.Pointer { return alloc.Malloc(n) }

// Free calls alloc.Free.
func (Offheap) Free(p unsafe.Pointer) { alloc.Free(p) }

// Realloc calls alloc.Realloc.
func (Offheap) Realloc(p unsafe.Pointer, n int) unsafe.Pointer { return alloc.Realloc(p, n) }

// NewJobHeap returns a private heap, alloc.NewHeap (HeapMaker).
func (Offheap) NewJobHeap() Allocator { return alloc.NewHeap() }

// DropJobHeap destroys the private heap h, with its blocks (HeapMaker).
func (Offheap) DropJobHeap(h Allocator) { h.(*alloc.Heap).Destroy() }

// OffheapSyscalls returns how many memory system calls offheap has made
// so far: every call counted by brk.ReadCounters and mmapper.ReadCounters
// (brk, mmap, munmap, mremap, mprotect, madvise, mincore), failed ones
// included. The Go runtime's own calls are not in it.
func OffheapSyscalls() uint64 {
	b, m := brk.ReadCounters(), mmapper.ReadCounters()
	return b.Brk.Calls + b.Mmap.Calls + b.Mprotect.Calls + b.Madvise.Calls +
		m.Mmap.Calls + m.Munmap.Calls + m.Mremap.Calls + m.Madvise.Calls + m.Mprotect.Calls + m.Mincore.Calls
}

// goSinkSize is how many recent blocks a GoHeap keeps reachable.
const goSinkSize = 64

// GoHeap allocates from Go's own heap with make([]byte, n). Free does
// nothing: the block stays reachable from a ring of the goSinkSize most
// recent allocations (and from the workload's slots while it holds it), so
// the compiler cannot keep it on the stack and it really is allocated, then
// the garbage collector reclaims it once the ring has moved on. The
// collector's work is paid as it falls: by the allocating goroutine
// (assists) and by the background workers on any idle P. Blocks are zeroed,
// which Go cannot skip. Use one GoHeap per goroutine.
type GoHeap struct {
	ring [goSinkSize][]byte
	next uint
}

// Malloc returns the data pointer of a new make([]byte, n).
func (g *GoHeap) Malloc(n int) unsafe.Pointer {
	b := make([]byte, n)
	g.ring[g.next%goSinkSize] = b
	g.next++
	return unsafe.Pointer(unsafe.SliceData(b))
}

// Free does nothing; the collector reclaims the block when unreachable.
func (g *GoHeap) Free(unsafe.Pointer) {}

// NewJobHeap returns g itself: Go's heap has no heap of a job's own
// (HeapMaker).
func (g *GoHeap) NewJobHeap() Allocator { return g }

// DropJobHeap forgets the recent blocks g keeps reachable and collects:
// the job's blocks, which it no longer references, go with the collection
// (HeapMaker).
func (g *GoHeap) DropJobHeap(Allocator) {
	clear(g.ring[:])
	runtime.GC()
}

// Realloc returns the data of a new make([]unsafe.Pointer, ...) of n bytes
// and more, with the contents of p (a block from Realloc) copied: memory
// the collector scans for pointers, so that a workload may keep other
// blocks' addresses there, as it would in C. The first of the two words
// before the returned address points to the block's size in bytes (a
// pointer, so that the collector and checkptr see nothing but pointers).
func (g *GoHeap) Realloc(p unsafe.Pointer, n int) unsafe.Pointer {
	words := (n + 7) / 8
	s := make([]unsafe.Pointer, 2+words)
	size := new(int)
	*size = n
	s[0] = unsafe.Pointer(size)
	if p != nil {
		hdr := (*[2]unsafe.Pointer)(unsafe.Add(p, -16))
		old := (*(*int)(hdr[0]) + 7) / 8
		copy(s[2:], unsafe.Slice((*unsafe.Pointer)(p), old))
	}
	return unsafe.Pointer(&s[2])
}
