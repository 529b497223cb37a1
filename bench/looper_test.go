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
// the same blocks (offheap: the same usable sizes in every slot; Go's
// heap: the same latest sizes), the same generator states, the first
// byte written.
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
				usable  []int
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
					for _, p := range s.Slots {
						if g == nil {
							r.usable = append(r.usable, alloc.UsableSize(p))
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
				if !slices.Equal(direct.usable, viaIface.usable) {
					t.Errorf("offheap: the slots' usable sizes differ between the Looper and the interface loops")
				}
			}
			if !slices.Equal(goDirect.goSizes, goIface.goSizes) {
				t.Errorf("go-heap: latest sizes %v (Looper) vs %v (interface)", goDirect.goSizes[:8], goIface.goSizes[:8])
			}
		})
	}
}
