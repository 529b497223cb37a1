package bench_test

import (
	"slices"
	"testing"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/bench"
)

// ifaceOnly hides an Allocator's Looper methods: the workers then run
// their loops through the Allocator interface.
type ifaceOnly struct{ bench.Allocator }

// TestLoopersMatchInterface: the loops a Looper compiles against its own
// calls do what the workers' loops through the Allocator interface do:
// the same blocks (offheap: in every slot a block of the size a model of
// the loop says; Go's heap: the same latest sizes), the same generator
// states, the first byte written.
func TestLoopersMatchInterface(t *testing.T) {
	for _, w := range bench.Workloads() {
		if w.Parallel || (w.Kind != bench.Pair && w.Kind != bench.Mixed) {
			continue
		}
		n := 3000
		if w.Mix != nil && w.Mix.Touch {
			n = 40 // the large workloads write megabytes an operation
		}
		t.Run(w.Name, func(t *testing.T) {
			type run struct {
				state   *bench.MixState
				goSizes []int
			}
			do := func(a bench.Allocator, g *bench.GoHeap) run {
				wk, err := bench.GoPeer("t", "", func() bench.Allocator { return a }, nil).NewWorker(w, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer wk.Close()
				wk.Run(n)
				last := bench.Sink.Load()
				// (A pair's block is freed: its first bytes are offheap's
				// cache link then.)
				if last == nil || ((w.Kind == bench.Mixed || g != nil) && *last != byte(n-1)) {
					t.Fatalf("the last block's first byte is not %d", byte(n-1))
				}
				var r run
				if s := bench.MixStateOf(wk); s != nil {
					c := *s
					r.state = &c
					if g == nil {
						// Each slot holds a block of the size the
						// generators gave it last (a model of the loop).
						want := make([]int, len(s.Slots))
						offs, ss := bench.Seeds(0)
						for j := range want {
							ss = bench.LCGNext(ss)
							want[j] = int(w.Mix.Sizes[(ss>>16)&(bench.MixSizes-1)])
						}
						for i := 0; i < n; i++ {
							offs, ss = bench.LCGNext(offs), bench.LCGNext(ss)
							want[w.Mix.Offsets[(offs>>16)&(bench.MixOffsets-1)]] = int(w.Mix.Sizes[(ss>>16)&(bench.MixSizes-1)])
						}
						for j, p := range s.Slots {
							if u := alloc.UsableSize(p); u < want[j] || u > 2*want[j]+64 {
								t.Fatalf("slot %d: a block of %d usable bytes, the loop asked for %d", j, u, want[j])
							}
						}
					}
				}
				if g != nil {
					r.goSizes = bench.GoHeapRecent(g)
				}
				return r
			}
			var _ bench.Looper = bench.Offheap{}
			var _ bench.Looper = new(bench.GoHeap)
			direct, viaIface := do(bench.Offheap{}, nil), do(ifaceOnly{bench.Offheap{}}, nil)
			g1, g2 := new(bench.GoHeap), new(bench.GoHeap)
			goDirect, goIface := do(g1, g1), do(ifaceOnly{g2}, g2)
			if w.Kind == bench.Mixed {
				if direct.state.OffState != viaIface.state.OffState || direct.state.SizeState != viaIface.state.SizeState {
					t.Errorf("generators after the loops: %#x %#x (Looper) vs %#x %#x (interface)",
						direct.state.OffState, direct.state.SizeState, viaIface.state.OffState, viaIface.state.SizeState)
				}
			}
			if !slices.Equal(goDirect.goSizes, goIface.goSizes) {
				t.Errorf("go-heap: latest sizes %v (Looper) vs %v (interface)", goDirect.goSizes[:8], goIface.goSizes[:8])
			}
		})
	}
}
