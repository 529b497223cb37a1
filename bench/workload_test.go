package bench_test

import (
	"math"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/bench"
	"github.com/offheap/offheap/brk"
)

// TestPureGo: offheap is measured on the real program break, which needs a
// test binary (and a runner) without C code; nothing in bench may import
// cgo (bench/cpeer holds the C peers).
func TestPureGo(t *testing.T) {
	if raceEnabled {
		t.Skip("a -race binary links C: offheap runs on the reserved stand-in")
	}
	if k := brk.Default().Kind(); k != brk.Real {
		t.Fatalf("offheap's break in the bench test binary is %v, want brk: something in bench links C", k)
	}
}

// liveCount wraps an allocator and counts the blocks it holds.
type liveCount struct {
	bench.Allocator
	live *atomic.Int64
}

func (c liveCount) Malloc(n int) unsafe.Pointer {
	c.live.Add(1)
	return c.Allocator.Malloc(n)
}

func (c liveCount) Free(p unsafe.Pointer) {
	if p != nil {
		c.live.Add(-1)
	}
	c.Allocator.Free(p)
}

func (c liveCount) Realloc(p unsafe.Pointer, n int) unsafe.Pointer {
	if p == nil {
		c.live.Add(1)
	}
	return c.Allocator.Realloc(p, n)
}

// smallGC makes the GC-pressure and churn workloads small for a test.
func smallGC(t *testing.T) {
	saved, churn := bench.GCConfig, bench.ChurnConfig
	bench.GCConfig.Millions = []float64{0.01}
	bench.ChurnConfig.Entries = 20_000
	t.Cleanup(func() { bench.GCConfig, bench.ChurnConfig = saved, churn })
}

// TestWorkloads runs every workload briefly through Measure on offheap and
// on Go's heap, and checks that the workers give back every block they
// took (through Malloc or Realloc) and that offheap's heap is sound
// afterwards, with the memory figures filled in.
func TestWorkloads(t *testing.T) {
	smallGC(t)
	peers := []bench.Peer{bench.OffheapPeer(), bench.GoHeapPeer()}
	for _, p := range peers {
		var live atomic.Int64
		newAlloc := map[string]func() bench.Allocator{
			"offheap": func() bench.Allocator { return liveCount{bench.Offheap{}, &live} },
			"go-heap": func() bench.Allocator { return liveCount{new(bench.GoHeap), &live} },
		}[p.Name]
		counted := bench.GoPeer(p.Name, p.About, newAlloc, p.Syscalls)
		for _, w := range bench.Workloads() {
			if !w.RunsOn(p.Name) {
				continue
			}
			s, err := bench.Measure(counted, w, 2*time.Millisecond)
			if err != nil {
				t.Fatalf("%s %s: %v", p.Name, w.Name, err)
			}
			if s.MaxRSS <= 0 || s.RSS <= 0 || s.RSSAfter <= 0 {
				t.Errorf("%s %s: peak RSS %d, RSS %d, after %d: want them all", p.Name, w.Name, s.MaxRSS, s.RSS, s.RSSAfter)
			}
			if (w.Kind == bench.GCCache) != (s.GC != nil) {
				t.Errorf("%s %s: GC figures %+v", p.Name, w.Name, s.GC)
			}
			if (s.Ops < 100 && w.Kind != bench.FirstCall) || s.NsPerOp <= 0 || s.Seconds <= 0 {
				t.Errorf("%s %s: sample %+v: want at least 100 operations and a time", p.Name, w.Name, s)
			}
			if counted := s.Syscalls >= 0; counted != (p.Syscalls != nil) {
				t.Errorf("%s %s: syscalls %d, counted %v: want counted exactly for offheap", p.Name, w.Name, s.Syscalls, p.Syscalls != nil)
			}
			if n := live.Load(); n != 0 {
				t.Errorf("%s %s: %d blocks still held after the workers closed", p.Name, w.Name, n)
			}
		}
	}
	if err := alloc.Check(); err != nil {
		t.Fatalf("alloc.Check after the workloads: %v", err)
	}
	// The uncounted peers themselves run too.
	for _, p := range peers {
		if _, err := bench.Measure(p, bench.Workloads()[1], time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

// seqAlloc hands out consecutive words of buf and records the order of
// frees; Malloc and Free may run on two goroutines, one each.
type seqAlloc struct {
	buf            []uint64
	next           int
	mallocs, frees atomic.Int64
	order          []int
}

func (a *seqAlloc) Malloc(n int) unsafe.Pointer {
	a.mallocs.Add(1)
	p := unsafe.Pointer(&a.buf[a.next%len(a.buf)])
	a.next++
	return p
}

func (a *seqAlloc) Realloc(p unsafe.Pointer, n int) unsafe.Pointer { panic("seqAlloc: no realloc") }

func (a *seqAlloc) Free(p unsafe.Pointer) {
	a.frees.Add(1)
	if a.order != nil {
		a.order = append(a.order, int((uintptr(p)-uintptr(unsafe.Pointer(&a.buf[0])))/8))
	}
}

// TestProdConsRing: every block the producer allocates is freed once by
// the consumer, in order, with the byte the producer wrote, including a
// last batch shorter than RingPublish and runs longer than the ring.
func TestProdConsRing(t *testing.T) {
	for _, n := range []int{1, bench.RingPublish - 1, bench.RingSize, 3*bench.RingSize + 7} {
		a := &seqAlloc{buf: make([]uint64, n), order: []int{}}
		w := &bench.Workload{Name: "prodcons", Kind: bench.ProdCons, Size: 8}
		wk, err := bench.NewGoWorker(a, w, 0)
		if err != nil {
			t.Fatal(err)
		}
		wk.Run(n)
		wk.Close()
		if len(a.order) != n {
			t.Fatalf("n=%d: %d frees", n, len(a.order))
		}
		for i, j := range a.order {
			if j != i {
				t.Fatalf("n=%d: free %d was block %d", n, i, j)
			}
			if got := byte(a.buf[i]); got != byte(i) {
				t.Fatalf("n=%d: block %d holds %d, the producer wrote %d", n, i, got, byte(i))
			}
		}
	}
}

// TestOperationCounts: n operations are n mallocs and n frees, on one
// worker or shared between several, and a mixed worker frees its live set
// on Close.
func TestOperationCounts(t *testing.T) {
	for _, w := range bench.Workloads() {
		a := &seqAlloc{buf: make([]uint64, 4096)}
		p := bench.GoPeer("count", "", func() bench.Allocator { return a }, nil)
		if w.Parallel || (w.Kind != bench.Pair && w.Kind != bench.Mixed && w.Kind != bench.Simple) {
			continue // seqAlloc is not safe for concurrent Mallocs; see TestThreadedCounts
		}
		if w.Mix != nil && w.Mix.Touch {
			continue // seqAlloc's blocks are words: the large workloads write megabytes
		}
		wk, err := p.NewWorker(w, 0)
		if err != nil {
			t.Fatal(err)
		}
		live := int64(0)
		if w.Mix != nil {
			live = int64(w.Mix.Slots)
		}
		if got := a.mallocs.Load(); got != live {
			t.Errorf("%s: %d mallocs to fill, want %d", w.Name, got, live)
		}
		const n = 5000
		wk.Run(n)
		if m, f := a.mallocs.Load(), a.frees.Load(); m != n+live || f != n {
			t.Errorf("%s: %d operations made %d mallocs and %d frees, want %d and %d", w.Name, n, m, f, n+live, n)
		}
		wk.Close()
		if m, f := a.mallocs.Load(), a.frees.Load(); m != f {
			t.Errorf("%s: after Close %d mallocs, %d frees", w.Name, m, f)
		}
	}
}

// TestMixTables: the tables follow the distributions they claim, and are
// the same on every call.
func TestMixTables(t *testing.T) {
	check := func(name string, m *bench.Mix, lo, hi uint32) {
		for i, s := range m.Sizes {
			if s < lo || s > hi {
				t.Fatalf("%s: size %d = %d, outside [%d, %d]", name, i, s, lo, hi)
			}
		}
		seen := make([]bool, m.Slots)
		for i, o := range m.Offsets {
			if int(o) >= m.Slots {
				t.Fatalf("%s: offset %d = %d, not below %d slots", name, i, o, m.Slots)
			}
			seen[o] = true
		}
		hit := 0
		for _, s := range seen {
			if s {
				hit++
			}
		}
		// 4096 draws over ~1000 slots leave about e^-4 of them out.
		if hit < m.Slots*9/10 {
			t.Errorf("%s: the offsets reach only %d of %d slots", name, hit, m.Slots)
		}
	}
	rl, ts := bench.RandomLiveMix(), bench.ThreadShapeMix()
	if rl.Slots != 1000 || ts.Slots != 1024 {
		t.Fatalf("slots: random-live %d, thread-shape %d; want 1000 and 1024", rl.Slots, ts.Slots)
	}
	check("random-live", rl, 16, 1024)
	check("thread-shape", ts, 4, 32768)

	frac := func(m *bench.Mix, keep func(uint32) bool) float64 {
		k := 0
		for _, s := range m.Sizes {
			if keep(s) {
				k++
			}
		}
		return float64(k) / float64(len(m.Sizes))
	}
	// Inverse square on [4, 32768], truncated: P(size <= 8) = P(x < 9) =
	// (1/4 - 1/9) / (1/4 - 1/32768) = 0.556; P(size > 200) = 0.0199.
	if f := frac(ts, func(s uint32) bool { return s <= 8 }); f < 0.53 || f > 0.58 {
		t.Errorf("thread-shape: %.3f of the sizes are at most 8 bytes, want about 0.556", f)
	}
	if f := frac(ts, func(s uint32) bool { return s > 200 }); f < 0.014 || f > 0.026 {
		t.Errorf("thread-shape: %.4f of the sizes exceed 200 bytes, want about 0.02", f)
	}
	// Uniform on [16, 1024]: the mean is 520.
	sum := 0.0
	for _, s := range rl.Sizes {
		sum += float64(s)
	}
	if mean := sum / float64(len(rl.Sizes)); mean < 500 || mean > 540 {
		t.Errorf("random-live: mean size %.1f, want about 520", mean)
	}
	if *bench.RandomLiveMix().Sizes != *rl.Sizes || *bench.ThreadShapeMix().Offsets != *ts.Offsets {
		t.Error("the tables changed between calls")
	}
}

// failingAlloc allocates from Go's heap and panics at its limit-th Malloc,
// or at its limit-th Free when onFree is set.
type failingAlloc struct {
	calls  *atomic.Int64
	limit  int64
	onFree bool
}

func (a failingAlloc) Malloc(n int) unsafe.Pointer {
	if !a.onFree && a.calls.Add(1) == a.limit {
		panic("failingAlloc: malloc")
	}
	return unsafe.Pointer(unsafe.SliceData(make([]byte, n)))
}

func (a failingAlloc) Realloc(p unsafe.Pointer, n int) unsafe.Pointer {
	return new(bench.GoHeap).Realloc(p, n)
}

func (a failingAlloc) Free(unsafe.Pointer) {
	if a.onFree && a.calls.Add(1) == a.limit {
		panic("failingAlloc: free")
	}
}

// TestMeasureContainsPanics: a panic in the allocator, on whichever
// goroutine, becomes Measure's error; nothing hangs and the process lives.
func TestMeasureContainsPanics(t *testing.T) {
	for _, w := range bench.Workloads() {
		if w.Name != "pair/64" && w.Name != "random-live-par" && w.Kind != bench.ProdCons {
			continue
		}
		for _, onFree := range []bool{false, true} {
			// Fail during the second trial run (1,000 operations), after
			// the workers have filled their live sets.
			limit := int64(150)
			if w.Mix != nil && !onFree {
				limit += int64(w.Mix.Slots * w.Threads(runtime.GOMAXPROCS(0)))
			}
			var calls atomic.Int64
			p := bench.GoPeer("failing", "", func() bench.Allocator {
				return failingAlloc{calls: &calls, limit: limit, onFree: onFree}
			}, nil)
			_, err := bench.Measure(p, w, 10*time.Millisecond)
			want := "failingAlloc: malloc"
			if onFree {
				want = "failingAlloc: free"
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s, panic on free %v: error %v, want one naming %q", w.Name, onFree, err, want)
			}
		}
	}
}

// countAlloc allocates from Go's heap (Realloc as GoHeap does) and counts
// the calls; it is safe for concurrent use.
type countAlloc struct {
	mallocs, frees, reallocs atomic.Int64
}

func (c *countAlloc) Malloc(n int) unsafe.Pointer {
	c.mallocs.Add(1)
	return unsafe.Pointer(unsafe.SliceData(make([]byte, n)))
}

func (c *countAlloc) Free(p unsafe.Pointer) {
	if p != nil {
		c.frees.Add(1)
	}
}

func (c *countAlloc) Realloc(p unsafe.Pointer, n int) unsafe.Pointer {
	if p == nil {
		c.reallocs.Add(1)
	}
	return new(bench.GoHeap).Realloc(p, n)
}

// TestThreadedCounts: the workloads re-specified from glibc's benchtests
// and mimalloc-bench do n mallocs for n operations (alloc-test: 2n
// calls, mallocs and frees), on one thread or several, and give back every
// block on Close, the ones that hold other blocks' addresses (Realloc)
// included.
func TestThreadedCounts(t *testing.T) {
	for _, threads := range []int{1, 3} {
		for _, w := range bench.WorkloadsFor(threads) {
			switch w.Kind {
			case bench.Simple, bench.Larson, bench.Xmalloc, bench.AllocTest, bench.RPTest, bench.MStress, bench.Scratch:
			default:
				continue
			}
			if w.Kind == bench.Simple && w.Size != 64 {
				continue
			}
			c := new(countAlloc)
			wk, err := bench.NewGoWorkerFunc(func() bench.Allocator { return c }, w, 0)
			if err != nil {
				t.Fatal(err)
			}
			m0, f0 := c.mallocs.Load(), c.frees.Load()
			const n = 20000
			for _, k := range []int{n, n / 3} {
				wk.Run(k)
				// rptest: when Run returns, every list handed over has been
				// freed (a finished thread drains its list until all are
				// done), so only the slots hold blocks.
				live := c.mallocs.Load() + c.reallocs.Load() - c.frees.Load()
				if w.Kind == bench.RPTest && live > int64(bench.RPSlots*w.Threads(threads)) {
					t.Errorf("%s on %d threads: %d blocks live after Run(%d), more than the %d slots", w.Name, threads, live, k, bench.RPSlots*w.Threads(threads))
				}
			}
			m, f := c.mallocs.Load()-m0, c.frees.Load()-f0
			want := int64(n + n/3)
			switch w.Kind {
			case bench.AllocTest:
				if m+f != 2*want {
					t.Errorf("%s on %d threads: %d mallocs and %d frees for %d operations, want %d calls", w.Name, threads, m, f, want, 2*want)
				}
			case bench.Scratch:
				want += 2 * int64(w.Threads(1)) // each Run's objects from the main thread
				fallthrough
			default:
				if m != want {
					t.Errorf("%s on %d threads: %d mallocs for %d operations", w.Name, threads, m, want)
				}
			}
			wk.Close()
			if m, f, r := c.mallocs.Load(), c.frees.Load(), c.reallocs.Load(); m+r != f {
				t.Errorf("%s on %d threads: %d mallocs and %d reallocs, %d frees after Close", w.Name, threads, m, r, f)
			}
		}
	}
}

// TestGenerators: alloc-test's size law gives 5 B-1 KiB with half the
// draws in the smallest class, larson's lran2 stays in [0, 714025), and
// rptest's tables follow the source's ranges.
func TestGenerators(t *testing.T) {
	lo, hi, small := bench.AllocTestSizeRange(100000)
	if lo < 5 || hi > 1024 || small < 0.47 || small > 0.53 {
		t.Errorf("alloc-test sizes on [%d, %d], %.3f at most 8 bytes; want [5, 1024] and about half", lo, hi, small)
	}
	if lo, hi := bench.Lran2Range(4141, 100000); lo < 0 || hi >= 714025 || hi < 700000 {
		t.Errorf("lran2 on [%d, %d], want [0, 714025) and reaching near the top", lo, hi)
	}
	rt := bench.RPTestTables()
	for i, s := range rt.Sizes {
		if s < 8 || s > 16000 {
			t.Fatalf("rptest size %d = %d, outside [8, 16000]", i, s)
		}
	}
	below := 0
	for _, s := range rt.Sizes {
		if s < 8000 {
			below++
		}
	}
	// The linear drop-off makes small sizes more frequent than an even law.
	if f := float64(below) / float64(len(rt.Sizes)); f < 0.6 {
		t.Errorf("rptest: %.2f of the sizes under 8000, want a drop-off (more than 0.6)", f)
	}
	for _, v := range rt.AllocOps {
		if v < 30 || v > 99 {
			t.Fatalf("rptest alloc count %d outside [30, 99]", v)
		}
	}
	for _, v := range rt.FreeOps {
		if v < 24 || v > 79 {
			t.Fatalf("rptest free count %d outside [24, 79]", v)
		}
	}
	l := bench.LargeMix()
	for _, s := range l.Sizes {
		if s < 200<<10 || s > 8<<20 {
			t.Fatalf("large size %d outside [200 KiB, 8 MiB]", s)
		}
	}
	if !l.Touch {
		t.Error("the large workloads do not touch their pages")
	}
}

// TestCalibrate: the count of operations for a run of d comes from the
// line through two trials, so a fixed cost per run is not taken for a cost
// per operation; without a usable line it scales the last trial.
func TestCalibrate(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		ops1      int
		el1       time.Duration
		ops2      int
		el2       time.Duration
		d         time.Duration
		want      int
		tolerance float64
	}{
		{100, 5*ms + 100*time.Microsecond, 1000, 6 * ms, 100 * ms, 95000, 0.01}, // 5 ms per run, 1 us per operation
		{100, 100 * time.Microsecond, 1000, ms, 100 * ms, 100000, 0.01},         // no fixed cost
		{100, 6 * ms, 1000, 5 * ms, 100 * ms, 20000, 0.01},                      // noise: scale the second trial
		{0, 0, 100, 0, 100 * ms, 1e10, 0},                                       // nothing measurable: 1 ns for 100
		{100, ms, 1000, 2 * ms, 100 * time.Microsecond, 100, 0},                 // at least 100
	} {
		got := bench.Calibrate(c.ops1, c.el1, c.ops2, c.el2, c.d)
		if math.Abs(float64(got-c.want)) > c.tolerance*float64(c.want) {
			t.Errorf("Calibrate(%d, %v, %d, %v, %v) = %d, want %d", c.ops1, c.el1, c.ops2, c.el2, c.d, got, c.want)
		}
	}
}
