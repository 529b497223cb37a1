//go:build !amd64

package arena

// prefetch is a no-op where the package has no assembly for it.
func prefetch(addr, stride, n uintptr) {}
