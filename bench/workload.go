package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
)

// Kind is the shape of a workload's loop.
type Kind int

const (
	// Pair allocates a block of Size bytes, writes its first byte and frees
	// it, over and over: the fast path.
	Pair Kind = iota
	// Mixed keeps Mix.Slots blocks live; each operation picks a slot at a
	// pseudo-random offset, frees its block and puts a new block of a
	// pseudo-random size there (glibc's bench-malloc-thread loop).
	Mixed
	// ProdCons has one goroutine allocate blocks of Size bytes and hand them
	// through a single-producer single-consumer ring to a second goroutine,
	// which frees them: every free is a free from another P (or thread).
	ProdCons
	// Simple is glibc's bench-malloc-simple: N mallocs of Size bytes, then
	// their N frees in the same order (simple.go).
	Simple
	// Larson is mimalloc-bench's larson (larson.go).
	Larson
	// Xmalloc is mimalloc-bench's xmalloc-test (xmalloc.go).
	Xmalloc
	// AllocTest is mimalloc-bench's alloc-test (alloctest.go).
	AllocTest
	// RPTest is mimalloc-bench's rptest (rptest.go).
	RPTest
	// MStress is mimalloc-bench's mstress (mstress.go).
	MStress
	// Scratch is mimalloc-bench's cache-scratch (scratch.go).
	Scratch
	// GCCache is the GC-pressure workload: a cache of millions of values on
	// Go's heap or in offheap memory, serving requests (gccache.go).
	GCCache
	// Churn keeps millions of values live and replaces them at random: free
	// one, allocate and write its successor (churn.go).
	Churn
	// FirstCall times the first Malloc of Size bytes in a fresh process,
	// once per process (first.go).
	FirstCall
	// HeapJob builds jobs of N blocks of Mix's sizes and drops each job
	// whole: in a heap of its own that goes at once where the peer has one
	// (offheap's private heaps), unreachable and collected on Go's heap, a
	// Free each otherwise (heapjob.go).
	HeapJob
)

// Workload is one benchmark shape. An operation is one malloc and its
// free (a pair) in every workload but GCCache, whose operation is a
// request; ns/op is wall time per operation over all threads together.
type Workload struct {
	Name string // "pair/64", "random-live", "larson", "large/pinned", ...
	Kind Kind
	Size int  // block size of Pair, ProdCons, Simple, Xmalloc and Scratch
	Mix  *Mix // the tables of Mixed
	// N is Simple's blocks per round, HeapJob's blocks per job.
	N int
	// Parallel runs one independent worker per thread (Workers of them,
	// GOMAXPROCS when 0), each with its own live set, sharing the
	// operations; ns/op is then wall time per operation of all of them
	// together.
	Parallel bool
	// Workers is the thread count of a parallel workload or of a workload
	// that runs threads of its own (Larson, Xmalloc, RPTest, MStress,
	// Scratch); 0 means GOMAXPROCS.
	Workers int
	Doc     string // what it does, one line
	// Source says where the rules come from and which published facts the
	// workload reproduces.
	Source string
	// Env is added, per child binary ("go" for offheap and Go's heap,
	// "glibc", "jemalloc", "mimalloc"), to the environment of the process
	// that measures the workload.
	Env map[string][]string
	// Peers, when not nil, lists the only peers that run the workload.
	Peers []string
	// Reps, when > 0, is the repetitions of a long workload (GCCache),
	// whatever the run's count.
	Reps int
	// Default puts the workload in the set that runs without -run.
	Default bool
	// GC holds GCCache's parameters.
	GC *GCSpec
	// Churn holds Churn's parameters.
	Churn *ChurnSpec
	// MinOps, when > 0, is the fewest operations of a timed run, however
	// fast the peer (Churn: enough replacements that Go's heap collects in
	// the run, so that its time includes the collector's).
	MinOps int
	// WarmOps, when > 0, is how many operations run untimed between the
	// collection that precedes the timed run and the run (Churn: half a
	// turnover, so that the run starts half-way through one of Go's GC
	// cycles rather than at its start).
	WarmOps int
	// ConcurrentSetup has Measure make and close the workers of a parallel
	// workload each on a goroutine of its own, at once (Churn: each thread
	// loads and frees its share of millions of values, as a program's
	// goroutines would load their shards).
	ConcurrentSetup bool
	// NoTrace leaves the workload out of the system-call pass (Churn, whose
	// set-up is long; FirstCall, whose native peer runs a process the
	// tracer does not follow). offheap's own counters still count its calls.
	NoTrace bool
	// Round, when > 0, makes the operations of a timed run a whole number
	// of Round (HeapJob: whole jobs, each paying for its drop).
	Round int
	// FreeEach has HeapJob free every block of a job, in the process heap,
	// even where the peer has heaps to drop (heap-destroy/free).
	FreeEach bool
}

// Threads returns how many goroutines (or threads) the workload runs at
// once with GOMAXPROCS procs.
func (w *Workload) Threads(procs int) int {
	switch {
	case w.Parallel, w.Kind == Larson, w.Kind == RPTest, w.Kind == MStress, w.Kind == Scratch, w.Kind == GCCache, w.Kind == Churn:
		if w.Workers > 0 {
			return w.Workers
		}
		return procs
	case w.Kind == Xmalloc:
		if w.Workers > 0 {
			return 2 * w.Workers
		}
		return 2 * procs
	case w.Kind == ProdCons:
		return 2
	}
	return 1
}

// workers returns the thread count of a workload that runs threads of its
// own: Workers, or GOMAXPROCS.
func (w *Workload) workers() int {
	if w.Workers > 0 {
		return w.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// RunsOn reports whether peer runs the workload.
func (w *Workload) RunsOn(peer string) bool {
	if peer == "fileheap" && !fileHeapWorkloads.MatchString(w.Name) {
		return false
	}
	return w.Peers == nil || slices.Contains(w.Peers, peer)
}

// The mixed workloads draw slots and sizes from fixed tables, indexed by
// two linear congruential generators (rand_r's constants) so the loop costs
// a multiply per draw in Go and in C alike. The C peers get copies of the
// same tables (bench/cpeer), so every peer runs the same sequence.
const (
	MixSizes   = 8192 // entries in Mix.Sizes (a power of two)
	MixOffsets = 4096 // entries in Mix.Offsets (a power of two)
	lcgMul     = 1103515245
	lcgAdd     = 12345
)

// Mix holds the tables of a Mixed workload. They are read only.
type Mix struct {
	Slots   int                 // live blocks
	Sizes   *[MixSizes]uint32   // block sizes to draw from
	Offsets *[MixOffsets]uint32 // slots to draw from, each < Slots
	// Touch writes one byte in every 4 KiB page of a new block, not only
	// its first byte (the large workloads: a program fills its buffers,
	// and the faults are part of the cost).
	Touch bool
}

// LCGNext advances a mixed workload's generator: x*1103515245 + 12345 mod
// 2^32; the table index is bits 16 and up of the result.
func LCGNext(x uint32) uint32 { return x*lcgMul + lcgAdd }

// Seeds returns the generator states of worker number worker: its slot
// generator and its size generator.
func Seeds(worker int) (offsetState, sizeState uint32) {
	return uint32(worker)*2 + 1, uint32(worker)*2 + 2
}

// newMix draws the tables from a fixed seed, so every run and every peer
// see the same sequence.
func newMix(slots int, size func(r *rand.Rand) uint32) *Mix {
	r := rand.New(rand.NewPCG(88, 88)) // glibc's RAND_SEED is 88
	m := &Mix{Slots: slots, Sizes: new([MixSizes]uint32), Offsets: new([MixOffsets]uint32)}
	for i := range m.Sizes {
		m.Sizes[i] = size(r)
	}
	for i := range m.Offsets {
		m.Offsets[i] = uint32(r.IntN(slots))
	}
	return m
}

// RandomLiveMix is issue 3's "random sizes 16-1024 with 1,000 live
// blocks": sizes uniform on [16, 1024], slots uniform on [0, 1000).
var RandomLiveMix = sync.OnceValue(func() *Mix {
	return newMix(1000, func(r *rand.Rand) uint32 { return 16 + uint32(r.IntN(1024-16+1)) })
})

// ThreadShapeMix is glibc benchtests/bench-malloc-thread.c's working set:
// 1024 slots, sizes on [4, 32768] with an inverse-square distribution
// (get_block_size: (r*(max^-1 - min^-1) + min^-1)^-1 for r uniform on
// [0, 1], truncated), so 56% of the requests are at most 8 bytes and 1 in
// 50 exceeds 200.
var ThreadShapeMix = sync.OnceValue(func() *Mix {
	const lo, hi = 4.0, 32768.0
	return newMix(1024, func(r *rand.Rand) uint32 {
		x := r.Float64()
		s := 1 / ((1/hi-1/lo)*x + 1/lo)
		return uint32(math.Min(math.Max(s, lo), hi))
	})
})

// PairSizes are the block sizes of the same-size pair workloads.
var PairSizes = []int{16, 64, 256, 1024, 4096, 65536}

// ProdConsSize is the block size of the producer/consumer workload, as in
// mimalloc-bench's xmalloc-test.
const ProdConsSize = 64

// LargeMix is the large-block workload's table: 8 live blocks, sizes
// log-uniform on [200 KiB, 8 MiB], every page touched.
var LargeMix = sync.OnceValue(func() *Mix {
	const lo, hi = 200 << 10, 8 << 20
	m := newMix(8, func(r *rand.Rand) uint32 {
		return uint32(math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo))))
	})
	m.Touch = true
	return m
})

// SimpleSizes and SimpleBlocks are bench-malloc-simple's block sizes (the
// sizes glibc's benchtests/Makefile runs it with) and its blocks per round
// (allocs[] in the source).
var (
	SimpleSizes  = []int{8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}
	SimpleBlocks = []int{25, 100, 400, 1600}
)

// simpleDefault are the malloc-simple workloads of the default set.
var simpleDefault = map[[2]int]bool{{16, 25}: true, {1024, 400}: true, {4096, 1600}: true}

// The decay rows (issue 12): offheap with decay=1s, and the peers that
// release memory some time after it was freed, set to the same second:
// jemalloc's dirty_decay_ms, mimalloc 2.0's decommit_delay.
var (
	decayEnv = map[string][]string{"go": {"OFFHEAP=decay=1s"},
		"jemalloc": {"MALLOC_CONF=dirty_decay_ms:1000"}, "mimalloc": {"MIMALLOC_DECOMMIT_DELAY=1000"}}
	decayPeers = []string{"offheap", "jemalloc-native", "mimalloc-native"}
)

// Where the rules come from.
const (
	srcDecay       = "issue 12: OFFHEAP=decay=1s (jemalloc MALLOC_CONF=dirty_decay_ms:1000, mimalloc MIMALLOC_DECOMMIT_DELAY=1000)"
	srcGlibcSimple = "glibc 2.36 benchtests/bench-malloc-simple.c (run by benchtests/Makefile for sizes 8..4096)"
	srcGlibcThread = "glibc 2.36 benchtests/bench-malloc-thread.c"
	srcMiBench     = "mimalloc-bench (bench/%s, run as in its bench.sh)"
)

// Workloads returns every workload with GOMAXPROCS threads where a
// workload has several; see WorkloadsFor.
func Workloads() []*Workload { return WorkloadsFor(0) }

// WorkloadsFor returns every workload in table order, the multi-threaded
// ones with threads threads (0: GOMAXPROCS): issue 3's pairs, live sets and
// producer/consumer pair; glibc's bench-malloc-simple and (as thread-shape)
// bench-malloc-thread; mimalloc-bench's larson, xmalloc-test, alloc-test,
// rptest, mstress and cache-scratch; the large blocks under three
// threshold settings; and the GC-pressure cache. Each call returns fresh
// Workload values over shared tables; Default marks the set that runs
// without -run.
func WorkloadsFor(threads int) []*Workload {
	var ws []*Workload
	add := func(w *Workload) { ws = append(ws, w) }
	pairs := func(par bool) {
		for _, n := range PairSizes {
			name, doc := "pair/"+strconv.Itoa(n), "malloc, write a byte, free: one size"
			if par {
				name, doc = "pair-par/"+strconv.Itoa(n), "pair on every P at once"
			}
			add(&Workload{Name: name, Kind: Pair, Size: n, Parallel: par, Doc: doc, Source: "issue 3"})
		}
	}
	mixes := func(par bool) {
		suffix, doc, workers := "", "", 0
		if par {
			suffix, doc, workers = "-par", " (one live set per thread, all at once)", threads
		}
		add(&Workload{Name: "random-live" + suffix, Kind: Mixed, Mix: RandomLiveMix(), Parallel: par, Workers: workers,
			Doc: "1,000 live blocks of 16-1024 bytes, random replacement" + doc, Source: "issue 3"})
		add(&Workload{Name: "thread-shape" + suffix, Kind: Mixed, Mix: ThreadShapeMix(), Parallel: par, Workers: workers, Default: true,
			Doc:    "glibc bench-malloc-thread: 1,024 slots per thread, inverse-square sizes 4-32768, free then malloc at random offsets" + doc,
			Source: srcGlibcThread + ": the working set (1024 slots, get_block_size's inverse-square law on [4, 32768]), the loop (free then malloc at a pseudo-random offset) and one working set per thread; run for a fixed time, as its DURATION"})
	}
	pairs(false)
	mixes(false)
	pairs(true)
	mixes(true)
	add(&Workload{Name: "prodcons/" + strconv.Itoa(ProdConsSize), Kind: ProdCons, Size: ProdConsSize,
		Doc: "one goroutine allocates, another frees, through a lock-free ring", Source: "issue 3"})

	for _, size := range SimpleSizes {
		for _, n := range SimpleBlocks {
			add(&Workload{Name: fmt.Sprintf("malloc-simple/%d/%d", size, n), Kind: Simple, Size: size, N: n,
				Default: simpleDefault[[2]int{size, n}],
				Doc:     fmt.Sprintf("glibc bench-malloc-simple: %d mallocs of %d bytes, then %d frees in order, per round", n, size, n),
				Source:  srcGlibcSimple + ": do_benchmark's round (n mallocs of one size, then the n frees first to last, no writes), n in {25, 100, 400, 1600}, one thread (main_arena_st)"})
			if size == 4096 && n == 1600 {
				// Issue 12: the round's frees leave a top above the trim
				// threshold, which glibc's policy gives back at once and the
				// next round faults in again.
				add(&Workload{Name: "malloc-simple/4096/1600/decay", Kind: Simple, Size: size, N: n, Default: true,
					Doc:    "malloc-simple/4096/1600 with decay: memory trimming would give back kept until unused for 1 s",
					Source: srcGlibcSimple + "; " + srcDecay,
					Env:    decayEnv, Peers: decayPeers})
				add(&Workload{Name: "malloc-simple/4096/1600/notrim", Kind: Simple, Size: size, N: n, Default: true,
					Doc:    "malloc-simple/4096/1600 with trimming turned off (trim_threshold at its maximum): the reference for decay",
					Source: srcGlibcSimple + "; the trim threshold at its maximum (M_TRIM_THRESHOLD, glibc.malloc.trim_threshold)",
					Env: map[string][]string{"go": {"OFFHEAP=trim_threshold=" + strconv.FormatInt(math.MaxInt64, 10)},
						"glibc": {"GLIBC_TUNABLES=glibc.malloc.trim_threshold=" + strconv.FormatUint(math.MaxUint64, 10)}},
					Peers: []string{"offheap", "glibc-native"}})
			}
		}
	}
	add(&Workload{Name: "larson", Kind: Larson, Workers: threads, Default: true,
		Doc:    "larson: 5,000 live blocks of 8-999 bytes per thread, random replacement, blocks handed to the next generation of threads",
		Source: fmt.Sprintf(srcMiBench, "larson/larson.cpp") + ": `larson 5 8 1000 5000 100 4141 T`: sizes min+lran2%(max-min), 5,000 blocks per thread, warm-up by the main thread (allocate, permute, 4x replace), 100 rounds x 5,000 replacements per thread generation, each new generation inheriting the blocks; writes 2 bytes per block"})
	add(&Workload{Name: "xmalloc-test", Kind: Xmalloc, Size: 64, Workers: threads, Default: true,
		Doc:    "xmalloc-test: producers allocate 64-byte objects in batches of 4,096, consumers free them",
		Source: fmt.Sprintf(srcMiBench, "xmalloc-test/xmalloc-test.c") + ": `xmalloc-test -w T -t 5 -s 64`: T producer and T consumer threads, batches of 4,096 objects (each memset), a LIFO of at most 100 batches under a mutex and two condition variables, the batch itself malloc'd"})
	for _, par := range []bool{false, true} {
		name, workers, doc := "alloc-test", 1, "1 thread"
		if par {
			name, workers, doc = "alloc-test-par", threads, "one per thread, all at once"
		}
		add(&Workload{Name: name, Kind: AllocTest, Parallel: par, Workers: workers, Default: true,
			Doc:    "alloc-test: 2^18 slots (" + doc + "), Pareto-skewed slot choice, geometric size classes 5 B-1 KiB, fill on alloc, read on free",
			Source: fmt.Sprintf(srcMiBench, "alloc-test/allocator_tester.h") + ": randomPos_RandomSize with MEM_ACCESS_TYPE::full, maxItems 2^18 split over the threads, maxItemSizeExp 10, seed 41: half the slots filled first, then at a Pareto_80_20_6 slot a full one is read and freed, an empty one allocated and filled"})
	}
	add(&Workload{Name: "rptest", Kind: RPTest, Workers: threads, Default: true,
		Doc:    "rptest: 1,000 slots per thread, sizes 8-16000 (linear drop-off), batches of frees and mallocs, every other loop a batch handed to another thread",
		Source: fmt.Sprintf(srcMiBench, "rptest/rptest.c") + ": `rptest T 0 1 2 500 1000 100 8 16000`: random sizes with the linear drop-off, cross rate 2, 500 loops per iteration, 1,000 slots, 31-99 mallocs and 25-79 frees per loop (op count 100), scatter primes 7 and 11; each block's first int, a byte per page and its last byte written"})
	add(&Workload{Name: "mstress", Kind: MStress, Workers: threads, Default: true,
		Doc:    "mstress: short-lived and retained sets, 1% blocks 100x larger, realloc growth, cross-thread frees through a shared buffer",
		Source: fmt.Sprintf(srcMiBench, "mstress/mstress.c") + ": stress(): per thread 80*N*(tid%8+1) allocations of 1-128 words and half as many retained ones of 10-1280 words (N = 50/T), 1% x100, a data array grown by realloc in steps of 100,000 entries, 66% frees, 25% swaps through a 1,000-slot shared buffer; every word written and checked"})
	for _, par := range []bool{false, true} {
		name, workers := "cache-scratch", 1
		if par {
			name, workers = "cache-scratch-par", threads
		}
		add(&Workload{Name: name, Kind: Scratch, Size: 1, Workers: workers, Default: true,
			Doc:    "cache-scratch: each thread frees a 1-byte object the main thread allocated, then mallocs, writes and frees 1-byte objects (passive false sharing)",
			Source: fmt.Sprintf(srcMiBench, "cache-scratch/cache-scratch.cpp") + ": `cache-scratch T 1000 1 2000000 T`: objects allocated by the main thread, one freed by each worker, then malloc(1), repetitions/T writes and reads, free; repetitions scaled from 2,000,000 to 2,000 per object"})
	}
	large := []struct{ name, doc, offheap, glibc string }{
		{"large/dynamic", "the defaults: glibc's dynamic mmap threshold", "", ""},
		{"large/pinned", "the mmap threshold pinned at 128 KiB: every block mapped", "OFFHEAP=mmap_threshold=128k", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072"},
		{"large/tuned", "tuned: threshold above the largest block, a trim threshold and top pad that keep the heap", "OFFHEAP=mmap_threshold=16m,trim_threshold=64m,top_pad=16m",
			"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=16777216:glibc.malloc.trim_threshold=67108864:glibc.malloc.top_pad=16777216"},
	}
	const largeSource = "glibc 2.36 malloc.c's dynamic threshold (a freed mapped chunk raises M_MMAP_THRESHOLD to its size, up to 32 MiB) against mallopt(M_MMAP_THRESHOLD) pinning it"
	const largeDoc = "8 live blocks of 200 KiB-8 MiB (log-uniform), random replacement, every page written; "
	for i, l := range large {
		w := &Workload{Name: l.name, Kind: Mixed, Mix: LargeMix(), Default: true, Doc: largeDoc + l.doc, Source: largeSource}
		if i > 0 {
			w.Env = map[string][]string{"go": {l.offheap}, "glibc": {l.glibc}}
			w.Peers = []string{"offheap", "glibc-cgo", "glibc-native"}
		}
		add(w)
		if i == 0 {
			// Issue 12: large/dynamic with decay, and with huge pages.
			add(&Workload{Name: "large/dynamic/decay", Kind: Mixed, Mix: LargeMix(), Default: true,
				Doc:    largeDoc + "the defaults and decay: freed memory kept until unused for 1 s",
				Source: largeSource + "; " + srcDecay, Env: decayEnv, Peers: decayPeers})
			add(&Workload{Name: "large/dynamic/hugetlb", Kind: Mixed, Mix: LargeMix(), Default: true,
				Doc:    largeDoc + "the defaults and transparent huge pages (hugetlb=1, glibc.malloc.hugetlb=1)",
				Source: largeSource + "; glibc 2.35's glibc.malloc.hugetlb=1 (madvise MADV_HUGEPAGE, heap growth and trimming in huge pages)",
				Env:    map[string][]string{"go": {"OFFHEAP=hugetlb=1"}, "glibc": {"GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}},
				Peers:  []string{"offheap", "glibc-cgo", "glibc-native"}})
		}
	}
	// Issue 12's check on multi-threaded workloads (not in the default set):
	// decay against trimming turned off, offheap alone.
	for _, name := range []string{"xmalloc-test", "rptest"} {
		var base *Workload
		for _, w := range ws {
			if w.Name == name {
				base = w
			}
		}
		for _, v := range []struct{ suffix, env, doc string }{
			{"/decay", "OFFHEAP=decay=1s", " with decay=1s"},
			{"/notrim", "OFFHEAP=trim_threshold=" + strconv.FormatInt(math.MaxInt64, 10), " with trimming turned off (trim_threshold at its maximum)"},
		} {
			w := *base
			w.Name, w.Doc, w.Default = name+v.suffix, base.Doc+v.doc, false
			w.Env, w.Peers = map[string][]string{"go": {v.env}}, []string{"offheap"}
			add(&w)
		}
	}
	for _, gc := range GCSpecs() {
		add(&Workload{Name: gc.Name(), Kind: GCCache, GC: gc, Workers: threads, Peers: []string{"offheap", "go-heap", ModerncPeer}, Reps: 1,
			Default: gc.Default,
			Doc:     fmt.Sprintf("GC pressure: %dM cached values of %d-%d bytes, on Go's heap or off it, %d%% gets and %d%% updates", gc.Entries/1_000_000, gc.MinSize, gc.MaxSize, 100-gc.UpdatePercent, gc.UpdatePercent),
			Source:  "issue 7: the case offheap exists for; GC CPU from runtime/metrics /cpu/classes/gc/total:cpu-seconds"})
	}
	ch := new(ChurnSpec)
	*ch = ChurnConfig
	add(&Workload{Name: ch.Name(), Kind: Churn, Churn: ch, Parallel: true, Workers: threads, MinOps: ch.Turnovers * ch.Entries, WarmOps: ch.Entries / 2, ConcurrentSetup: true,
		Peers: ChurnPeers, Reps: 1, NoTrace: true, Default: true,
		Doc: fmt.Sprintf("%s live values of %d-%d bytes split over the threads, each operation replacing one at random (free it, allocate and write its successor); at least %d x %s replacements timed, GC included",
			millions(ch.Entries), ch.MinSize, ch.MaxSize, ch.Turnovers, millions(ch.Entries)),
		Source: "issue 11, target 5: gc-cache's shape without the reads; Go's heap holds its values in a []unsafe.Pointer the collector scans"})
	for _, free := range []bool{false, true} {
		w := &Workload{Name: HeapDestroy, Kind: HeapJob, Mix: RandomLiveMix(), N: HeapJobBlocks, MinOps: HeapJobTimedJobs * HeapJobBlocks, Round: HeapJobBlocks, WarmOps: HeapJobWarmJobs * HeapJobBlocks,
			Peers: HeapJobPeers, Default: true,
			Doc: fmt.Sprintf("jobs of %s blocks of 16-1024 bytes (first byte written, addresses in a table), each dropped whole: "+
				"offheap NewHeap+Destroy, Go's heap unreachable+runtime.GC(), mimalloc mi_heap_destroy, jemalloc arena.<i>.reset, modernc a fresh Allocator's Close, glibc a free each", thousands(HeapJobBlocks)),
			Source: "issue 14: a heap-destroy workload, Go's heap (the structure dropped and a GC) as its peer"}
		if free {
			w.Name, w.FreeEach, w.Peers = HeapDestroy+"/free", true, []string{"offheap"}
			w.Doc = fmt.Sprintf("heap-destroy in the process heap: the same allocations, then a Free of each of the %s blocks (issue 14, target 3: NewHeap+Destroy at least 5x faster)", thousands(HeapJobBlocks))
		}
		add(w)
	}
	add(&Workload{Name: FirstMalloc, Kind: FirstCall, Size: 16, NoTrace: true, Default: true,
		Doc:    "the first malloc(16) of a fresh process, timed with the monotonic clock: one sample per process",
		Source: "issue 11, target 8: what a program pays for the allocator's set-up on its first call"})
	return ws
}
