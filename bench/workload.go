package bench

import (
	"math"
	"math/rand/v2"
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
)

// Workload is one benchmark shape. An operation is always one malloc and
// one free, so ns/op is ns per pair in every workload, and the first byte of
// every block is written (no allocator can hand out memory it never maps).
type Workload struct {
	Name string // "pair/64", "random-live", "thread-shape-par", ...
	Kind Kind
	Size int  // block size of Pair and ProdCons
	Mix  *Mix // the tables of Mixed
	// Parallel runs one independent worker per P (GOMAXPROCS goroutines,
	// each with its own live set), sharing the operations; ns/op is then
	// wall time per operation of all of them together.
	Parallel bool
	Doc      string // what it reproduces
}

// Threads returns how many goroutines the workload runs at once with
// GOMAXPROCS procs.
func (w *Workload) Threads(procs int) int {
	switch {
	case w.Parallel:
		return procs
	case w.Kind == ProdCons:
		return 2
	}
	return 1
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

// Workloads returns issue 3's workloads in table order: same-size pairs,
// the mixed live sets, their parallel versions, and the producer/consumer
// pair. Each call returns fresh Workload values over shared tables.
func Workloads() []*Workload {
	var ws []*Workload
	pairs := func(par bool) {
		for _, n := range PairSizes {
			name, doc := "pair/"+strconv.Itoa(n), "malloc, write a byte, free: one size"
			if par {
				name, doc = "pair-par/"+strconv.Itoa(n), "pair on every P at once"
			}
			ws = append(ws, &Workload{Name: name, Kind: Pair, Size: n, Parallel: par, Doc: doc})
		}
	}
	mixes := func(par bool) {
		suffix, doc := "", ""
		if par {
			suffix, doc = "-par", " (one live set per P, all Ps at once)"
		}
		ws = append(ws,
			&Workload{Name: "random-live" + suffix, Kind: Mixed, Mix: RandomLiveMix(), Parallel: par,
				Doc: "1,000 live blocks of 16-1024 bytes, random replacement" + doc},
			&Workload{Name: "thread-shape" + suffix, Kind: Mixed, Mix: ThreadShapeMix(), Parallel: par,
				Doc: "glibc bench-malloc-thread: 1,024 slots, inverse-square sizes 4-32768" + doc})
	}
	pairs(false)
	mixes(false)
	pairs(true)
	mixes(true)
	ws = append(ws, &Workload{Name: "prodcons/" + strconv.Itoa(ProdConsSize), Kind: ProdCons, Size: ProdConsSize,
		Doc: "one goroutine allocates, another frees, through a lock-free ring"})
	return ws
}
