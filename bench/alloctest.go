package bench

import (
	"math"
	"math/bits"
	"unsafe"
)

// mimalloc-bench's alloc-test, re-specified.
//
// The source (bench/alloc-test in mimalloc-bench, OLogN Technologies'
// allocator tester, 2018; run as alloc-test1 and alloc-testN) gives each of
// T threads maxItems = 2^18 / T slots and runs randomPos_RandomSize with
// MEM_ACCESS_TYPE::full and seed 41 (the same in every thread): first every
// slot whose bit in a random word is set gets a block (about half), then
// each iteration draws a slot with the Pareto_80_20_6 law (80% of the draws
// on 20% of the slots, in six tiers) and frees its block, after reading all
// of it, or, if it is empty, allocates a block and fills it with its size.
// Sizes come from calcSizeWithStatsAdjustment with maxItemSizeExp 10: a
// size class 2^k for k = 2..9 with probability halving at each step (k = 2
// half the time), then a size uniform on (2^k, 2^(k+1)]: 5 bytes to 1 KiB,
// most under 16.
//
// What it shows: a hot subset of slots churning among cold ones, blocks
// read and written in full, so allocators that scatter small blocks pay in
// cache misses.
//
// Here, an operation is two iterations (in steady state one malloc and one
// free); the PRNG, the Pareto law and the size law are the source's,
// integer for integer. The slot array is harness memory (the source
// allocates it through the allocator, once).
const (
	// AllocTestItems is maxItems: the slots, split over the threads.
	AllocTestItems = 1 << 18
	allocTestSeed  = 41
)

// atPRNG is alloc-test's PRNG (Arvid Gerstmann's xorshift variant).
type atPRNG struct{ s uint64 }

func (r *atPRNG) rng32() uint32 {
	ret := r.s * 0xd989bcacc137dcd5
	r.s ^= r.s >> 11
	r.s ^= r.s << 31
	r.s ^= r.s >> 18
	return uint32(ret >> 32)
}

func (r *atPRNG) rng64() uint64 {
	hi := uint64(r.rng32())
	return hi<<32 + uint64(r.rng32())
}

// allocTestSize is calcSizeWithStatsAdjustment(r, 10).
func allocTestSize(r uint64) int {
	const exp = 10 - 3
	base := uint32(r&(1<<exp-1)) + 1
	r >>= exp
	idx := uint(bits.TrailingZeros32(base)) + 2
	return int(r&(1<<idx-1)) + 1 + 1<<idx
}

// paretoWeights are Pareto_80_20_6's tier probabilities.
var paretoWeights = [7]float64{0.262144, 0.393216, 0.245760, 0.081920, 0.015360, 0.001536, 0.000064}

// pareto is Pareto_80_20_6_Data.
type pareto struct {
	ranges  [6]uint32
	offsets [8]uint32
}

func newPareto(items uint32) pareto {
	var d pareto
	d.ranges[0] = uint32(math.MaxUint32 * paretoWeights[0])
	d.ranges[5] = uint32(math.MaxUint32 * (1 - paretoWeights[6]))
	for i := 1; i < 5; i++ {
		d.ranges[i] = d.ranges[i-1] + uint32(math.MaxUint32*paretoWeights[i])
	}
	d.offsets[7] = items
	for i := 0; i < 6; i++ {
		d.offsets[i+1] = d.offsets[i] + uint32(float64(items)*paretoWeights[6-i])
	}
	return d
}

func (d *pareto) pick(r1, r2 uint32) uint32 {
	idx := 6
	for i, lim := range d.ranges {
		if r1 < lim {
			idx = i
			break
		}
	}
	return d.offsets[idx] + r2%(d.offsets[idx+1]-d.offsets[idx])
}

type atSlot struct {
	p  unsafe.Pointer
	sz int
}

type allocTestWorker struct {
	a     Allocator
	slots []atSlot
	rng   atPRNG
	law   pareto
	acc   uint64
}

// newAllocTest fills about half of items slots, as the setup phase does.
func newAllocTest(a Allocator, items int) *allocTestWorker {
	w := &allocTestWorker{a: a, slots: make([]atSlot, items), rng: atPRNG{allocTestSeed}, law: newPareto(uint32(items))}
	for i := 0; i < items/32; i++ {
		bitsWord := w.rng.rng32()
		for j := 0; j < 32; j++ {
			if bitsWord>>j&1 != 0 {
				w.alloc(i*32 + j)
			}
		}
	}
	return w
}

func (w *allocTestWorker) alloc(i int) {
	sz := allocTestSize(w.rng.rng64())
	p := w.a.Malloc(sz)
	fill(p, sz, byte(sz))
	w.slots[i] = atSlot{p, sz}
}

func (w *allocTestWorker) free(i int) {
	s := &w.slots[i]
	w.acc += sum(s.p, s.sz)
	w.a.Free(s.p)
	*s = atSlot{}
}

func (w *allocTestWorker) Run(n int) {
	for k := 0; k < 2*n; k++ {
		r1 := w.rng.rng32()
		r2 := w.rng.rng32()
		i := int(w.law.pick(r1, r2))
		if w.slots[i].p != nil {
			w.free(i)
		} else {
			w.alloc(i)
		}
	}
	sinkWord.Store(w.acc)
}

func (w *allocTestWorker) Close() {
	for i := range w.slots {
		if w.slots[i].p != nil {
			w.free(i)
		}
	}
}
