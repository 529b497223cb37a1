//go:build amd64 && !offheap_nofpunwind

package alloc

// memoHolds is memoHoldsGo (stack.go) in assembly (memo_amd64.s): the memo
// check of a sample's stack, nine instructions a frame where the Go loop
// took thirteen.
//
//go:noescape
func memoHolds(m *stackMemo) bool
