//go:build !amd64

package alloc

// prefetchLinks does nothing where the package has no assembly for it.
func prefetchLinks(p *uintptr, n int) {}
