package alloc

import "unsafe"

// goroutineLabels returns the calling goroutine's pprof label set (as set
// by pprof.Do / SetGoroutineLabels), or nil. The runtime keeps it for
// runtime/pprof; offheap reads the same pointer to attribute samples.
func goroutineLabels() unsafe.Pointer { return runtime_getProfLabel() }

//go:linkname runtime_getProfLabel runtime/pprof.runtime_getProfLabel
func runtime_getProfLabel() unsafe.Pointer
