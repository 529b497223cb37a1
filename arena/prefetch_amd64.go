package arena

// prefetch asks, ahead of their use, for the cache lines of the headers
// and first user bytes of the n chunks at addr, addr+stride, ...
// (prefetch_amd64.s).
//
//go:noescape
func prefetch(addr, stride, n uintptr)
