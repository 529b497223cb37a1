package alloc

import "github.com/offheap/offheap/alloc/tracefmt"

// Hooks of private heaps into tracing and profiling (trace.go, sample.go).

// Trace record kinds of private heaps (trace.go).
const (
	recHeapNew     = uint8(tracefmt.HeapCreate)  // a private heap was created
	recHeapDestroy = uint8(tracefmt.HeapDestroy) // a private heap was destroyed
)

// traceHeap records a private heap's creation (recHeapNew, before any
// allocation in it) or destruction (recHeapDestroy).
//
//go:noinline
func traceHeap(kind uint8, id uint32) {
	traceRecord(traceRec{op: kind, heap: id})
}

// traceAllocIn records an allocation in private heap id that returned p;
// nothing when p is 0.
//
//go:noinline
func traceAllocIn(id uint32, op uint8, p uintptr, size, arg uint64) {
	if p == 0 {
		return
	}
	traceRecord(traceRec{op: op, addr: p, size: size, arg: arg, heap: id})
}

// traceFreeIn records a free of a block of private heap id, before the
// block is given back. The trace's free needs no heap (the writer knows
// the block's), so it is traceFree's record.
func traceFreeIn(id uint32, p uintptr) { traceFree(p) }

// recordSampleIn records a sample of a block of private heap id.
func recordSampleIn(p uintptr, size, skip int, id uint32) { recordSample(p, size, skip+1, id) }
