package bench

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/offheap/offheap/brk"
)

// Worker runs a workload's operations for one goroutine (a ProdCons worker
// starts its consumer itself). It keeps its live set between calls of Run.
type Worker interface {
	// Run performs n operations (malloc+free pairs).
	Run(n int)
	// Close frees every block the worker still holds.
	Close()
}

// Peer is one allocator under comparison: offheap, Go's heap, a C
// allocator through cgo, or a C allocator running the loop natively.
type Peer struct {
	Name  string // "offheap", "go-heap", "modernc-memory", "glibc-cgo", "glibc-native", ...
	About string // what exactly is measured, one line
	// NewWorker returns worker number worker (0, 1, ... for the Ps of a
	// parallel workload) for w, or an error when the peer cannot run w.
	NewWorker func(w *Workload, worker int) (Worker, error)
	// Syscalls, when not nil, returns the allocator's memory system calls so
	// far; Measure reports the difference per 1,000 operations.
	Syscalls func() uint64
	// First, when not nil, measures the peer's first call (the FirstCall
	// workload) where the measuring process cannot: a native peer's is a C
	// program's. Without it MeasureFirst times a Go peer's allocator.
	First FirstFunc
	// newAlloc is the allocator factory of a peer written in Go (GoPeer).
	newAlloc func() Allocator
}

// GoPeer returns a peer whose workloads are Go loops calling the
// allocators that newAlloc returns (one per worker).
func GoPeer(name, about string, newAlloc func() Allocator, syscalls func() uint64) Peer {
	return Peer{
		Name:  name,
		About: about,
		NewWorker: func(w *Workload, worker int) (Worker, error) {
			return NewGoWorkerFunc(newAlloc, w, worker)
		},
		Syscalls: syscalls,
		newAlloc: newAlloc,
	}
}

// OffheapPeer is offheap through alloc.Malloc and alloc.Free. Its About
// says where the main arena lives: "brk" in a pure Go binary, as it should
// be, "reserved" in one that links C.
func OffheapPeer() Peer {
	return GoPeer("offheap", "alloc.Malloc/alloc.Free from Go, main heap on "+brk.Default().Kind().String()+" (syscalls: brk and mmapper counters)",
		func() Allocator { return Offheap{} }, OffheapSyscalls)
}

// GoHeapPeer is Go's heap: make([]byte, n), reclaimed by the collector.
func GoHeapPeer() Peer {
	return GoPeer("go-heap", "make([]byte, n) kept in a 64-block ring, reclaimed by the GC (GOGC as set)",
		func() Allocator { return new(GoHeap) }, nil)
}

// Sink receives the last block of every Run, so that no compiler can
// prove the blocks unused; it is atomic because parallel workers all store
// to it (once per Run, not per operation).
var Sink atomic.Pointer[byte]

// NewGoWorker returns the Go loop of workload w over allocator a, as worker
// number worker. Every thread of a multi-threaded workload shares a, so a
// must be safe for concurrent use there (GoHeap is not: see
// NewGoWorkerFunc).
func NewGoWorker(a Allocator, w *Workload, worker int) (Worker, error) {
	return NewGoWorkerFunc(func() Allocator { return a }, w, worker)
}

// NewGoWorkerFunc returns the Go loop of workload w, as worker number
// worker, over allocators from newAlloc: one for the worker, and one more
// for each thread a multi-threaded workload starts.
func NewGoWorkerFunc(newAlloc func() Allocator, w *Workload, worker int) (Worker, error) {
	switch w.Kind {
	case Simple:
		return &simpleWorker{a: newAlloc(), size: w.Size, slots: make([]unsafe.Pointer, w.N)}, nil
	case Larson:
		return newLarson(newAlloc, w.workers()), nil
	case Xmalloc:
		return &xmallocWorker{newAlloc: newAlloc, size: w.Size, threads: w.workers()}, nil
	case AllocTest:
		return newAllocTest(newAlloc(), AllocTestItems/w.workers()), nil
	case RPTest:
		return newRPTest(newAlloc, w.workers()), nil
	case MStress:
		return newMStress(newAlloc, w.workers()), nil
	case Scratch:
		return &scratchWorker{newAlloc: newAlloc, size: w.Size, threads: w.workers()}, nil
	case GCCache:
		return nil, fmt.Errorf("bench: %s is measured by MeasureGC, not by a worker", w.Name)
	case FirstCall:
		return nil, fmt.Errorf("bench: %s is measured by MeasureFirst, not by a worker", w.Name)
	case Churn:
		return newChurn(newAlloc(), w.Churn, worker, w.workers()), nil
	case HeapJob:
		return newHeapJob(newAlloc(), w), nil
	}
	a := newAlloc()
	switch w.Kind {
	case Pair:
		return &pairWorker{a: a, size: w.Size}, nil
	case Mixed:
		m := &mixWorker{a: a, MixState: MixState{Mix: w.Mix, Slots: make([]unsafe.Pointer, w.Mix.Slots)}}
		m.OffState, m.SizeState = Seeds(worker)
		m.fill()
		return m, nil
	case ProdCons:
		return &prodConsWorker{a: a, size: w.Size, ring: new(Ring)}, nil
	}
	return nil, fmt.Errorf("bench: unknown workload kind %d", w.Kind)
}

type pairWorker struct {
	a    Allocator
	size int
}

func (w *pairWorker) Run(n int) {
	if l, ok := w.a.(Looper); ok {
		Sink.Store((*byte)(l.PairLoop(w.size, n)))
		return
	}
	a, size := w.a, w.size
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		p = a.Malloc(size)
		*(*byte)(p) = byte(i)
		a.Free(p)
	}
	Sink.Store((*byte)(p))
}

func (w *pairWorker) Close() {}

type mixWorker struct {
	a Allocator
	MixState
}

// fill allocates every slot (glibc's loop starts from empty slots and
// frees NULL at first; starting full measures the steady state at once).
func (w *mixWorker) fill() {
	for j := range w.Slots {
		w.SizeState = LCGNext(w.SizeState)
		size := int(w.Mix.Sizes[(w.SizeState>>16)&(MixSizes-1)])
		p := w.a.Malloc(size)
		*(*byte)(p) = byte(j)
		if w.Mix.Touch {
			TouchPages(p, size)
		}
		w.Slots[j] = p
	}
}

func (w *mixWorker) Run(n int) {
	if l, ok := w.a.(Looper); ok {
		Sink.Store((*byte)(l.MixLoop(&w.MixState, n)))
		return
	}
	a, slots, sizes, offsets, touch := w.a, w.Slots, w.Mix.Sizes, w.Mix.Offsets, w.Mix.Touch
	offs, ss := w.OffState, w.SizeState
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		offs = LCGNext(offs)
		j := offsets[(offs>>16)&(MixOffsets-1)]
		ss = LCGNext(ss)
		size := sizes[(ss>>16)&(MixSizes-1)]
		a.Free(slots[j])
		p = a.Malloc(int(size))
		*(*byte)(p) = byte(i)
		if touch {
			TouchPages(p, int(size))
		}
		slots[j] = p
	}
	w.OffState, w.SizeState = offs, ss
	Sink.Store((*byte)(p))
}

func (w *mixWorker) Close() {
	for j, p := range w.Slots {
		w.a.Free(p)
		w.Slots[j] = nil
	}
}

type prodConsWorker struct {
	a    Allocator
	size int
	ring *Ring
}

// Run allocates n blocks on the calling goroutine and frees them on a
// second one. A panic on either side stops the other and is raised again
// here.
func (w *prodConsWorker) Run(n int) {
	r := w.ring
	r.Reset()
	done := make(chan any, 1)
	go func() {
		defer func() {
			e := recover()
			if e != nil {
				r.abort.Store(true)
			}
			done <- e
		}()
		r.Consume(w.a, n)
	}()
	defer func() {
		if e := recover(); e != nil {
			r.abort.Store(true)
			<-done
			panic(e)
		}
		if e := <-done; e != nil {
			panic(e)
		}
	}()
	r.Produce(w.a, w.size, n)
}

func (w *prodConsWorker) Close() {}

// The single-producer single-consumer ring of the ProdCons workload. The
// producer publishes its tail, and the consumer its head, once per
// RingPublish blocks, so the indices' cache lines travel between the cores
// once per batch, not once per block; the C peers use the same ring.
const (
	RingSize    = 1024 // slots (a power of two)
	RingPublish = 64   // blocks per published index update
	ringSpins   = 128  // failed polls before yielding the P
)

// Ring is a single-producer single-consumer ring of blocks.
type Ring struct {
	_    [64]byte
	tail atomic.Int64 // blocks published by the producer
	_    [56]byte
	head atomic.Int64 // blocks released by the consumer
	_    [56]byte
	slot [RingSize]unsafe.Pointer
	// abort tells a waiting side that the other has failed.
	abort atomic.Bool
}

// Reset empties the ring; neither side may be running.
func (r *Ring) Reset() {
	r.tail.Store(0)
	r.head.Store(0)
	r.abort.Store(false)
}

// Produce allocates n blocks of size bytes from a, writes the first byte
// of each and puts them into the ring, waiting while it is full. It gives
// up when the consumer has failed.
func (r *Ring) Produce(a Allocator, size, n int) {
	head := int64(0)
	spins := 0
	for i := int64(0); i < int64(n); i++ {
		for i-head >= RingSize {
			if head = r.head.Load(); i-head >= RingSize {
				if spins++; spins%ringSpins == 0 {
					if r.abort.Load() {
						return
					}
					runtime.Gosched()
				}
			}
		}
		p := a.Malloc(size)
		*(*byte)(p) = byte(i)
		r.slot[i&(RingSize-1)] = p
		if (i+1)&(RingPublish-1) == 0 {
			r.tail.Store(i + 1)
		}
	}
	r.tail.Store(int64(n))
}

// Consume takes n blocks from the ring, in order, and frees them with a,
// waiting while the ring is empty. It gives up when the producer has
// failed.
func (r *Ring) Consume(a Allocator, n int) {
	spins := 0
	for h := int64(0); h < int64(n); {
		t := r.tail.Load()
		if t == h {
			if spins++; spins%ringSpins == 0 {
				if r.abort.Load() {
					return
				}
				runtime.Gosched()
			}
			continue
		}
		for ; h < t; h++ {
			a.Free(r.slot[h&(RingSize-1)])
			if (h+1)&(RingPublish-1) == 0 {
				r.head.Store(h + 1)
			}
		}
	}
	r.head.Store(int64(n))
}

// parallelGrain is the fewest operations a goroutine of a parallel
// workload takes at a time from the shared count; grainsPerWorker is about
// how many grains each worker takes in a run (grain).
const (
	parallelGrain   = 1024
	grainsPerWorker = 256
)

// grain returns how many operations a worker of k takes at a time in a run
// of n: n/(256k), at least parallelGrain. Each grain costs the workers a
// shared line or two (the count, and the sinks and states they write when
// a grain ends: the C peers' states sit side by side in C's heap), a
// transfer between cores each, and a native peer a cgo call. Grains of
// 1,024 operations (about 10 us of random-live) took several percent of a
// two-P sample: a pure Go loop over a private 512 KiB array per goroutine,
// in this harness (bench/cmd/grains), gave 1.64-1.89x the one-goroutine
// throughput on two Ps with grains of 1,024 and 1.92-2.00x with 16,384,
// where two separate processes give 1.91-2.09x; twenty two-P samples of glibc natively went
// from medians of 1.57x (pair), 1.25x (random-live) and 1.36x
// (thread-shape) to 1.83x, 1.65x and 1.56x, offheap's from 1.95x, 1.87x and
// 1.88x to 1.99x, 1.90x and 1.89x (bench/README.md, "2026-12-07, third
// session"). 256 grains a worker leave at most one grain, 0.4% of the
// run, to the end's imbalance.
func grain(n, k int) int64 { return max(int64(n)/int64(grainsPerWorker*k), parallelGrain) }

// runWorkers performs n operations with the workers, one goroutine each,
// handing out the operations in grains (grain) so a fast goroutine does
// more. A panic in a worker stops the others at their next grain and is
// raised again on the calling goroutine.
func runWorkers(ws []Worker, n int) {
	if len(ws) == 1 {
		ws[0].Run(n)
		return
	}
	g := grain(n, len(ws))
	var next atomic.Int64
	var wg sync.WaitGroup
	var failOnce sync.Once
	var failure any
	for _, wk := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if e := recover(); e != nil {
					failOnce.Do(func() { failure = e })
					next.Store(int64(n))
				}
			}()
			for {
				start := next.Add(g) - g
				if start >= int64(n) {
					return
				}
				wk.Run(int(min(g, int64(n)-start)))
			}
		}()
	}
	wg.Wait()
	if failure != nil {
		panic(failure)
	}
}
