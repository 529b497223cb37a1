//go:build !offheap_nofpunwind

package alloc

// fpWalk is captureFP's walk in assembly (fpunwind_amd64.s); fpWalkGo
// (stack.go) is the same in Go, which TestFPWalk compares it with.
//
//go:noescape
func fpWalk(fp, limit uintptr, fps, pcs *uintptr) (n int, h uint64, st int)
