package bench

import "unsafe"

// mimalloc-bench's cache-scratch, re-specified.
//
// The source (bench/cache-scratch/cache-scratch.cpp in mimalloc-bench, from
// Hoard's benchmarks: Berger et al., "Hoard: A Scalable Memory Allocator for
// Multithreaded Applications", ASPLOS 2000) is run by mimalloc-bench as
// `cache-scratch T 1000 1 2000000 T`: the main thread allocates T objects
// of 1 byte (adjacent, so in one cache line) and hands one to each of T
// threads; each thread frees its object, then 1,000 times mallocs a 1-byte
// object, writes and reads it repetitions/T times (volatile) and frees it.
//
// What it shows: passive false sharing. An allocator that gives a thread
// back the object it freed, which the main thread allocated next to the
// other threads' objects, has the threads write one cache line from
// several cores: the ideal is a T-fold speed-up over one thread.
//
// Here, an operation is one malloc, its writes and its free; the
// repetitions are scaled from 2,000,000 to ScratchRepetitions, so that a
// 100 ms sample holds many objects. Run(n) starts the T threads anew, each
// time with fresh objects from the calling thread.
const ScratchRepetitions = 2000

// scratchZero is 0, read from memory so that the compiler cannot prove a
// read of p+scratchZero reads what was just written at p (the source's
// volatile read).
var scratchZero = 0

type scratchWorker struct {
	newAlloc func() Allocator
	size     int
	threads  int
	main     Allocator
	allocs   []Allocator
}

func (w *scratchWorker) Run(n int) {
	if w.main == nil {
		w.main = w.newAlloc()
		for range w.threads {
			w.allocs = append(w.allocs, w.newAlloc())
		}
	}
	objs := make([]unsafe.Pointer, w.threads)
	for i := range objs {
		objs[i] = w.main.Malloc(w.size)
	}
	writes := ScratchRepetitions / w.threads
	size := w.size
	var c crew
	for i := range w.threads {
		a, obj, q := w.allocs[i], objs[i], share(n, w.threads, i)
		c.Go(func() {
			a.Free(obj)
			zero := scratchZero
			var acc byte
			for k := 0; k < q; k++ {
				p := a.Malloc(size)
				acc = scratchTouch(p, size, writes, zero, acc)
				a.Free(p)
			}
			sinkWord.Add(uint64(acc))
		})
	}
	c.Wait()
}

// scratchTouch writes each of the size bytes at p and reads it back,
// writes times, adding what it reads to acc (the source's volatile loop),
// and returns acc; zero is 0 (scratchZero). It is the time of
// cache-scratch: the loop runs 2,000 times per malloc. On amd64 it is
// assembly (scratch_amd64.s), its loop aligned to 32 bytes, so that every
// peer binary runs the same instructions at the same alignment: compiled
// into each binary from Go, it ran 1.3-1.4x slower in some binaries than in
// others with the same instructions (a loop whose branch crosses a 32-byte
// line leaves the decoded-instruction cache on the Skylake family, Intel's
// JCC erratum; and a read of w.size from the Go heap in the loop collided
// with the stores to the object through 4 KiB aliasing, depending on the
// allocator's addresses).
func scratchTouch(p unsafe.Pointer, size, writes, zero int, acc byte) byte {
	if scratchAsm {
		return scratchTouchAsm(p, size, writes, zero, acc)
	}
	for j := 0; j < writes; j++ {
		for b := 0; b < size; b++ {
			*(*byte)(unsafe.Add(p, b)) = byte(b)
			acc += *(*byte)(unsafe.Add(p, b+zero))
		}
	}
	return acc
}

func (w *scratchWorker) Close() {}
