package bench

import (
	"fmt"
	"strconv"
	"unsafe"
)

// The churn workload: issue 11's target 5, "a churn of 5 M values of
// 64-256 bytes replaced at random: time per replacement at most Go's
// heap's, GC included, and at most glibc-cgo's".
//
// Entries values of MinSize-MaxSize bytes (uniform) are split over the
// threads, each thread owning its share in a slot array; an operation
// picks one of the thread's slots at random, frees its value, and
// allocates and writes (every byte) a new one of a new random size. It is
// the GC-pressure cache (gccache.go) without the reads and the responses:
// nothing but the allocator's work on a live set far larger than the
// caches, where every free touches a block not seen for a long time.
//
// Go's heap runs it through GoHeap: the slots hold the values' addresses
// as unsafe.Pointer, so the collector scans them and keeps the values
// alive, as a [][]byte would; the old value is garbage once its slot is
// overwritten. Each replacement allocates 64-256 bytes on a heap of about
// a gigabyte, so with GOGC=100 the collector starts a cycle only about
// once per turnover (Entries replacements, about 1.05 turnovers here).
// The timed run is therefore at least Turnovers x Entries replacements
// (Workload.MinOps), whatever the sample time, so that Go's heap collects
// in it. Measure collects garbage before the timed run; half a turnover
// more, untimed (Workload.WarmOps), puts the run's start half-way through
// a GC cycle, so that the run holds as many cycles as the steady state
// gives, rounded to the nearest (one per turnover), not rounded down (a
// run of two turnovers that started right after the collection held one
// cycle, measured). The other peers allocate nothing on Go's heap in the
// loop, and the collector has nothing to do for them; the slot array of
// unsafe.Pointer costs them nothing then.
//
// Each thread loads its share at once (Workload.ConcurrentSetup), and
// frees it at the end the same way: loading and freeing 5 million values
// take seconds, which the default run pays once per peer.
//
// The native peers run the same loop in C (bench/cpeer, cpeer_churn_run),
// with the same generator, so every peer replaces the same slots with the
// same sizes.

// ChurnSpec is a churn workload's live set.
type ChurnSpec struct {
	Entries          int // values live, over all threads
	MinSize, MaxSize int // value sizes, uniform
	// Turnovers is how many times Entries replacements a timed run makes
	// at least.
	Turnovers int
}

// ChurnConfig is the churn that WorkloadsFor builds: issue 11's 5 million
// values of 64-256 bytes, timed over one turnover (5 million
// replacements, which hold one of Go's GC cycles). Tests make it smaller.
var ChurnConfig = ChurnSpec{Entries: 5_000_000, MinSize: 64, MaxSize: 256, Turnovers: 1}

// ChurnPeers are the peers that run the churn: target 5's (offheap, Go's
// heap, glibc through cgo), glibc's native floor and modernc.org/memory.
// The other C allocators are left out to keep the default run short (each
// measurement loads 5 million values first).
var ChurnPeers = []string{"offheap", "go-heap", ModerncPeer, "glibc-cgo", "glibc-native"}

// Name is the workload's name: churn/<millions>M/<min>-<max>.
func (c *ChurnSpec) Name() string {
	return fmt.Sprintf("churn/%s/%d-%d", millions(c.Entries), c.MinSize, c.MaxSize)
}

// millions writes a count of values as names do: 5M, or 20000 when not a
// whole number of millions.
func millions(n int) string {
	if n%1_000_000 != 0 {
		return strconv.Itoa(n)
	}
	return strconv.Itoa(n/1_000_000) + "M"
}

// Share returns how many of the values worker number worker of workers
// owns.
func (c *ChurnSpec) Share(worker, workers int) int {
	return c.Entries*(worker+1)/workers - c.Entries*worker/workers
}

// ChurnSeed is the generator state worker number worker starts from.
func ChurnSeed(worker int) uint64 { return 0x9e3779b97f4a7c15 ^ uint64(worker+1) }

// ChurnDraw turns a generator output into a slot below n (the high 32
// bits, scaled: n must be below 2^32) and a size in [min, min+span).
func ChurnDraw(x uint64, n int, min, span uint32) (slot int, size int) {
	return int((x >> 32) * uint64(n) >> 32), int(min + uint32(x)%span)
}

// ChurnNext advances the churn's generator (xorshift64: 13, 7, 17).
func ChurnNext(x uint64) uint64 {
	r := xorshift(x)
	return r.next()
}

type churnWorker struct {
	a         Allocator
	slots     []unsafe.Pointer
	min, span uint32
	rng       xorshift
}

// newChurn makes worker number worker of workers and loads its share of
// the values.
func newChurn(a Allocator, c *ChurnSpec, worker, workers int) *churnWorker {
	w := &churnWorker{a: a, slots: make([]unsafe.Pointer, c.Share(worker, workers)),
		min: uint32(c.MinSize), span: uint32(c.MaxSize - c.MinSize + 1), rng: xorshift(ChurnSeed(worker))}
	for j := range w.slots {
		_, size := ChurnDraw(w.rng.next(), len(w.slots), w.min, w.span)
		p := a.Malloc(size)
		fill(p, size, byte(j))
		w.slots[j] = p
	}
	return w
}

func (w *churnWorker) Run(n int) {
	a, slots, min, span := w.a, w.slots, w.min, w.span
	r := w.rng
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		j, size := ChurnDraw(r.next(), len(slots), min, span)
		a.Free(slots[j])
		p = a.Malloc(size)
		fill(p, size, byte(i))
		slots[j] = p
	}
	w.rng = r
	Sink.Store((*byte)(p))
}

func (w *churnWorker) Close() {
	for j, p := range w.slots {
		w.a.Free(p)
		w.slots[j] = nil
	}
}
