//go:build cgo

package cpeer

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/bench"
)

// The C peers of issue 3's suite: glibc by default, jemalloc or mimalloc
// with that build tag.
// go test -run '^$' -bench . [-tags jemalloc] ./bench/cpeer

func TestConstants(t *testing.T) {
	ms, mo, rs, rp := constants()
	if ms != bench.MixSizes || mo != bench.MixOffsets || rs != bench.RingSize || rp != bench.RingPublish {
		t.Fatalf("native.h has %d %d %d %d, bench has %d %d %d %d", ms, mo, rs, rp,
			bench.MixSizes, bench.MixOffsets, bench.RingSize, bench.RingPublish)
	}
}

// TestWorkloadConstants: workloads.h agrees with the Go loops' constants.
func TestWorkloadConstants(t *testing.T) {
	c, g := workloadConstants(), bench.WorkloadConstants()
	if !slices.Equal(c, g) {
		t.Fatalf("workloads.h has %v, bench has %v", c, g)
	}
}

func TestIdentify(t *testing.T) {
	about, err := Identify()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(about, Lib+" ") {
		t.Fatalf("Identify() = %q, want it to name %s", about, Lib)
	}
	t.Log(about)
}

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

// TestWorkloads runs every workload briefly on both peers; through cgo the
// blocks are counted, and every one must be freed when the workers close.
func TestWorkloads(t *testing.T) {
	peers, err := Peers()
	if err != nil {
		t.Fatal(err)
	}
	saved := bench.ChurnConfig
	bench.ChurnConfig.Entries = 20_000
	defer func() { bench.ChurnConfig = saved }()
	var live atomic.Int64
	peers[0] = bench.GoPeer(peers[0].Name, peers[0].About,
		func() bench.Allocator { return liveCount{CgoMalloc{}, &live} }, nil)
	for _, p := range peers {
		for _, w := range bench.Workloads() {
			if !w.RunsOn(p.Name) || w.Kind == bench.FirstCall { // TestFirstMalloc
				continue
			}
			if testing.Short() && w.Source != "issue 3" && !w.Default {
				continue
			}
			s, err := bench.Measure(p, w, time.Millisecond)
			if err != nil {
				t.Fatalf("%s %s: %v", p.Name, w.Name, err)
			}
			if s.Ops < 100 || s.NsPerOp <= 0 || s.Syscalls != -1 {
				t.Errorf("%s %s: %+v", p.Name, w.Name, s)
			}
			if n := live.Load(); n != 0 {
				t.Errorf("%s %s: %d blocks not freed", p.Name, w.Name, n)
			}
		}
	}
}

// TestChurnDraws: the C churn draws the same slots and sizes as the Go
// loop, from every worker's seed.
func TestChurnDraws(t *testing.T) {
	for worker := range 3 {
		slots, sizes := churnDraws(bench.ChurnSeed(worker), 2_500_000, 64, 193, 1000)
		x := bench.ChurnSeed(worker)
		for i := range slots {
			x = bench.ChurnNext(x)
			slot, size := bench.ChurnDraw(x, 2_500_000, 64, 193)
			if int64(slot) != slots[i] || uint32(size) != sizes[i] {
				t.Fatalf("worker %d, draw %d: C %d, %d; Go %d, %d", worker, i, slots[i], sizes[i], slot, size)
			}
		}
	}
}

// TestFirstMalloc: the cgo peer's first malloc through cgo and the native
// peer's C program (built here, as the runner builds it) each report one
// sane operation.
func TestFirstMalloc(t *testing.T) {
	w := &bench.Workload{Name: "first-malloc", Kind: bench.FirstCall, Size: 16}
	t.Setenv(bench.FirstMallocEnv, firstProgram(t))
	for _, p := range peers {
		s, err := bench.MeasureFirst(p, w)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if s.Ops != 1 || s.NsPerOp <= 0 || s.NsPerOp > 1e9 {
			t.Errorf("%s: %+v", p.Name, s)
		}
		t.Logf("%s: %.1f us", p.Name, s.NsPerOp/1e3)
	}
}

// firstProgram builds the first-malloc C program for this binary's
// allocator, as the runner does, and returns its path.
func firstProgram(tb testing.TB) string {
	lib := bench.CLib{Name: Lib}
	for _, l := range bench.CLibs {
		if l.Name == Lib {
			lib = l
		}
	}
	path := tb.TempDir() + "/firstmalloc"
	if err := bench.BuildFirstProgram(lib, path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkFirstMalloc: issue 11's target 8 for the C allocator: the first
// malloc(16) of a fresh C process (native, the program the runner builds)
// and of a fresh Go process through cgo (this test binary again, whose Go
// runtime has set the C allocator up before main). us/first-malloc is the
// median, max-us/first-malloc the slowest; bench's BenchmarkFirstMalloc
// has offheap's.
func BenchmarkFirstMalloc(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Skip(err)
	}
	prog := firstProgram(b)
	b.Run(Lib+"-native", func(b *testing.B) {
		bench.BenchFirst(b, func() *exec.Cmd { return exec.Command(prog, "16") })
	})
	b.Run(Lib+"-cgo", func(b *testing.B) {
		bench.BenchFirst(b, func() *exec.Cmd {
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "CPEER_FIRST_MALLOC=1")
			return cmd
		})
	})
}

// TestMain: with CPEER_FIRST_MALLOC set, the test binary is
// BenchmarkFirstMalloc's child: it times its first C malloc through cgo.
func TestMain(m *testing.M) {
	if os.Getenv("CPEER_FIRST_MALLOC") != "" {
		os.Exit(bench.FirstChild(bench.GoPeer(Lib+"-cgo", "", func() bench.Allocator { return CgoMalloc{} }, nil), 16))
	}
	os.Exit(m.Run())
}

var peers = func() []bench.Peer {
	p, err := Peers()
	if err != nil {
		panic(err)
	}
	return p
}()

// BenchmarkPair: same-size malloc+free pairs, one sub-benchmark per size.
func BenchmarkPair(b *testing.B) { bench.BenchKind(b, "pair", peers...) }

// BenchmarkRandomLive: 1,000 live blocks of 16-1024 bytes.
func BenchmarkRandomLive(b *testing.B) { bench.BenchKind(b, "random-live", peers...) }

// BenchmarkThreadShape: glibc's bench-malloc-thread working set.
func BenchmarkThreadShape(b *testing.B) { bench.BenchKind(b, "thread-shape", peers...) }

// BenchmarkPairParallel: BenchmarkPair under b.RunParallel.
func BenchmarkPairParallel(b *testing.B) { bench.BenchKind(b, "pair-par", peers...) }

// BenchmarkRandomLiveParallel: BenchmarkRandomLive under b.RunParallel.
func BenchmarkRandomLiveParallel(b *testing.B) { bench.BenchKind(b, "random-live-par", peers...) }

// BenchmarkThreadShapeParallel: BenchmarkThreadShape under b.RunParallel.
func BenchmarkThreadShapeParallel(b *testing.B) { bench.BenchKind(b, "thread-shape-par", peers...) }

// BenchmarkProdCons: one goroutine (thread) allocates, another frees.
func BenchmarkProdCons(b *testing.B) { bench.BenchKind(b, "prodcons", peers...) }

// TestHeapJob: the C heap-destroy draws the Go loop's sizes; it drops its
// jobs through the allocator's own heaps exactly where the allocator has
// them (mimalloc, jemalloc), and runs whole jobs, shorter ones and frees
// each block when asked to (heap-destroy/free).
func TestHeapJob(t *testing.T) {
	var w *bench.Workload
	for _, x := range bench.Workloads() {
		if x.Name == bench.HeapDestroy {
			w = x
		}
	}
	if w == nil {
		t.Fatal("no heap-destroy workload")
	}
	if got, want := heapJobSizes(w.Mix, 5000), bench.HeapJobSizes(5000); !slices.Equal(got, want) {
		t.Fatalf("C sizes %v..., Go %v...", got[:8], want[:8])
	}
	if got, want := JobHeaps(), Lib != "glibc"; got != want {
		t.Errorf("%s: the native heap-destroy drops jobs through heaps of its own: %v, want %v", Lib, got, want)
	}
	free := *w
	free.FreeEach = true
	for _, x := range []*bench.Workload{w, &free} {
		wk, err := newNativeWorker(x, 0)
		if err != nil {
			t.Fatal(err)
		}
		wk.Run(x.N + x.N/3) // a whole job and a shorter one
		wk.Close()
	}
	peers, err := Peers()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if !w.RunsOn(p.Name) {
			continue
		}
		s, err := bench.Measure(p, w, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if s.Ops == 0 || s.Ops%int64(w.N) != 0 {
			t.Errorf("%s: %d operations, want whole jobs of %d", p.Name, s.Ops, w.N)
		}
	}
}
