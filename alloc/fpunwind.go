//go:build (amd64 || arm64) && !offheap_nofpunwind

package alloc

// fpUnwindBuilt says that this build has the frame-pointer unwinder's
// assembly helpers: on amd64 and arm64 the Go ABI keeps a frame pointer in
// every frame that has one (BP, R29) and a frame record at it: the caller's
// frame pointer, then the return address. Build with the tag
// offheap_nofpunwind to leave it out; samples then take their stacks from
// runtime.Callers.
const fpUnwindBuilt = true

// callerFrame returns the frame pointer of its caller (the address of the
// caller's frame record) and the bounds [lo, hi) of the running
// goroutine's stack, read from the runtime's g. fpUnwindWorks checks once
// that the bounds bracket the running frame before any walk relies on
// them.
func callerFrame() (fp, lo, hi uintptr)
