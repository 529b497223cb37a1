//go:build !(amd64 && go1.26 && !go1.27) || race || asan || msan || offheap_noasm

package alloc

// publishFast has nothing to publish where Malloc and Free have no
// assembly fast path: the Go fast paths read fastOff itself.
func publishFast(uint32) {}
