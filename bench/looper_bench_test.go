package bench_test

import (
	"testing"

	"github.com/offheap/offheap/bench"
)

// BenchmarkLoopers: offheap's random-live and pair/64 loops compiled
// against alloc.Malloc and alloc.Free (Looper) and through the Allocator
// interface: the difference is what the dynamic calls cost.
func BenchmarkLoopers(b *testing.B) {
	for _, name := range []string{"random-live", "pair/64"} {
		var w *bench.Workload
		for _, x := range bench.Workloads() {
			if x.Name == name {
				w = x
			}
		}
		for _, mode := range []string{"looper", "iface"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				var a bench.Allocator = bench.Offheap{}
				if mode == "iface" {
					a = ifaceOnly{a}
				}
				wk, err := bench.GoPeer("t", "", func() bench.Allocator { return a }, nil).NewWorker(w, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer wk.Close()
				b.ResetTimer()
				wk.Run(b.N)
			})
		}
	}
}
