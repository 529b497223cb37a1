package arena

// prefetch asks for the n cache lines at addr, addr+stride, ... ahead of
// their use (prefetch_amd64.s).
//
//go:noescape
func prefetch(addr, stride, n uintptr)
