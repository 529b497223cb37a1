package bench

import "unsafe"

// glibc's bench-malloc-simple, re-specified.
//
// The source (benchtests/bench-malloc-simple.c, glibc 2.36) times
// do_benchmark: for a block size and n in {25, 100, 400, 1600}, rounds of
// n mallocs of that size followed by the n frees in allocation order,
// 200,000 / n rounds, and reports the time per malloc+free pair; the
// Makefile runs it for sizes 8, 16, ..., 4096. Nothing is written to the
// blocks. It runs the loop single-threaded in the main arena, in a second
// thread, and in the main arena once a thread exists; the single-threaded
// figure is the one reproduced here (main_arena_st_allocs_<n>_time).
//
// What it shows: the cost of the front cache (tcache holds 7 chunks a
// size in glibc, offheap's 32 by default) and of the paths behind it once n
// overflows the cache (fastbins up to 128 bytes, then the arena's bins);
// FIFO frees of a batch are the worst order for a LIFO cache.
//
// An operation is one malloc and its free: Run(n) makes n/N whole rounds
// and one shorter round for the rest.

type simpleWorker struct {
	a     Allocator
	size  int
	slots []unsafe.Pointer // harness memory: glibc mallocs its array once, before timing
}

func (w *simpleWorker) Run(n int) {
	a, size, slots := w.a, w.size, w.slots
	for n > 0 {
		k := min(n, len(slots))
		for i := 0; i < k; i++ {
			slots[i] = a.Malloc(size)
		}
		for i := 0; i < k; i++ {
			a.Free(slots[i])
		}
		n -= k
	}
	clear(slots)
}

func (w *simpleWorker) Close() {}
