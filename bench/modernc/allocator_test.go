package main

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"modernc.org/memory"

	"github.com/offheap/offheap/bench"
)

// TestMain: with MODERNC_FIRST_MALLOC set, the test binary times the peer's
// first malloc (TestFirstMalloc's child, as the runner's child would).
func TestMain(m *testing.M) {
	if os.Getenv("MODERNC_FIRST_MALLOC") != "" {
		os.Exit(bench.FirstChild(Peer(), 16))
	}
	os.Exit(m.Run())
}

// fillBlock writes n bytes of v at p; checkBlock reports whether they are
// still there.
func fillBlock(p unsafe.Pointer, n int, v byte) {
	for i := range unsafe.Slice((*byte)(p), n) {
		*(*byte)(unsafe.Add(p, i)) = v
	}
}

func checkBlock(p unsafe.Pointer, n int, v byte) bool {
	for _, b := range unsafe.Slice((*byte)(p), n) {
		if b != v {
			return false
		}
	}
	return true
}

// TestSharedRoundTrip: blocks of every kind (shared slots, the largest
// slot, dedicated pages) hold what is written; Realloc keeps the contents
// up to the smaller size, allocates for nil and frees for 0; Malloc(0) and
// Free(nil) behave as C's.
func TestSharedRoundTrip(t *testing.T) {
	s := new(Shared)
	sizes := []int{1, 15, 16, 17, 100, 4096, 16 << 10, 16<<10 + 1, 1 << 20}
	var blocks []unsafe.Pointer
	for i, n := range sizes {
		p := s.Malloc(n)
		if uintptr(p)%16 != 0 || memory.UnsafeUsableSize(p) < n {
			t.Fatalf("Malloc(%d) = %p, usable %d: want 16-byte aligned and at least %d", n, p, memory.UnsafeUsableSize(p), n)
		}
		fillBlock(p, n, byte(i+1))
		blocks = append(blocks, p)
	}
	for i, p := range blocks {
		if !checkBlock(p, sizes[i], byte(i+1)) {
			t.Fatalf("block %d of %d bytes overwritten", i, sizes[i])
		}
	}
	for i, p := range blocks {
		n := sizes[i]
		q := s.Realloc(p, 2*n+100) // grows, most of them out of place
		if !checkBlock(q, n, byte(i+1)) {
			t.Fatalf("Realloc(%d -> %d) lost the contents", n, 2*n+100)
		}
		q = s.Realloc(q, max(n/2, 1)) // shrinks
		if !checkBlock(q, max(n/2, 1), byte(i+1)) {
			t.Fatalf("Realloc(%d -> %d) lost the contents", 2*n+100, max(n/2, 1))
		}
		blocks[i] = q
	}
	for _, p := range blocks {
		s.Free(p)
	}
	if p := s.Malloc(0); p == nil {
		t.Error("Malloc(0) = nil, want a block (as C's malloc)")
	} else {
		s.Free(p)
	}
	p := s.Realloc(nil, 64)
	if p == nil || memory.UnsafeUsableSize(p) < 64 {
		t.Fatalf("Realloc(nil, 64) = %p", p)
	}
	if q := s.Realloc(p, 0); q != nil {
		t.Errorf("Realloc(p, 0) = %p, want nil (p freed)", q)
	}
	s.Free(nil)
	s.mu.Lock() // every call left the mutex unlocked
	s.mu.Unlock()
}

// TestSharedConcurrent: goroutines share one allocator through the mutex;
// each keeps a live set of blocks filled with its own byte and checks them
// before freeing, so blocks handed out twice or overlapping show. (Under
// -race, a call that skipped the mutex shows as a race on the Allocator.)
func TestSharedConcurrent(t *testing.T) {
	s := new(Shared)
	const goroutines, ops, live = 4, 20_000, 256
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var bad atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			v := byte(g + 1)
			var ps [live]unsafe.Pointer
			var ns [live]int
			for i := range ops {
				j := r.IntN(live)
				if ps[j] != nil {
					if !checkBlock(ps[j], ns[j], v) {
						bad.Add(1)
					}
					if i%3 == 0 {
						n := 1 + r.IntN(2048)
						ps[j] = s.Realloc(ps[j], n)
						if !checkBlock(ps[j], min(n, ns[j]), v) {
							bad.Add(1)
						}
						ns[j] = n
						fillBlock(ps[j], n, v)
						continue
					}
					s.Free(ps[j])
				}
				n := 1 + r.IntN(2048)
				if r.IntN(64) == 0 {
					n = 16<<10 + r.IntN(64<<10) // a dedicated page
				}
				ps[j], ns[j] = s.Malloc(n), n
				fillBlock(ps[j], n, v)
			}
			for j, p := range ps {
				if p != nil && !checkBlock(p, ns[j], v) {
					bad.Add(1)
				}
				s.Free(p)
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Fatalf("%d blocks found overwritten by another goroutine", n)
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
	switch {
	case p == nil:
		c.live.Add(1)
	case n == 0:
		c.live.Add(-1)
	}
	return c.Allocator.Realloc(p, n)
}

// TestWorkloads: the peer runs every workload of the bench that it can
// (all but those that set other peers' settings: the large ones that set
// offheap's and glibc's thresholds, issue 12's decay, trim and huge page
// variants; and those that measure offheap against itself, as
// heap-destroy/free), made small, and gives back every block it took.
func TestWorkloads(t *testing.T) {
	savedGC, savedChurn := bench.GCConfig, bench.ChurnConfig
	bench.GCConfig.Millions = []float64{0.01}
	bench.ChurnConfig.Entries = 20_000
	defer func() { bench.GCConfig, bench.ChurnConfig = savedGC, savedChurn }()
	var live atomic.Int64
	s := new(Shared)
	p := bench.GoPeer(bench.ModerncPeer, "", func() bench.Allocator { return liveCount{s, &live} }, nil)
	ran := 0
	for _, w := range bench.Workloads() {
		if !w.RunsOn(p.Name) {
			if w.Peers == nil || (w.Env == nil && !slices.Equal(w.Peers, []string{"offheap"})) {
				t.Errorf("%s does not run on %s", w.Name, p.Name)
			}
			continue
		}
		if testing.Short() && w.Source != "issue 3" && !w.Default {
			continue
		}
		smp, err := bench.Measure(p, w, time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		if smp.Ops < 1 || smp.NsPerOp <= 0 {
			t.Errorf("%s: %+v", w.Name, smp)
		}
		if n := live.Load(); n != 0 {
			t.Fatalf("%s: %d blocks still held after the workers closed", w.Name, n)
		}
		ran++
	}
	t.Logf("%d workloads", ran)
}

// TestFirstMalloc: a fresh process times the peer's first malloc.
func TestFirstMalloc(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "MODERNC_FIRST_MALLOC=1")
	s, err := bench.RunFirst(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops != 1 || s.NsPerOp <= 0 || s.NsPerOp > 1e9 {
		t.Errorf("sample %+v", s)
	}
	t.Logf("first UnsafeMalloc(16): %.1f us", s.NsPerOp/1e3)
}

// TestHeapJob: heap-destroy on the peer gives each job a memory.Allocator
// of its own and closes it: whole jobs, and the shared Allocator untouched.
func TestHeapJob(t *testing.T) {
	var w *bench.Workload
	for _, x := range bench.Workloads() {
		if x.Name == bench.HeapDestroy {
			w = x
		}
	}
	if w == nil || !w.RunsOn(bench.ModerncPeer) {
		t.Fatalf("heap-destroy: %+v, want a workload that runs on %s", w, bench.ModerncPeer)
	}
	if _, ok := bench.Allocator(shared).(bench.HeapMaker); !ok {
		t.Fatal("Shared is not a bench.HeapMaker")
	}
	j := shared.NewJobHeap()
	if j == bench.Allocator(shared) {
		t.Fatal("NewJobHeap returned the shared Allocator")
	}
	p := j.Malloc(100)
	*(*byte)(p) = 1
	shared.DropJobHeap(j)
	s, err := bench.Measure(Peer(), w, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops == 0 || s.Ops%int64(w.N) != 0 {
		t.Errorf("%d operations, want whole jobs of %d", s.Ops, w.N)
	}
}

// ifaceOnly hides Shared's Looper methods, so the workers loop through
// bench.Allocator.
type ifaceOnly struct{ bench.Allocator }

// TestLooper: Shared's own mixed loop ends as the workers' loop through
// the interface does: the last block has the same usable size and its
// first byte written, for every mixed workload.
func TestLooper(t *testing.T) {
	var _ bench.Looper = new(Shared)
	for _, w := range bench.Workloads() {
		if w.Parallel || w.Kind != bench.Mixed || !w.RunsOn(bench.ModerncPeer) {
			continue
		}
		n := 2000
		if w.Mix != nil && w.Mix.Touch {
			n = 20
		}
		last := func(a bench.Allocator) (size int, b byte) {
			wk, err := bench.GoPeer(bench.ModerncPeer, "", func() bench.Allocator { return a }, nil).NewWorker(w, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer wk.Close()
			wk.Run(n)
			p := bench.Sink.Load()
			return memory.UnsafeUsableSize(unsafe.Pointer(p)), *p
		}
		s1, b1 := last(new(Shared))
		s2, b2 := last(ifaceOnly{new(Shared)})
		if s1 != s2 || b1 != byte(n-1) || b2 != byte(n-1) {
			t.Errorf("%s: last block %d bytes, first byte %d (Looper) vs %d, %d (interface), want the same and %d", w.Name, s1, b1, s2, b2, byte(n-1))
		}
	}
}
