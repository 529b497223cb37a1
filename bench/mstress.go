package bench

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// mimalloc-bench's mstress, re-specified.
//
// The source (bench/mstress/mstress.c in mimalloc-bench, Daan Leijen's
// stress test, which mimalloc-bench runs as `mstress T 50 25`) gives thread
// tid a life of allocs = 80 N (tid%8 + 1) allocations with N = 50/T, and
// retain = allocs/2 more. At each step it allocates (51% while both kinds
// are left) a short-lived block of 1-128 words into a data array that it
// grows by realloc in steps of 100,000 entries, or else a retained block of
// 10-1280 words; 2% of the blocks are 100 times larger. It then frees a
// random short-lived block (67%), and swaps a random one with a slot of a
// 1,000-entry buffer shared by all threads (26%, an atomic exchange), so
// blocks end their lives in other threads. Every word of a block is
// written on allocation and checked before the free; at the end of its
// life a thread frees what it holds. pick() is splitmix64's finalizer;
// chance(p) is pick() % 100 <= p, as in the source.
//
// What it shows: a heap under churn with a large retained set, rare very
// large blocks, realloc of a large array, and frees from other threads;
// every word checked, so a corrupt allocator is caught.
//
// Here, an operation is one allocation (each is freed once). Run(n) runs
// each thread for its share of n steps; a thread whose life ends frees its
// blocks and starts a new life, as the source's repeated runs do. The
// arrays that hold block addresses (data, retained) are allocated through
// the allocator, as in the source (Realloc).
const (
	mstressScale     = 50
	mstressTransfers = 1000
	mstressMaxItem   = 128 // words
	mstressCookie    = 0xbf58476d1ce4e5b9
)

type msThread struct {
	a                 Allocator
	tid               int
	r                 uint64
	allocs, retain    int
	data, retained    unsafe.Pointer
	dataSize, dataTop int
	retainTop         int
	lifeAllocs        int
	started           bool
}

type mstressWorker struct {
	threads  []*msThread
	transfer [mstressTransfers]atomic.Pointer[byte]
}

func newMStress(newAlloc func() Allocator, threads int) *mstressWorker {
	w := &mstressWorker{}
	n := max(mstressScale/threads, 1)
	for tid := range threads {
		w.threads = append(w.threads, &msThread{a: newAlloc(), tid: tid, r: uint64(tid) ^ 42, lifeAllocs: 80 * n * (tid%8 + 1)})
	}
	return w
}

// pick is the source's splitmix64 step.
func (t *msThread) pick() uint64 {
	x := t.r
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	t.r = x
	return x
}

func (t *msThread) chance(perc uint64) bool { return t.pick()%100 <= perc }

func (t *msThread) allocItems(items int) unsafe.Pointer {
	if t.chance(1) {
		items *= 100
	}
	if items == 40 {
		items++
	}
	p := t.a.Malloc(items * 8)
	for i := 0; i < items; i++ {
		*(*uint64)(unsafe.Add(p, 8*i)) = uint64(items-i) ^ mstressCookie
	}
	return p
}

func (t *msThread) freeItems(p unsafe.Pointer) {
	if p == nil {
		return
	}
	items := int(*(*uint64)(p) ^ mstressCookie)
	for i := 0; i < items; i++ {
		if v := *(*uint64)(unsafe.Add(p, 8*i)); v^mstressCookie != uint64(items-i) {
			panic(fmt.Sprintf("mstress: memory corruption in block %p at word %d of %d", p, i, items))
		}
	}
	t.a.Free(p)
}

func (t *msThread) startLife() {
	t.allocs, t.retain = t.lifeAllocs, t.lifeAllocs/2
	t.data, t.dataSize, t.dataTop = nil, 0, 0
	t.retained, t.retainTop = t.a.Realloc(nil, t.retain*8), 0
	t.started = true
}

func (t *msThread) endLife() {
	for i := 0; i < t.retainTop; i++ {
		t.freeItems(*ptrAt(t.retained, i))
	}
	for i := 0; i < t.dataTop; i++ {
		t.freeItems(*ptrAt(t.data, i))
	}
	t.a.Free(t.retained)
	t.a.Free(t.data)
	t.retained, t.data, t.started = nil, nil, false
}

func (w *mstressWorker) step(t *msThread) {
	if !t.started {
		t.startLife()
	}
	if t.retain == 0 || (t.chance(50) && t.allocs > 0) {
		t.allocs--
		if t.dataTop >= t.dataSize {
			t.dataSize += 100000
			t.data = t.a.Realloc(t.data, t.dataSize*8)
		}
		*ptrAt(t.data, t.dataTop) = t.allocItems(int(t.pick()%mstressMaxItem) + 1)
		t.dataTop++
	} else {
		*ptrAt(t.retained, t.retainTop) = t.allocItems(10 * (int(t.pick()%(10*mstressMaxItem)) + 1))
		t.retainTop++
		t.retain--
	}
	if t.chance(66) && t.dataTop > 0 {
		idx := int(t.pick() % uint64(t.dataTop))
		t.freeItems(*ptrAt(t.data, idx))
		*ptrAt(t.data, idx) = nil
	}
	if t.chance(25) && t.dataTop > 0 {
		idx := int(t.pick() % uint64(t.dataTop))
		slot := &w.transfer[t.pick()%mstressTransfers]
		*ptrAt(t.data, idx) = unsafe.Pointer(slot.Swap((*byte)(*ptrAt(t.data, idx))))
	}
	if t.allocs == 0 && t.retain == 0 {
		t.endLife()
	}
}

func (w *mstressWorker) Run(n int) {
	var c crew
	for i, t := range w.threads {
		if q := share(n, len(w.threads), i); q > 0 {
			c.Go(func() {
				for k := 0; k < q; k++ {
					w.step(t)
				}
			})
		}
	}
	c.Wait()
}

func (w *mstressWorker) Close() {
	for _, t := range w.threads {
		if t.started {
			t.endLife()
		}
	}
	t := w.threads[0]
	for i := range w.transfer {
		t.freeItems(unsafe.Pointer(w.transfer[i].Swap(nil)))
	}
}
