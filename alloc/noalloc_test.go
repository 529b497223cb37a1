package alloc_test

import (
	"testing"

	"github.com/offheap/offheap/alloc"
)

// TestNoGoHeapAllocation: Malloc, Calloc, Realloc and Free, cached sizes or
// not, allocate nothing on the Go heap once the P's cache exists.
func TestNoGoHeapAllocation(t *testing.T) {
	if alloc.ProfileRate() != 0 {
		t.Skip("heap profiling is on: a sample records its stack on the Go heap")
	}
	for _, n := range []int{0, 16, 64, 1000, 4096, 65536, 100 << 10, 300 << 10} {
		warm := alloc.Malloc(n) // creates this P's cache and arena state
		alloc.Free(warm)
		got := testing.AllocsPerRun(1000, func() {
			p := alloc.Malloc(n)
			q := alloc.Calloc(1, n)
			p = alloc.Realloc(p, n+100)
			alloc.Free(q)
			alloc.Free(p)
		})
		if got != 0 {
			t.Errorf("size %d: %v Go heap allocations per run, want 0", n, got)
		}
	}
}
