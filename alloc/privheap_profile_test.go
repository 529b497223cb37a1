package alloc_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/offheap/offheap/alloc"
)

// TestPrivateHeapProfile: samples of a private heap's blocks carry the
// heap's ID as the label offheap_heap, the process heap's carry none, and
// once the heap is destroyed its blocks are no longer in use.
func TestPrivateHeapProfile(t *testing.T) {
	old := alloc.ProfileRate()
	alloc.SetProfileRate(4096)
	defer alloc.SetProfileRate(old)
	h := alloc.NewHeap()
	id := strconv.FormatUint(uint64(h.ID()), 10)
	allocInPrivate(h, 2000, 1000) // ~2 MB: ~480 samples at 4 KiB
	inuse := func() (labelled, unlabelled int64) {
		p, _ := readProfile(t)
		for _, s := range p.Sample {
			if !sampleHasFunc(s.Location, "allocInPrivate") {
				continue
			}
			if v := s.Label["offheap_heap"]; len(v) == 1 && v[0] == id {
				labelled += s.Value[3]
			} else {
				unlabelled += s.Value[3]
			}
		}
		return
	}
	l, u := inuse()
	if l < 1<<20 || u != 0 {
		t.Fatalf("in use from allocInPrivate: %d bytes labelled offheap_heap=%s, %d not; want about 2 MB, all labelled", l, id, u)
	}
	h.Destroy()
	if l, _ := inuse(); l != 0 {
		t.Fatalf("after Destroy %d bytes of the heap still in use in the profile", l)
	}
}

// sampleHasFunc reports whether a sample's stack names a function whose
// name contains name.
func sampleHasFunc(locs []*profile.Location, name string) bool {
	for _, l := range locs {
		for _, ln := range l.Line {
			if strings.Contains(ln.Function.Name, name) {
				return true
			}
		}
	}
	return false
}
