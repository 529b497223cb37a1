package bench_test

import (
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/bench"
)

// jobAlloc hands out words of buf, records each request's size and the
// order of frees, and, as a bench.HeapMaker when heaps is set, gives each
// job a jobHeap of its own.
type jobAlloc struct {
	buf    []uint64
	next   int
	sizes  []uint32
	freed  []unsafe.Pointer
	made   []*jobHeap
	heaps  bool
	failed string
}

func (a *jobAlloc) Malloc(n int) unsafe.Pointer {
	a.sizes = append(a.sizes, uint32(n))
	p := unsafe.Pointer(&a.buf[a.next%len(a.buf)])
	a.next++
	return p
}

func (a *jobAlloc) Free(p unsafe.Pointer) { a.freed = append(a.freed, p) }

func (a *jobAlloc) Realloc(unsafe.Pointer, int) unsafe.Pointer { panic("jobAlloc: no realloc") }

// jobHeap is a job's heap of a jobAlloc: its blocks, and whether it was
// dropped.
type jobHeap struct {
	a       *jobAlloc
	blocks  []unsafe.Pointer
	dropped bool
}

func (h *jobHeap) Malloc(n int) unsafe.Pointer {
	if h.dropped {
		h.a.failed = "Malloc in a dropped heap"
	}
	p := h.a.Malloc(n)
	h.blocks = append(h.blocks, p)
	return p
}

func (h *jobHeap) Free(unsafe.Pointer) { h.a.failed = "Free of a job heap's block" }

func (h *jobHeap) Realloc(unsafe.Pointer, int) unsafe.Pointer { panic("jobHeap: no realloc") }

// withHeaps is a jobAlloc that is a bench.HeapMaker.
type withHeaps struct{ *jobAlloc }

func (a withHeaps) NewJobHeap() bench.Allocator {
	h := &jobHeap{a: a.jobAlloc}
	a.made = append(a.made, h)
	return h
}

func (a withHeaps) DropJobHeap(x bench.Allocator) {
	h, ok := x.(*jobHeap)
	switch {
	case !ok || h.a != a.jobAlloc:
		a.failed = "DropJobHeap of another allocator's heap"
	case h.dropped:
		a.failed = "a heap dropped twice"
	}
	h.dropped = true
}

// heapDestroy returns the heap-destroy workload (or its /free variant) with
// jobs of n blocks.
func heapDestroy(t *testing.T, free bool, n int) *bench.Workload {
	t.Helper()
	name := bench.HeapDestroy
	if free {
		name += "/free"
	}
	for _, w := range bench.Workloads() {
		if w.Name == name {
			x := *w
			x.N, x.MinOps, x.Round = n, n, n
			return &x
		}
	}
	t.Fatalf("no workload %s", name)
	return nil
}

// TestHeapJobRounds: n operations are n blocks of random-live's sizes in
// jobs of N (whole ones, then a shorter one); with a HeapMaker each job
// gets a heap of its own, dropped once with every block in it and no Free;
// with /free, or an allocator that has no heaps, every block is freed, in
// allocation order.
func TestHeapJobRounds(t *testing.T) {
	const n, ops = 1000, 2500
	for _, c := range []struct {
		name        string
		heaps, free bool
	}{{"heaps", true, false}, {"heaps, /free", true, true}, {"no heaps", false, false}} {
		a := &jobAlloc{buf: make([]uint64, n)}
		var al bench.Allocator = a
		if c.heaps {
			al = withHeaps{a}
		}
		wk, err := bench.NewGoWorker(al, heapDestroy(t, c.free, n), 0)
		if err != nil {
			t.Fatal(err)
		}
		wk.Run(ops)
		wk.Close()
		if a.failed != "" {
			t.Fatalf("%s: %s", c.name, a.failed)
		}
		if !slices.Equal(a.sizes, bench.HeapJobSizes(ops)) {
			t.Errorf("%s: the sizes asked for are not random-live's as HeapJobSizes draws them", c.name)
		}
		last := (ops - 1) % n
		if got := byte(a.buf[last]); got != byte(last) {
			t.Errorf("%s: the last block holds %d, want its index in the job, %d", c.name, got, byte(last))
		}
		if c.heaps && !c.free {
			var per []int
			for _, h := range a.made {
				if !h.dropped {
					t.Errorf("%s: a job's heap was not dropped", c.name)
				}
				per = append(per, len(h.blocks))
			}
			if !slices.Equal(per, []int{n, n, ops - 2*n}) || len(a.freed) != 0 {
				t.Errorf("%s: jobs of %v blocks, %d frees; want [%d %d %d] and none", c.name, per, len(a.freed), n, n, ops-2*n)
			}
			continue
		}
		if len(a.made) != 0 || len(a.freed) != ops {
			t.Fatalf("%s: %d heaps, %d frees; want none and %d", c.name, len(a.made), len(a.freed), ops)
		}
		for i, p := range a.freed {
			if want := unsafe.Pointer(&a.buf[i%n]); p != want {
				t.Fatalf("%s: free %d was not the %dth block of its job", c.name, i, i%n)
			}
		}
	}
}

// TestHeapJobMeasure: heap-destroy on offheap times whole jobs, each in a
// private heap that is destroyed (none left), after a whole job untimed,
// and leaves the process heap sound; on Go's heap each job ends with a
// collection; heap-destroy/free uses offheap's process heap only.
func TestHeapJobMeasure(t *testing.T) {
	w := heapDestroy(t, false, 20_000)
	var before, after alloc.Stats
	alloc.ReadStats(&before)
	s, err := bench.Measure(bench.OffheapPeer(), w, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	alloc.ReadStats(&after)
	t.Logf("offheap: %d blocks, %d memory system calls, %d minor faults", s.Ops, s.Syscalls, s.MinorFaults)
	jobs := s.Ops / int64(w.N)
	made := int64(after.HeapCache.Created - before.HeapCache.Created)
	gone := int64(after.HeapCache.Destroyed - before.HeapCache.Destroyed)
	if s.Ops == 0 || s.Ops%int64(w.N) != 0 || made < jobs || made != gone || len(after.Heaps) != 0 {
		t.Errorf("offheap: %d operations (jobs of %d), %d heaps made, %d destroyed, %d live; want whole jobs, a heap each, none left",
			s.Ops, w.N, made, gone, len(after.Heaps))
	}
	// The trials made a whole job first: the timed run reuses the heap it
	// grew (the first job of 20,000 blocks faulted 2,552 pages in and made
	// 70 system calls; the next ones fault about 10).
	if s.MinorFaults > jobs*int64(w.N)/40 || s.Syscalls > 10*jobs {
		t.Errorf("offheap: %d jobs timed with %d minor faults and %d memory system calls: the first job's growth was timed", jobs, s.MinorFaults, s.Syscalls)
	}
	if err := alloc.Check(); err != nil {
		t.Fatal(err)
	}
	s, err = bench.Measure(bench.GoHeapPeer(), w, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops%int64(w.N) != 0 || s.GCCycles < s.Ops/int64(w.N) {
		t.Errorf("go-heap: %d operations, %d GC cycles; want whole jobs of %d, a collection each", s.Ops, s.GCCycles, w.N)
	}
	free := heapDestroy(t, true, 20_000)
	if !slices.Equal(free.Peers, []string{"offheap"}) || !free.FreeEach {
		t.Fatalf("heap-destroy/free: peers %v, FreeEach %v", free.Peers, free.FreeEach)
	}
	alloc.ReadStats(&before)
	if _, err := bench.Measure(bench.OffheapPeer(), free, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	alloc.ReadStats(&after)
	if after.HeapCache.Created != before.HeapCache.Created {
		t.Errorf("heap-destroy/free made %d private heaps", after.HeapCache.Created-before.HeapCache.Created)
	}
}
