//go:build !amd64 || offheap_nofpunwind

package alloc

// memoHolds is memoHoldsGo where there is no assembly for it.
//
//go:nosplit
func memoHolds(m *stackMemo) bool { return memoHoldsGo(m) }
