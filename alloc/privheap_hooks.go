package alloc

// Hooks of private heaps into tracing and profiling (trace.go, sample.go).

// Trace record kinds of private heaps.
const (
	recHeapNew     = iota + 100 // a private heap was created
	recHeapDestroy              // a private heap was destroyed
)

// traceHeap records a private heap's creation or destruction.
func traceHeap(kind int, id uint32) {}

// traceAllocIn records an allocation in private heap id.
func traceAllocIn(id uint32, op uint8, p uintptr, size, arg uint64) { traceAlloc(op, p, size, arg) }

// traceFreeIn records a free of a block of private heap id.
func traceFreeIn(id uint32, p uintptr) { traceFree(p) }

// recordSampleIn records a sample of a block of private heap id.
func recordSampleIn(p uintptr, size, skip int, id uint32) { recordSample(p, size, skip+1, id) }
