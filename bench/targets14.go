package bench

import (
	"fmt"
	"math"
)

// Issue 14's target that a report of the bench can judge, against figures
// measured in the same run (targets 1, 2 and 4 are alloc's benchmarks and
// tests: BenchmarkHeapDestroy, BenchmarkHeapPair and
// BenchmarkHeapRandomLive, TestPrivateHeapsLeaveNothing):
//
//  3. A job that builds 100,000 blocks and drops them, repeated:
//     heap-destroy on offheap (NewHeap, the allocations, Destroy) at least
//     5x faster than heap-destroy/free (the same allocations in the
//     process heap, then a Free each).

// Targets14 checks issue 14's target 3 on the medians of the report; it is
// n/a when the report lacks either figure.
func (r *Report) Targets14() []Target {
	d, f := r.ns("offheap", HeapDestroy), r.ns("offheap", HeapDestroy+"/free")
	t := Target{Text: fmt.Sprintf("3. %s: NewHeap, the allocations and Destroy %s faster than %s/free, the same allocations and a Free each in the process heap (%s ns vs %s ns per block), at least 5x",
		HeapDestroy, fmtRatio(f/d), HeapDestroy, fmtNs(d), fmtNs(f))}
	if v := f / d; !math.IsNaN(v) {
		ok := v >= 5
		t.Met = &ok
	}
	return []Target{t}
}
