package alloc

import _ "unsafe" // for go:linkname

// procPin pins the calling goroutine to its P and returns the P's id: no
// preemption, no migration, until procUnpin. The per-P caches rely on it
// (sync.Pool does the same).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()
