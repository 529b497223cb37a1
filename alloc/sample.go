package alloc

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// Heap-profile sampling, as runtime/malloc.go does it: each P counts down
// the bytes it allocates; when the count goes below zero the allocation is
// sampled and a new gap is drawn from an exponential distribution with mean
// profileRate. The countdown lives in the P's cache, so the fast path pays
// one subtraction and one comparison; with profiling off the countdown is
// so large it never runs out. A sampled block carries the S bit in its
// header, so Free finds out without a lookup that it must update the
// profile.

var (
	profileRate atomic.Int64 // mean bytes between samples; 0 = off

	samples sampleStore
)

// maxStack is the deepest stack a sample records.
const maxStack = 64

// sample is one sampled block.
type sample struct {
	size   int
	when   time.Time
	nstk   int
	stk    [maxStack]uintptr
	labels unsafe.Pointer // the goroutine's pprof labels, when available
}

// sampleStore holds the live samples and the totals of freed ones.
type sampleStore struct {
	mu    sync.Mutex
	live  map[uintptr]*sample // by user pointer
	freed []*sample           // freed samples, folded into the profile's alloc figures
	count atomic.Int64        // live samples
}

// nextSampleGap draws the bytes until the next sample.
func nextSampleGap() int64 {
	rate := profileRate.Load()
	if rate <= 0 {
		return math.MaxInt64
	}
	// Exponential with mean rate: -ln(U) * rate, U in (0, 1].
	u := 1 - rand.Float64()
	g := -math.Log(u) * float64(rate)
	if g > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(g)
}

// SetProfileRate sets the mean number of bytes allocated between two heap
// profile samples, like runtime.MemProfileRate; 0 turns sampling off. It
// applies to allocations from then on (each P's countdown is redrawn).
func SetProfileRate(rate int) {
	if rate < 0 {
		rate = 0
	}
	theHeap() // the environment's profile_rate first, so that this call wins
	profileRate.Store(int64(rate))
	flushAll() // fresh caches draw fresh gaps
}

// ProfileRate returns the sampling rate in force.
func ProfileRate() int { return int(profileRate.Load()) }

// sampleAlloc charges size bytes to this P's countdown and records p when
// the countdown runs out. It is the slow paths' counterpart of the check in
// Malloc.
func sampleAlloc(p uintptr, size int) {
	if p == 0 || profileRate.Load() == 0 {
		return
	}
	pid := procPin()
	c := lockedCache(pid)
	due := false
	if c != nil {
		c.sampleLeft -= int64(size)
		if c.sampleLeft < 0 {
			c.sampleLeft = nextSampleGap()
			due = true
		}
		if raceEnabled {
			c.mu.Unlock()
		}
	}
	procUnpin()
	if due {
		recordSample(p, size, 3)
	}
}

// recordSample records user pointer p of size bytes, with the caller's
// stack (skip frames above it).
func recordSample(p uintptr, size int, skip int) {
	s := &sample{size: size, when: time.Now()}
	s.nstk = runtime.Callers(skip, s.stk[:])
	s.labels = goroutineLabels()
	arena.SetSampled(p-16, true)
	samples.mu.Lock()
	if samples.live == nil {
		samples.live = make(map[uintptr]*sample)
	}
	samples.live[p] = s
	samples.mu.Unlock()
	samples.count.Add(1)
}

// foldAt bounds the list of freed samples waiting to be folded into their
// sites' buckets, so a program that never writes a profile does not grow it.
const foldAt = 1024

// forgetSample moves the sample of p (if any) from in use to freed.
func forgetSample(p uintptr) {
	samples.mu.Lock()
	s, ok := samples.live[p]
	fold := false
	if ok {
		delete(samples.live, p)
		samples.freed = append(samples.freed, s)
		fold = len(samples.freed) >= foldAt
	}
	samples.mu.Unlock()
	if fold {
		foldFreed()
	}
	if ok {
		samples.count.Add(-1)
	}
}
