//go:build !(amd64 || arm64) || offheap_nofpunwind

package alloc

// fpUnwindBuilt is false where offheap has no frame-pointer unwinder (other
// architectures, or the offheap_nofpunwind build tag): samples take their
// stacks from runtime.Callers.
const fpUnwindBuilt = false

func callerFrame() (fp, lo, hi uintptr) { return 0, 0, 0 }
