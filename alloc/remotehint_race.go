//go:build race

package alloc

// Under the race detector the arena lists keep no prefetch hints
// (remotehint.go says why).

type hintTable struct{}

func (t *hintTable) noteBatch(run []uintptr)            {}
func (t *hintTable) prefetchBatch(first uintptr, n int) {}
