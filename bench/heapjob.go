package bench

import (
	"strconv"
	"unsafe"
)

// The heap-destroy workload: issue 14's "a job that builds 100,000 blocks
// and drops them", with Go's heap, the structure dropped and a GC, as its
// peer.
//
// A job allocates HeapJobBlocks blocks of 16-1024 bytes (random-live's
// size table, drawn with its generator, so the C loop draws the same
// sizes), writes the first byte of each and keeps its address in a table
// (the structure a job builds: a parse tree, a hash table for a join), then
// drops them all. How a peer drops a job is what the workload measures:
//
//   - offheap: the job's blocks come from a private heap of its own
//     (alloc.NewHeap), and Destroy gives them back at once, in time
//     proportional to the heap's mappings; the heap_cache keeps the
//     destroyed heap's memory for the next job's NewHeap.
//   - go-heap: the table is cleared (the blocks unreachable) and
//     runtime.GC() runs, its time counted: the collection a job's garbage
//     costs, paid when the job ends rather than as it falls.
//   - modernc-memory: a fresh memory.Allocator per job, whose Close gives
//     everything back.
//   - mimalloc-native: mi_heap_new, mi_heap_malloc and mi_heap_destroy;
//     jemalloc-native: an arena of the jobs' own (arenas.create, once) and
//     a thread cache per job (tcache.create), mallocx into them, then
//     tcache.destroy and arena.<i>.reset, which drops every block and keeps
//     the pages for the next job as offheap's heap_cache does
//     (arena.<i>.destroy per job gave them back, and each job faulted its
//     55 MB in again: 4x slower in one run). See bench/cpeer/workloads.c.
//   - glibc-native and the peers through cgo: malloc, then a free of each
//     block in allocation order; glibc has no heap to drop.
//
// heap-destroy/free runs offheap's blocks in the process heap with a Free
// each, as glibc does: issue 14's target 3 wants NewHeap, the allocations
// and Destroy at least 5x faster than that (Targets14).
//
// An operation is one block (its malloc and its share of the drop): a job
// is HeapJobBlocks operations, and a timed run is a whole number of jobs
// (Workload.Round), each paying for its drop. Run(n) makes n/HeapJobBlocks
// whole jobs and one shorter job for the rest (the calibration's trial
// runs).

// HeapDestroy is the heap-destroy workload's name.
const HeapDestroy = "heap-destroy"

// HeapJobBlocks is how many blocks a heap-destroy job builds.
const HeapJobBlocks = 100_000

// HeapJobWarmJobs is how many whole jobs run untimed between the
// calibration and the timed run. Memory freshly faulted in stays slow on
// this machine for the first passes over it (a loop writing a byte every
// 520 bytes over 50 MB of new pages: 20 ms, then 1.8, 1.0 and 0.38 ms from
// the fourth pass on, with no fault after the first), so without them the
// timed run of a peer that keeps its pages (offheap's heap_cache,
// mimalloc's and jemalloc's heaps) would time that warm-up rather than the
// jobs that follow it; a peer that gives its pages back pays the first
// pass again every job, as it would in a program.
const HeapJobWarmJobs = 5

// HeapJobTimedJobs is the fewest whole jobs a timed run makes: the
// calibration, its first trial slowed by that warm-up, would otherwise
// settle for three or four, and one slow job (a page-table or scheduler
// hiccup) would move the figure by a quarter.
const HeapJobTimedJobs = 8

// HeapJobPeers are the peers that run heap-destroy: offheap, Go's heap and
// modernc.org/memory, each with its way of dropping a job whole; glibc
// through cgo and natively, which frees each block; mimalloc and jemalloc
// natively, with their heaps. The other peers through cgo are left out to
// keep the default run short (they free each block, as glibc-cgo does).
var HeapJobPeers = []string{"offheap", "go-heap", ModerncPeer, "glibc-cgo", "glibc-native", "jemalloc-native", "mimalloc-native"}

// HeapMaker is an Allocator that can give each job of the heap-destroy
// workload a heap of its own, whose blocks all go at once when the job
// ends.
type HeapMaker interface {
	// NewJobHeap returns the allocator of one job's blocks.
	NewJobHeap() Allocator
	// DropJobHeap drops every block of a heap from NewJobHeap at once; the
	// job holds none of their addresses any more.
	DropJobHeap(Allocator)
}

// HeapJobSeed is the size generator's state of a heap-destroy worker:
// random-live's first worker's.
func HeapJobSeed() uint32 {
	_, s := Seeds(0)
	return s
}

type heapJobWorker struct {
	a         Allocator
	hm        HeapMaker // nil: a Free each
	sizes     *[MixSizes]uint32
	slots     []unsafe.Pointer
	sizeState uint32
}

// newHeapJob returns the worker of a heap-destroy workload over a: jobs
// dropped whole through a's HeapMaker, if it has one and w does not ask
// for a Free each.
func newHeapJob(a Allocator, w *Workload) *heapJobWorker {
	j := &heapJobWorker{a: a, sizes: w.Mix.Sizes, slots: make([]unsafe.Pointer, w.N), sizeState: HeapJobSeed()}
	if hm, ok := a.(HeapMaker); ok && !w.FreeEach {
		j.hm = hm
	}
	return j
}

func (w *heapJobWorker) Run(n int) {
	for n > 0 {
		k := min(n, len(w.slots))
		w.job(w.slots[:k])
		n -= k
	}
}

// job builds len(slots) blocks and drops them.
func (w *heapJobWorker) job(slots []unsafe.Pointer) {
	a := w.a
	if w.hm != nil {
		a = w.hm.NewJobHeap()
	}
	sizes, ss := w.sizes, w.sizeState
	for i := range slots {
		ss = LCGNext(ss)
		p := a.Malloc(int(sizes[(ss>>16)&(MixSizes-1)]))
		*(*byte)(p) = byte(i)
		slots[i] = p
	}
	w.sizeState = ss
	if w.hm != nil {
		clear(slots)
		w.hm.DropJobHeap(a)
		return
	}
	for i, p := range slots {
		a.Free(p)
		slots[i] = nil
	}
}

// HeapJobSizes returns the sizes of the first k blocks a heap-destroy
// worker allocates (the C loop's test compares its own).
func HeapJobSizes(k int) []uint32 {
	sizes, ss := RandomLiveMix().Sizes, HeapJobSeed()
	out := make([]uint32, k)
	for i := range out {
		ss = LCGNext(ss)
		out[i] = sizes[(ss>>16)&(MixSizes-1)]
	}
	return out
}

// Close has nothing to free: every Run drops its jobs.
func (w *heapJobWorker) Close() {}

// thousands writes n with a comma every three digits: 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
