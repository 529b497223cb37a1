package bench

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// crew runs the threads of a multi-threaded workload as goroutines. A
// panic in one (an allocator's corruption check, say) sets stop, which
// the workloads' waits look at, and Wait raises the first panic again on
// the calling goroutine, where Measure turns it into an error.
type crew struct {
	wg   sync.WaitGroup
	once sync.Once
	err  any
	stop atomic.Bool
	// onStop, when set, runs after a panic has set stop: it wakes the
	// crew's goroutines that wait on a condition.
	onStop func()
}

// Go runs f on a new goroutine of the crew.
func (c *crew) Go(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			if e := recover(); e != nil {
				c.once.Do(func() { c.err = e })
				c.stop.Store(true)
				if c.onStop != nil {
					c.onStop()
				}
			}
		}()
		f()
	}()
}

// Wait waits for every goroutine of the crew, then raises the first panic.
func (c *crew) Wait() {
	c.wg.Wait()
	if c.err != nil {
		panic(c.err)
	}
}

// share returns thread i's part of n operations split over threads.
func share(n, threads, i int) int {
	q := n / threads
	if i < n%threads {
		q++
	}
	return q
}

// fill writes n bytes of value v at p, eight at a time where it can (as
// memset does in the C loops).
func fill(p unsafe.Pointer, n int, v byte) {
	w := uint64(v) * 0x0101010101010101
	i := 0
	for ; i+8 <= n; i += 8 {
		*(*uint64)(unsafe.Add(p, i)) = w
	}
	for ; i < n; i++ {
		*(*byte)(unsafe.Add(p, i)) = v
	}
}

// sum reads n bytes at p, a word at a time, and returns their sum (as
// alloc-test reads a block before freeing it).
func sum(p unsafe.Pointer, n int) uint64 {
	var s uint64
	i := 0
	for ; i+8 <= n; i += 8 {
		s += *(*uint64)(unsafe.Add(p, i))
	}
	for ; i < n; i++ {
		s += uint64(*(*byte)(unsafe.Add(p, i)))
	}
	return s
}

// TouchPages writes one byte in every 4 KiB page of the n bytes at p after
// the first, and the last byte, as a program filling a buffer faults every
// page in.
func TouchPages(p unsafe.Pointer, n int) {
	for off := 4096; off < n; off += 4096 {
		*(*byte)(unsafe.Add(p, off)) = 1
	}
	*(*byte)(unsafe.Add(p, n-1)) = 1
}

// ptrAt returns the address of word i of a pointer block.
func ptrAt(block unsafe.Pointer, i int) *unsafe.Pointer {
	return (*unsafe.Pointer)(unsafe.Add(block, 8*i))
}

// sinkWord receives values the workloads compute from the blocks they
// read, so that no read can be optimized away.
var sinkWord atomic.Uint64

// WorkloadConstants lists the constants the C loops (bench/cpeer's
// workloads.h) must share with the Go loops, for the cpeer tests:
// larson's slots, sizes, seed and generation; xmalloc-test's batch and
// limit; alloc-test's seed; rptest's table lengths; cache-scratch's
// repetitions.
func WorkloadConstants() []int {
	return []int{LarsonSlots, LarsonMinSize, LarsonMaxSize, LarsonSeed, LarsonGen,
		XmallocBatch, XmallocLimit, allocTestSeed, RPSizes, RPAllocOps, RPFreeOps, ScratchRepetitions, MixSizes}
}
