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
// reached through this one interface, but for the loops of the pair and
// mixed workloads of a peer that implements Looper.
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

// Looper is implemented by an Allocator whose pair and mixed loops
// (pair/N, random-live, thread-shape, large/*, and their -par forms) are
// compiled against its own functions: a program calls alloc.Malloc, make
// or a locked UnsafeMalloc directly, and these are the loops where the
// Allocator interface's two dynamic calls an operation (about 1.7 ns a
// 64-byte pair here, a sixth of offheap's time) would be a large part of
// what is measured. The native peers' loops are C calling malloc. Each
// method does exactly what pairWorker's and mixWorker's loops do through
// the interface (TestLoopersMatchInterface). The loops are written out for
// each peer on purpose: a generic loop over the allocator's type would
// call its methods through the instantiation's dictionary (Go compiles
// one body per GC shape), the dynamic call this interface exists to avoid.
type Looper interface {
	// PairLoop runs n iterations of Malloc(size), a write of its first
	// byte and Free, and returns the last block.
	PairLoop(size, n int) unsafe.Pointer
	// MixLoop runs n operations of a mixed workload on s and returns the
	// last block allocated.
	MixLoop(s *MixState, n int) unsafe.Pointer
}

// MixState is a mixed workload's state, which MixLoop carries on: the
// tables, the live blocks and the two generators. An operation advances
// both generators (LCGNext), frees Slots[j] for j = Mix.Offsets[bits 16
// and up of the slot generator], allocates Mix.Sizes[bits 16 and up of
// the size generator] bytes, writes their first byte (every page's when
// Mix.Touch: TouchPages) and keeps the block in Slots[j]. (The loops keep
// the tables in locals: a helper reading them through the state made
// random-live 40% slower in the bench's child, for reasons not found.)
type MixState struct {
	Mix                 *Mix
	Slots               []unsafe.Pointer
	OffState, SizeState uint32
}

// Offheap is offheap's alloc.Malloc and alloc.Free.
type Offheap struct{}

// PairLoop is Looper's pair loop over alloc.Malloc and alloc.Free.
func (Offheap) PairLoop(size, n int) unsafe.Pointer {
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		p = alloc.Malloc(size)
		*(*byte)(p) = byte(i)
		alloc.Free(p)
	}
	return p
}

// MixLoop is Looper's mixed loop over alloc.Malloc and alloc.Free.
func (Offheap) MixLoop(s *MixState, n int) unsafe.Pointer {
	slots, sizes, offsets, touch := s.Slots, s.Mix.Sizes, s.Mix.Offsets, s.Mix.Touch
	offs, ss := s.OffState, s.SizeState
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		offs = LCGNext(offs)
		j := offsets[(offs>>16)&(MixOffsets-1)]
		ss = LCGNext(ss)
		size := sizes[(ss>>16)&(MixSizes-1)]
		alloc.Free(slots[j])
		p = alloc.Malloc(int(size))
		*(*byte)(p) = byte(i)
		if touch {
			TouchPages(p, int(size))
		}
		slots[j] = p
	}
	s.OffState, s.SizeState = offs, ss
	return p
}

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

// PairLoop is Looper's pair loop over g's Malloc and Free.
func (g *GoHeap) PairLoop(size, n int) unsafe.Pointer {
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		p = g.Malloc(size)
		*(*byte)(p) = byte(i)
		g.Free(p)
	}
	return p
}

// MixLoop is Looper's mixed loop over g's Malloc and Free.
func (g *GoHeap) MixLoop(s *MixState, n int) unsafe.Pointer {
	slots, sizes, offsets, touch := s.Slots, s.Mix.Sizes, s.Mix.Offsets, s.Mix.Touch
	offs, ss := s.OffState, s.SizeState
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		offs = LCGNext(offs)
		j := offsets[(offs>>16)&(MixOffsets-1)]
		ss = LCGNext(ss)
		size := sizes[(ss>>16)&(MixSizes-1)]
		g.Free(slots[j])
		p = g.Malloc(int(size))
		*(*byte)(p) = byte(i)
		if touch {
			TouchPages(p, int(size))
		}
		slots[j] = p
	}
	s.OffState, s.SizeState = offs, ss
	return p
}

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
