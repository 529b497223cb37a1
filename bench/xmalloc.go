package bench

import (
	"sync"
	"unsafe"
)

// mimalloc-bench's xmalloc-test, re-specified.
//
// The source (bench/xmalloc-test/xmalloc-test.c in mimalloc-bench: Lever
// and Boreham's test from "malloc() Performance in a Multithreaded Linux
// Environment", USENIX 2000, as kept in Christian Eder's xmalloc) is run
// by mimalloc-bench as `xmalloc-test -w T -t 5 -s 64`: T producer threads
// each malloc a batch (struct batch: a next pointer and 4,096 object
// pointers, itself malloc'd), fill it with 4,096 objects of 64 bytes, each
// memset, and push it on a LIFO of at most 100 batches (a mutex and two
// condition variables); T consumer threads pop batches and free the
// objects and the batch. It reports frees per second.
//
// What it shows: every free is a free from another thread, the case that
// per-thread caches handle worst; glibc's free returns the chunk to the
// arena of the thread that allocated it, under that arena's lock.
//
// Here, an operation is one object; Run(n) has the producers make their
// shares of n (the last batch of each may be short) and returns when the
// consumers have freed them all.
const (
	XmallocBatch = 4096 // objects per batch
	XmallocLimit = 100  // batches queued at most
)

// xmallocBatchBytes is struct batch's size: the next pointer and the
// objects.
const xmallocBatchBytes = 8 * (1 + XmallocBatch)

type xmallocWorker struct {
	newAlloc func() Allocator
	size     int
	threads  int
	allocs   []Allocator // producers, then consumers
}

// batchStack is xmalloc-test's queue: a LIFO of batches linked through
// their first word.
type batchStack struct {
	mu          sync.Mutex
	empty, full sync.Cond
	top         unsafe.Pointer
	count       int // batches queued
	left        int // batches not yet popped
	stop        *crew
}

func (q *batchStack) push(b unsafe.Pointer) {
	q.mu.Lock()
	for q.count >= XmallocLimit && !q.stop.stop.Load() {
		q.full.Wait()
	}
	*ptrAt(b, 0) = q.top
	q.top = b
	q.count++
	q.empty.Signal()
	q.mu.Unlock()
}

// pop returns the newest batch, or nil when none is left to come.
func (q *batchStack) pop() unsafe.Pointer {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.top == nil && q.left > 0 && !q.stop.stop.Load() {
		q.empty.Wait()
	}
	b := q.top
	if b == nil {
		return nil
	}
	q.top = *ptrAt(b, 0)
	q.count--
	q.left--
	if q.left == 0 {
		q.empty.Broadcast() // the other consumers are done too
	}
	q.full.Signal()
	return b
}

// wake unblocks every waiter once a thread has failed.
func (q *batchStack) wake() {
	q.mu.Lock()
	q.empty.Broadcast()
	q.full.Broadcast()
	q.mu.Unlock()
}

func (w *xmallocWorker) Run(n int) {
	if w.allocs == nil {
		for range 2 * w.threads {
			w.allocs = append(w.allocs, w.newAlloc())
		}
	}
	var c crew
	q := &batchStack{stop: &c}
	c.onStop = q.wake
	q.empty.L, q.full.L = &q.mu, &q.mu
	for i := range w.threads {
		q.left += (share(n, w.threads, i) + XmallocBatch - 1) / XmallocBatch
	}
	for i := range w.threads {
		a, objects := w.allocs[i], share(n, w.threads, i)
		c.Go(func() {
			for objects > 0 && !c.stop.Load() {
				b := a.Realloc(nil, xmallocBatchBytes)
				k := min(objects, XmallocBatch)
				for j := 0; j < XmallocBatch; j++ {
					var p unsafe.Pointer
					if j < k {
						p = a.Malloc(w.size)
						fill(p, min(w.size, 128), byte(j))
					}
					*ptrAt(b, 1+j) = p
				}
				objects -= k
				q.push(b)
			}
		})
		consumer := w.allocs[w.threads+i]
		c.Go(func() {
			for {
				b := q.pop()
				if b == nil {
					return
				}
				for j := 1; j <= XmallocBatch; j++ {
					if p := *ptrAt(b, j); p != nil {
						consumer.Free(p)
					}
				}
				consumer.Free(b)
			}
		})
	}
	c.Wait()
}

func (w *xmallocWorker) Close() {}
