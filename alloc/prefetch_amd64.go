package alloc

// prefetchLinks asks for the lines of the links of the n chunks whose
// addresses start at p (prefetch_amd64.s).
//
//go:noescape
func prefetchLinks(p *uintptr, n int)
