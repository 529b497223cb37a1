package bench_test

import (
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/bench"
)

// churnWorkload returns the churn workload of WorkloadsFor(threads), made
// small (ChurnConfig) for the test.
func churnWorkload(t *testing.T, threads, entries int) *bench.Workload {
	t.Helper()
	saved := bench.ChurnConfig
	bench.ChurnConfig.Entries = entries
	t.Cleanup(func() { bench.ChurnConfig = saved })
	for _, w := range bench.WorkloadsFor(threads) {
		if w.Kind == bench.Churn {
			return w
		}
	}
	t.Fatal("no churn workload")
	return nil
}

// sizeAlloc is countAlloc that also records the smallest and largest
// sizes asked for.
type sizeAlloc struct {
	countAlloc
	minSize, maxSize atomic.Int64
}

func (a *sizeAlloc) Malloc(n int) unsafe.Pointer {
	for lo := a.minSize.Load(); (lo == 0 || int64(n) < lo) && !a.minSize.CompareAndSwap(lo, int64(n)); lo = a.minSize.Load() {
	}
	for hi := a.maxSize.Load(); int64(n) > hi && !a.maxSize.CompareAndSwap(hi, int64(n)); hi = a.maxSize.Load() {
	}
	return a.countAlloc.Malloc(n)
}

// TestChurn: the churn's workers load their share of the values (the
// shares add up to Entries), each operation is one free and one malloc of
// a size in range, Close frees everything, and the draws stay in range.
func TestChurn(t *testing.T) {
	for _, threads := range []int{1, 3} {
		w := churnWorkload(t, threads, 10_000)
		if !w.Parallel || w.Threads(8) != threads || w.MinOps != w.Churn.Turnovers*10_000 || w.WarmOps != 5_000 || !w.NoTrace {
			t.Fatalf("churn workload %+v", w)
		}
		if want := "churn/10000/64-256"; w.Name != want {
			t.Errorf("name %q, want %q", w.Name, want)
		}
		a := new(sizeAlloc)
		var ws []bench.Worker
		total := 0
		for i := range threads {
			m0 := a.mallocs.Load()
			wk, err := bench.NewGoWorkerFunc(func() bench.Allocator { return a }, w, i)
			if err != nil {
				t.Fatal(err)
			}
			n := int(a.mallocs.Load() - m0)
			if n != w.Churn.Share(i, threads) {
				t.Errorf("%d threads: worker %d loaded %d values, its share is %d", threads, i, n, w.Churn.Share(i, threads))
			}
			total += n
			ws = append(ws, wk)
		}
		if total != 10_000 || a.frees.Load() != 0 {
			t.Errorf("%d threads: %d values loaded, %d freed: want 10000 and 0", threads, total, a.frees.Load())
		}
		const n = 30_000
		m0 := a.mallocs.Load()
		for _, wk := range ws {
			wk.Run(n)
		}
		if m, f := a.mallocs.Load()-m0, a.frees.Load(); m != int64(n*threads) || f != int64(n*threads) {
			t.Errorf("%d threads: %d operations a worker made %d mallocs and %d frees", threads, n, m, f)
		}
		for _, wk := range ws {
			wk.Close()
		}
		if m, f := a.mallocs.Load(), a.frees.Load(); m != f {
			t.Errorf("%d threads: after Close %d mallocs, %d frees", threads, m, f)
		}
		if lo, hi := a.minSize.Load(), a.maxSize.Load(); lo != 64 || hi != 256 {
			t.Errorf("%d threads: sizes %d-%d in %d draws, want 64-256", threads, lo, hi, total+n*threads)
		}
	}
	// The draws: slots below n, sizes in range, every slot reached.
	x := bench.ChurnSeed(0)
	seen := make([]bool, 1000)
	for range 100_000 {
		x = bench.ChurnNext(x)
		slot, size := bench.ChurnDraw(x, len(seen), 64, 193)
		if slot < 0 || slot >= len(seen) || size < 64 || size > 256 {
			t.Fatalf("draw %d, %d out of range", slot, size)
		}
		seen[slot] = true
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("slot %d never drawn in 100,000 draws", i)
		}
	}
	if bench.ChurnSeed(0) == bench.ChurnSeed(1) {
		t.Error("two workers share a seed")
	}
}

// TestChurnMeasure: Measure runs at least MinOps operations on the churn,
// however short the sample time, and gives back every block, on offheap and
// on Go's heap; a panic while the workers load their values (on goroutines
// of their own) or while they churn becomes Measure's error.
func TestChurnMeasure(t *testing.T) {
	w := churnWorkload(t, 2, 20_000)
	var live atomic.Int64
	for _, p := range []bench.Peer{
		bench.GoPeer("offheap", "", func() bench.Allocator { return liveCount{bench.Offheap{}, &live} }, bench.OffheapSyscalls),
		bench.GoPeer("go-heap", "", func() bench.Allocator { return liveCount{new(bench.GoHeap), &live} }, nil),
	} {
		s, err := bench.Measure(p, w, time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if s.Ops < int64(w.MinOps) || s.NsPerOp <= 0 || math.IsNaN(s.NsPerOp) {
			t.Errorf("%s: %d operations in %v s, want at least %d", p.Name, s.Ops, s.Seconds, w.MinOps)
		}
		if n := live.Load(); n != 0 {
			t.Errorf("%s: %d values still held after the workers closed", p.Name, n)
		}
	}
	for _, c := range []struct {
		limit  int64
		onFree bool
		want   string
	}{{100, false, "failingAlloc: malloc"}, {1000, true, "failingAlloc: free"}} {
		w.Peers = nil // the workload names the peers it runs on
		var calls atomic.Int64
		p := bench.GoPeer("failing", "", func() bench.Allocator {
			return failingAlloc{calls: &calls, limit: c.limit, onFree: c.onFree}
		}, nil)
		if _, err := bench.Measure(p, w, time.Millisecond); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("panic at call %d (on free %v): error %v, want one naming %q", c.limit, c.onFree, err, c.want)
		}
	}
}
