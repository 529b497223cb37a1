package bench

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// mimalloc-bench's rptest, re-specified.
//
// The source (bench/rptest/rptest.c in mimalloc-bench, Mattias Jansson's
// rpmalloc benchmark) is run by mimalloc-bench as `rptest T 0 1 2 500 1000
// 100 8 16000`: T threads, random sizes on [8, 16000] with the "linear
// drop-off" law, a cross-thread rate of 2, 500 loops per iteration, 1,000
// slots per thread and an operation count of 100. Each loop first frees
// num_free_ops (25-79) slots, stepping through the slots by the prime 11,
// frees every block another thread handed over, then allocates
// num_alloc_ops (31-99) blocks, stepping by the prime 7 (freeing a slot's
// old block first), writing the block's size in its first int, a byte in
// each page and its last byte; every second loop it allocates one more
// batch of as many blocks, lists them in a malloc'd array under a malloc'd
// header and pushes that on the lock-free list of the next thread (round
// robin, skipping itself). After 500 loops a thread frees its slots.
//
// The size tables: the source lists 2,000 random numbers r on [0, 100000),
// makes random_size = min + round((max-min) r/100000) and from it
// random_size_lin[i] = min + (random_size[i+2]-min) |w0 + w1 - 1| with w0,
// w1 = 1 - (random_size[i], random_size[i+1] - min)/(max-min): most sizes
// small, linearly fewer up to 16000. The operation counts are two lists of
// numbers on [30, 99] (311 and 257 of them) times op_count/100, the free
// counts times 0.8 more. Here the random numbers are drawn once from a
// fixed seed (the same for every peer) and the formulas are the source's.
//
// What it shows: a mix of small and page-sized blocks, batches of frees,
// and blocks freed by a thread that did not allocate them.
//
// As in the source, once one thread has finished (its share of n here, its
// loops there) no thread hands over more lists, and a finished thread
// keeps freeing the lists handed to it, sleeping a millisecond between
// looks, until every thread has finished. Without that rule a thread that
// finished first stopped freeing while the others kept handing it blocks:
// on a loaded machine, where one thread runs alone for whole scheduler
// slices, tens of thousands of blocks (hundreds of MiB) piled up and the
// memory figures measured the scheduler.
//
// Here, an operation is one malloc (each block is freed once); Run(n)
// stops each thread after its share of n, and the slots and the loop
// count carry over to the next Run.
const (
	rpSlots        = 1000
	rpLoops        = 500
	rpOpCount      = 100
	rpMin          = 8
	rpMax          = 16000
	rpCrossRate    = 2
	rpAllocScatter = 7
	rpFreeScatter  = 11
	RPSizes        = 2000
	RPAllocOps     = 311
	RPFreeOps      = 257
)

// RPTables holds rptest's size and operation-count tables.
type RPTables struct {
	Sizes    [RPSizes]uint32    // random_size_lin
	AllocOps [RPAllocOps]uint32 // num_alloc_ops, scaled
	FreeOps  [RPFreeOps]uint32  // num_free_ops, scaled
}

// RPTestTables returns rptest's tables, drawn once from a fixed seed.
var RPTestTables = sync.OnceValue(func() *RPTables {
	r := rand.New(rand.NewPCG(7, 11))
	t := new(RPTables)
	var even [RPSizes]float64
	for i := range even {
		even[i] = rpMin + math.Round((rpMax-rpMin)*float64(r.IntN(100000))/100000)
	}
	rng := float64(rpMax - rpMin)
	for i := range t.Sizes {
		w0 := 1 - (even[i]-rpMin)/rng
		w1 := 1 - (even[(i+1)%RPSizes]-rpMin)/rng
		e := even[(i+2)%RPSizes] - rpMin
		t.Sizes[i] = uint32(rpMin + int(e*math.Abs(w0+w1-1)))
	}
	for i := range t.AllocOps {
		t.AllocOps[i] = uint32(float64(rpOpCount) * float64(30+r.IntN(70)) / 100)
	}
	for i := range t.FreeOps {
		t.FreeOps[i] = uint32(0.8 * float64(rpOpCount) * float64(30+r.IntN(70)) / 100)
	}
	return t
})

// A hand-over list is two pointer blocks, as in the source: a header of
// four words (the array, unused, the next header, unused) and the array of
// blocks, ended by a nil (the source keeps the count in the header; a
// count stored in a pointer word would fool checkptr and the collector).
const rpHeaderBytes = 32

type rpThread struct {
	a        Allocator
	slots    []unsafe.Pointer
	foreign  atomic.Pointer[byte] // lists handed over by other threads
	allocIdx int
	freeIdx  int
	sizeIdx  int
	iter     int
	loop     int
	cross    int
	index    int
}

type rpWorker struct {
	t        *RPTables
	threads  []*rpThread
	running  int          // threads with a share in the current Run
	finished atomic.Int32 // of those, the ones that finished it
}

func newRPTest(newAlloc func() Allocator, threads int) *rpWorker {
	w := &rpWorker{t: RPTestTables()}
	for i := range threads {
		th := &rpThread{a: newAlloc(), slots: make([]unsafe.Pointer, rpSlots), index: i}
		th.sizeIdx = rpStartIndex(i, 0)
		w.threads = append(w.threads, th)
	}
	return w
}

// rpStartIndex is size_index at the start of an iteration.
func rpStartIndex(thread, iter int) int { return ((thread + 1) * ((iter + 1) * 37)) % RPSizes }

func (w *rpWorker) Run(n int) {
	var c crew
	w.running = 0
	for i := range w.threads {
		if share(n, len(w.threads), i) > 0 {
			w.running++
		}
	}
	w.finished.Store(0)
	for i, th := range w.threads {
		if q := share(n, len(w.threads), i); q > 0 {
			c.Go(func() { w.run(th, q, &c.stop) })
		}
	}
	c.Wait()
}

// newBlock allocates a block of the next size and writes it as the source
// does.
func (w *rpWorker) newBlock(th *rpThread) unsafe.Pointer {
	size := int(w.t.Sizes[(th.sizeIdx+2)%RPSizes])
	p := th.a.Malloc(size)
	*(*int32)(p) = int32(size)
	for page := 1; page < (size-1)/4096; page++ {
		*(*byte)(unsafe.Add(p, page*4096)) = 1
	}
	*(*byte)(unsafe.Add(p, size-1)) = 1
	th.sizeIdx = (th.sizeIdx + 1) % RPSizes
	return p
}

// freeForeign frees every list handed to th.
func freeForeign(th *rpThread) { freeLists(th, unsafe.Pointer(th.foreign.Swap(nil))) }

// freeLists frees the lists from h on, and their blocks.
func freeLists(th *rpThread, h unsafe.Pointer) {
	for h != nil {
		arr := *ptrAt(h, 0)
		for i := 0; *ptrAt(arr, i) != nil; i++ {
			th.a.Free(*ptrAt(arr, i))
		}
		next := *ptrAt(h, 2)
		th.a.Free(arr)
		th.a.Free(h)
		h = next
	}
}

func (w *rpWorker) run(th *rpThread, quota int, stop *atomic.Bool) {
	t, a, slots := w.t, th.a, th.slots
	for quota > 0 {
		foreign := unsafe.Pointer(th.foreign.Swap(nil))
		frees := int(t.FreeOps[(th.iter+th.loop)%RPFreeOps])
		for k := 0; k < frees; k++ {
			if p := slots[th.freeIdx]; p != nil {
				a.Free(p)
				slots[th.freeIdx] = nil
			}
			th.freeIdx = (th.freeIdx + rpFreeScatter) % rpSlots
		}
		freeLists(th, foreign)
		allocs := min(int(t.AllocOps[(th.iter+th.loop)%RPAllocOps]), quota)
		for k := 0; k < allocs; k++ {
			if p := slots[th.allocIdx]; p != nil {
				a.Free(p)
			}
			slots[th.allocIdx] = w.newBlock(th)
			th.allocIdx = (th.allocIdx + rpAllocScatter) % rpSlots
		}
		quota -= allocs
		if len(w.threads) > 1 && th.loop%rpCrossRate == 0 && quota > 0 && w.finished.Load() == 0 {
			k := min(int(t.AllocOps[(th.iter+th.loop)%RPAllocOps]), quota)
			h := a.Realloc(nil, rpHeaderBytes)
			arr := a.Realloc(nil, 8*(k+1))
			for i := 0; i < k; i++ {
				*ptrAt(arr, i) = w.newBlock(th)
			}
			*ptrAt(arr, k) = nil
			*ptrAt(h, 0) = arr
			quota -= k
			th.cross = (th.cross + 1) % len(w.threads)
			if th.cross == th.index {
				th.cross = (th.cross + 1) % len(w.threads)
			}
			dst := &w.threads[th.cross].foreign
			for {
				old := dst.Load()
				*ptrAt(h, 2) = unsafe.Pointer(old)
				if dst.CompareAndSwap(old, (*byte)(h)) {
					break
				}
			}
		}
		if th.loop++; th.loop == rpLoops {
			// The end of an iteration: the thread frees its slots.
			for i, p := range slots {
				if p != nil {
					a.Free(p)
					slots[i] = nil
				}
			}
			th.loop, th.iter = 0, (th.iter+1)%2
			th.sizeIdx = rpStartIndex(th.index, th.iter)
		}
	}
	// Done: free what the others hand over until they are done too. A
	// thread pushes its last list before it counts itself finished, so
	// the look after the last one finished sees every list.
	w.finished.Add(1)
	for {
		last := int(w.finished.Load()) == w.running
		freeForeign(th)
		if last || stop.Load() { // stop: another thread panicked and will never finish
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *rpWorker) Close() {
	for _, th := range w.threads {
		freeForeign(th)
		for i, p := range th.slots {
			if p != nil {
				th.a.Free(p)
				th.slots[i] = nil
			}
		}
	}
}
