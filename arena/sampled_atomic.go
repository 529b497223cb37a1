//go:build !((amd64 || arm64) && !race)

package arena

import "sync/atomic"

// setSampled sets or clears the S bit with an atomic read-modify-write of
// the header word (see sampled_byte.go for the other architectures' way).
func setSampled(c uintptr, on bool) {
	if on {
		atomic.OrUintptr(headWord(c), flagS)
	} else {
		atomic.AndUintptr(headWord(c), ^flagS)
	}
}
