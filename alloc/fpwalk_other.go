//go:build !amd64 || offheap_nofpunwind

package alloc

// fpWalk is captureFP's walk: fpWalkGo here (amd64 has it in assembly).
//
//go:nosplit
//go:norace
//go:nocheckptr
func fpWalk(fp, limit uintptr, fps, pcs *uintptr) (n int, h uint64, st int) {
	return fpWalkGo(fp, limit, fps, pcs)
}
