package bench

import "unsafe"

// mimalloc-bench's larson, re-specified.
//
// The source (bench/larson/larson.cpp in mimalloc-bench, Paul Larson's
// server simulation from "Memory Allocation for Long-Running Server
// Applications", ISMM 1998, as adapted by Hoard's authors) is run by
// mimalloc-bench as `larson 5 8 1000 5000 100 4141 T`: blocks of
// min+lran2()%(max-min) bytes (8-999), 5,000 per thread, seed 4141. The
// main thread warms up: it allocates all T x 5,000 blocks, permutes them
// at random and replaces 4 x T x 5,000 of them. Each thread then replaces a
// random block of its own set (free, then malloc a new random size, then
// write 'a' and 'b' in its first two bytes) 100 x 5,000 times and starts a
// new thread, which inherits the set and goes on, until time is up.
//
// What it shows: a server's threads freeing what other threads
// allocated (the warm-up's blocks, the previous generation's) and
// allocators that keep memory per thread losing it when threads come and
// go. Figures: allocations per second (mimalloc-bench's "relative time"
// is its inverse).
//
// Here, an operation is one replacement. Run(n) runs the T threads of the
// current generations on their shares of n; a thread that ends its
// generation (100 x 5,000 replacements) starts its successor and exits, as
// in larson; generations and block sets carry over from one Run to the
// next. In Go a thread is a goroutine (offheap's caches belong to Ps, not
// goroutines); the C peers start pthreads.
const (
	LarsonSlots   = 5000 // blocks per thread
	LarsonMinSize = 8
	LarsonMaxSize = 1000 // exclusive, as in larson's min+lran2()%(max-min)
	LarsonGen     = 100 * LarsonSlots
	LarsonSeed    = 4141
)

// lran2 is Wolfram Gloger's portable generator (lran2.h), which larson and
// xmalloc-test use: a shuffled linear congruential generator mod 714025.
type lran2 struct {
	x, y int64
	v    [97]int64
}

const (
	lran2Max = 714025
	lran2IA  = 1366
	lran2IC  = 150889
)

func (d *lran2) init(seed int64) {
	x := (lran2IC - seed) % lran2Max
	if x < 0 {
		x = -x
	}
	for j := range d.v {
		x = (lran2IA*x + lran2IC) % lran2Max
		d.v[j] = x
	}
	d.x = (lran2IA*x + lran2IC) % lran2Max
	d.y = d.x
}

func (d *lran2) next() int64 {
	j := d.y % 97
	d.y = d.v[j]
	d.x = (lran2IA*d.x + lran2IC) % lran2Max
	d.v[j] = d.x
	return d.y
}

type larsonWorker struct {
	allocs  []Allocator        // one per thread (every generation of it)
	slots   [][]unsafe.Pointer // each thread's blocks
	rng     []lran2
	genLeft []int
}

func larsonSize(r *lran2) int {
	return LarsonMinSize + int(r.next()%(LarsonMaxSize-LarsonMinSize))
}

// newLarson warms up as larson's main thread does, on the calling
// goroutine.
func newLarson(newAlloc func() Allocator, threads int) *larsonWorker {
	w := &larsonWorker{
		allocs:  make([]Allocator, threads),
		slots:   make([][]unsafe.Pointer, threads),
		rng:     make([]lran2, threads),
		genLeft: make([]int, threads),
	}
	main := newAlloc()
	var rg lran2
	rg.init(LarsonSeed)
	total := threads * LarsonSlots
	blk := make([]unsafe.Pointer, total)
	for i := range blk {
		blk[i] = main.Malloc(larsonSize(&rg))
	}
	for c := total; c > 0; c-- {
		v := int(rg.next() % int64(c))
		blk[v], blk[c-1] = blk[c-1], blk[v]
	}
	for c := 0; c < 4*total; c++ {
		v := int(rg.next() % int64(total))
		main.Free(blk[v])
		blk[v] = main.Malloc(larsonSize(&rg))
	}
	for i := range threads {
		w.allocs[i] = newAlloc()
		w.slots[i] = blk[i*LarsonSlots : (i+1)*LarsonSlots]
		w.rng[i].init(rg.next())
		w.genLeft[i] = LarsonGen
	}
	return w
}

func (w *larsonWorker) Run(n int) {
	var c crew
	for i := range w.slots {
		if q := share(n, len(w.slots), i); q > 0 {
			c.Go(func() { w.generation(&c, i, q) })
		}
	}
	c.Wait()
}

// generation is one thread's life: at most genLeft replacements, then,
// with work left, a successor on a new goroutine.
func (w *larsonWorker) generation(c *crew, i, left int) {
	a, slots, r := w.allocs[i], w.slots[i], &w.rng[i]
	g := min(left, w.genLeft[i])
	var acc byte
	for k := 0; k < g; k++ {
		v := r.next() % LarsonSlots
		a.Free(slots[v])
		p := a.Malloc(larsonSize(r))
		*(*byte)(p) = 'a'
		acc += *(*byte)(p)
		*(*byte)(unsafe.Add(p, 1)) = 'b'
		slots[v] = p
	}
	sinkWord.Add(uint64(acc))
	w.genLeft[i] -= g
	if w.genLeft[i] == 0 {
		w.genLeft[i] = LarsonGen
	}
	if left -= g; left > 0 && !c.stop.Load() {
		c.Go(func() { w.generation(c, i, left) })
	}
}

func (w *larsonWorker) Close() {
	for i, s := range w.slots {
		for j, p := range s {
			w.allocs[i].Free(p)
			s[j] = nil
		}
	}
}
