package alloc_test

import (
	"testing"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/mmapper"
)

// TestFirstMallocPagesAtInit: in a fresh process, before its first Malloc,
// every page of the static memory that the first Malloc writes is resident
// already (package initialization wrote it), so that the first Malloc
// takes no page fault for it (issue 11's target 8); then the first Malloc
// works.
func TestFirstMallocPagesAtInit(t *testing.T) {
	if _, child := inStatsChild(t); !child {
		return
	}
	statics, started := alloc.FirstMallocStatics()
	if started {
		t.Fatal("the heap is set up before the test's first Malloc: not a fresh process")
	}
	const page = 4096
	for name, s := range statics {
		lo, hi := s[0]&^(page-1), (s[0]+s[1]+page-1)&^(page-1)
		n, err := mmapper.Resident(lo, hi-lo)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n != hi-lo {
			t.Errorf("%s (%#x, %d bytes): %d of its %d bytes of pages resident before the first Malloc: it would fault there", name, s[0], s[1], n, hi-lo)
		}
	}
	p := alloc.Malloc(16)
	if p == nil {
		t.Fatal("the first Malloc failed")
	}
	alloc.Free(p)
}
