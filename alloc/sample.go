package alloc

import (
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// Heap-profile sampling, as runtime/malloc.go does it: each P counts down
// the bytes it allocates; when the count goes below zero the allocation is
// sampled and a new gap is drawn from an exponential distribution with mean
// profileRate (512 KiB by default, Go's runtime.MemProfileRate). The
// countdown lives in the P's cache, so the fast path pays one subtraction
// and one comparison; with profiling off the countdown is so large it never
// runs out.
//
// A sample (recordSample) is, in order:
//
//  1. its stack, taken from the frame pointers (stack.go), or recognized
//     as the stack this P sampled last;
//  2. its bucket of stack, size and labels (samplebucket.go): the one
//     this P used last for the same stack, or found in a lock-free hash
//     table, where a new site adds one; the P counts one allocation there
//     (psample, below);
//  3. an entry block -> bucket in the table of sampled blocks
//     (sampletable.go), and the S bit in the block's header.
//
// No global lock is taken, and nothing is symbolized: a profile, when it
// is written (profile.go), collects the Ps' counts, reads the buckets'
// and symbolizes their stacks then. Free sees the S bit and calls
// forgetSample, which removes the entry and counts the free in the same
// bucket.
//
// What it costs (issue 13; README.md has the figures and commands): at
// the default rate a sample comes every 8,192 64-byte pairs but every 8
// 64 KiB pairs, so a sample and the free of its block together would have
// to stay under 4 ns for the 64 KiB pair (8 ns unsampled here) to pay 5%.
// The S bit is set and cleared by an ordinary write of its byte of the
// header, which the arena's locked updates of the P bit in the same word
// cannot undo (arena.SetSampled); the table's compare-and-swap, the memo
// check (two loads and a compare per frame of the stack) and the calls
// remain: about 540 instructions a sampled pair more than a pair in
// bench's pair/65536 (callgrind: 133.1 -> 200.2 a pair, one pair in eight
// sampled), of which the memo check of its frames is about 230,
// recordSample's own 110, the table's insert 80, the next gap 55 (integer
// arithmetic; the floating-point draw took 65), the sampled free and the
// calls the rest. (The memo check in assembly took 35 off but no time:
// the ABI0 call's argument and result go through the stack.) On amd64
// neither half of a sampled pair goes through the slow paths (mallocMiss,
// freeMiss): Malloc's fast path pops the block and hands it to
// sampledMallocWord, and Free's does forgetSample's common case itself
// (fast_free_amd64.s), the rest going to freeSampled.

var profileRate atomic.Int64 // mean bytes between samples; 0 = off

// gapScale is profileRate times ln 2 in 16-bit fixed point, the factor
// that turns -log2 of a uniform draw into a gap (nextSampleGap); 0 when
// sampling is off, gapScaleFloat for rates too large for the product
// (above 2^46 bytes), which take the gap in floating point.
var gapScale atomic.Uint64

const gapScaleFloat = math.MaxUint64

// storeProfileRate sets the sampling rate and the gaps' scale with it.
func storeProfileRate(rate int64) {
	rate = max(rate, 0)
	profileRate.Store(rate)
	switch {
	case rate == 0:
		gapScale.Store(0)
	case rate > 1<<46:
		gapScale.Store(gapScaleFloat)
	default:
		gapScale.Store(uint64(math.Round(float64(rate) * math.Ln2 * (1 << log2FixedBits))))
	}
}

// Sampled gaps, as runtime.fastexprand draws them: 26 random bits and a
// table-driven log2, in integer arithmetic, for a few nanoseconds where
// math/rand and math.Log cost tens (at the default rate a P draws a gap
// every eight 64 KiB blocks).
const (
	gapRandomBits = 26
	log2TableBits = 8
	log2FixedBits = 16 // fraction bits of log2Fixed and gapScale
)

// log2Fixed[i] is log2 of the middle of the i-th of 256 equal steps of
// [1, 2), log2(1 + (i+0.5)/256), in 16-bit fixed point.
var log2Fixed = func() (t [1 << log2TableBits]uint32) {
	for i := range t {
		t[i] = uint32(math.Round(math.Log2(1+(float64(i)+0.5)/(1<<log2TableBits)) * (1 << log2FixedBits)))
	}
	return
}()

// fastlog2 approximates log2(q) for q >= 1 within 0.003, in 16-bit fixed
// point: the position of q's top bit plus log2 of the next 8 bits' step of
// the mantissa.
func fastlog2(q uint32) uint64 {
	top := bits.Len32(q) - 1
	idx := (q << (31 - top) >> (31 - log2TableBits)) & (1<<log2TableBits - 1)
	return uint64(top)<<log2FixedBits + uint64(log2Fixed[idx])
}

//go:linkname cheaprand runtime.cheaprand
func cheaprand() uint32

// nextSampleGap draws the bytes until the next sample.
func nextSampleGap() int64 {
	k := gapScale.Load()
	if k == 0 {
		return math.MaxInt64
	}
	// Exponential with mean rate: -ln(U) * rate = -log2(U) * ln 2 * rate,
	// with U = q / 2^26 uniform in (0, 1].
	q := cheaprand()>>(32-gapRandomBits) + 1
	m := uint64(gapRandomBits<<log2FixedBits) - fastlog2(q)
	if int64(m) < 0 {
		m = 0 // q = 2^26: log2 rounds up a little
	}
	if k == gapScaleFloat {
		g := float64(m) / (1 << log2FixedBits) * (math.Ln2 * float64(profileRate.Load()))
		if g > math.MaxInt64/2 {
			return math.MaxInt64 / 2
		}
		return int64(g)
	}
	// m < 2^21 and k < 2^63: the gap is the product's bits 32 to 95.
	hi, lo := bits.Mul64(m, k)
	return int64(hi<<(64-2*log2FixedBits) | lo>>(2*log2FixedBits))
}

// SetProfileRate sets the mean number of bytes allocated between two heap
// profile samples, like runtime.MemProfileRate; 0 turns sampling off. It
// applies to allocations from then on (each P's countdown is redrawn).
// The default is 512 KiB, Go's own default, unless OFFHEAP=profile_rate
// says otherwise. As with runtime.MemProfileRate, a profile scales every
// sample by the rate in force when it is written: samples taken at another
// rate before a change are estimated as if taken at the new one, so set
// the rate once, early, and compare profiles taken at one rate.
func SetProfileRate(rate int) {
	if rate < 0 {
		rate = 0
	}
	theHeap() // the environment's profile_rate first, so that this call wins
	storeProfileRate(int64(rate))
	flushAll() // fresh caches draw fresh gaps
}

// ProfileRate returns the sampling rate in force: 512 KiB unless
// OFFHEAP=profile_rate or SetProfileRate said otherwise.
func ProfileRate() int {
	theHeap() // the environment's profile_rate is read at the first call
	return int(profileRate.Load())
}

// sampleAlloc charges size bytes to this P's countdown and records p when
// the countdown runs out. It is the slow paths' counterpart of the check in
// Malloc.
func sampleAlloc(p uintptr, size int) {
	if p == 0 || profileRate.Load() == 0 {
		return
	}
	if sampleDue(caches[:], size) {
		recordSample(p, size, 3, 0)
	}
}

// sampleDue takes size bytes off the profiling countdown of the calling
// P's cache in cs and reports whether a sample is due.
func sampleDue(cs []atomic.Pointer[pcache], size int) bool {
	pid := procPin()
	c := lockedCacheIn(cs, pid)
	due := false
	if c != nil {
		due = c.countDown(size)
		if raceEnabled {
			c.mu.Unlock()
		}
	}
	procUnpin()
	return due
}

// sampledMalloc records user pointer p of size bytes, which Malloc's fast
// path popped when its P's profiling countdown ran out (leaving the
// countdown below zero), and returns it. recordSample redraws the
// countdown of the P it runs on (if the goroutine moved meanwhile, the old
// P's next allocation finds its own below zero and samples too).
//
//go:noinline
func sampledMalloc(p uintptr, size int) unsafe.Pointer {
	recordSample(p, size, 2, 0)
	return unsafe.Add(nil, p)
}

// countDown takes size bytes off c's profiling countdown and reports
// whether a sample is due, starting the next countdown if so. The caller
// is pinned to c's P.
func (c *pcache) countDown(size int) bool {
	c.sampleLeft -= int64(size)
	if c.sampleLeft < 0 {
		c.sampleLeft = nextSampleGap()
		return true
	}
	return false
}

// psample is one P's sampling state: the memo of its last stack, and the
// counts of its samples and of the frees of sampled blocks, by bucket,
// not yet added to the buckets' own (a profile collects them: see
// collectSampleCounts). The P updates them pinned, without atomic
// operations; under the race detector its psample's mutex guards them,
// and counts go to the buckets directly.
type psample struct {
	memo   stackMemo
	counts [countSlots]countSlot
	mu     sync.Mutex // used only under the race detector, where procPin does not pin
}

// countSlots is how many buckets a P keeps counts for (by id, modulo).
const countSlots = 64

type countSlot struct {
	id                   uint32 // 0: empty
	allocs, frees, bytes int64
}

// count adds allocs and frees to bucket id's counts in ps, which the
// caller holds pinned.
func (ps *psample) count(id uint32, allocs, frees int64) { ps.countBytes(id, allocs, frees, 0) }

// countBytes is count with the bytes of the allocations counted: a P adds
// them to its slot, not to the bucket, whose counter all Ps would share
// (an atomic add on a line that moves between cores).
func (ps *psample) countBytes(id uint32, allocs, frees, bytes int64) {
	c := &ps.counts[id&(countSlots-1)]
	if c.id != id {
		if c.id != 0 {
			c.flush()
		}
		c.id = id
	}
	c.allocs += allocs
	c.frees += frees
	c.bytes += bytes
}

// flush adds slot c's counts to its bucket and empties it.
func (c *countSlot) flush() {
	if b := bucketByID(c.id); b != nil {
		if c.bytes != 0 {
			b.bytes.Add(c.bytes)
		}
		b.allocs.Add(c.allocs)
		b.frees.Add(c.frees)
	}
	*c = countSlot{}
}

// countDirect adds to bucket id's own counts (id 0: nothing).
func countDirect(id uint32, allocs, frees int64) {
	if b := bucketByID(id); b != nil {
		b.allocs.Add(allocs)
		b.frees.Add(frees)
	}
}

// samplersMu serializes collectSampleCounts.
var samplersMu sync.Mutex

// collectSampleCounts adds every P's pending counts to the buckets: each
// P's psample is replaced by a fresh one, and once no goroutine can still
// be pinned with an old one (a stop-the-world, as for the per-P caches:
// see quiesce), the old ones' counts are added up. Writing a profile
// calls it; the Ps lose their memos.
func collectSampleCounts() {
	samplersMu.Lock()
	defer samplersMu.Unlock()
	var old []*psample
	for pid := range samplers {
		if ps := samplers[pid].Load(); ps != nil {
			samplers[pid].Store(new(psample))
			old = append(old, ps)
		}
	}
	if len(old) == 0 {
		return
	}
	if raceEnabled {
		for _, ps := range old {
			ps.mu.Lock()
			ps.mu.Unlock() //nolint:staticcheck // an empty critical section is the point
		}
	} else {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
	}
	for _, ps := range old {
		for i := range ps.counts {
			if ps.counts[i].id != 0 {
				ps.counts[i].flush()
			}
		}
	}
}

// samplers holds one psample per P, made at the P's first sample.
var samplers [maxCachedProcs]atomic.Pointer[psample]

// sampler returns P pid's psample, locked under the race detector, or nil
// if it has none yet. Called pinned.
func sampler(pid int) *psample {
	if uint(pid) >= maxCachedProcs {
		return nil
	}
	ps := samplers[pid].Load()
	if raceEnabled && ps != nil {
		ps.mu.Lock()
	}
	return ps
}

func unlockSampler(ps *psample) {
	if raceEnabled && ps != nil {
		ps.mu.Unlock()
	}
}

// recordSample records user pointer p of size bytes, with the caller's
// stack. skip counts frames as runtime.Callers does, from recordSample's
// own frame (2 starts at its caller): the runtime.Callers fallback drops
// that many; the frame-pointer walk drops recordSample's own frame only,
// since inlining changes how many physical frames the others are. Either
// way, leading frames of package alloc are left out when a profile is
// written (profile.go).
//
// The common cases, a stack this P sampled last with the same size and
// labels, or a stack whose bucket exists, run pinned from end to end: the
// memo check (or the walk and the bucket's lookup), and the entry in the
// table of sampled blocks.
//
//go:noinline
func recordSample(p uintptr, bytes int, skip int, heap uint32) {
	size := profileClass(bytes)
	key := tableKey(p)
	if key == 0 {
		return // cannot be entered in the table (never for offheap's pointers)
	}
	labels := goroutineLabels()
	pid := procPin()
	if !raceEnabled && uint(pid) < maxCachedProcs {
		// The countdown of Malloc's fast path, which leaves it below zero
		// (sampledMalloc); cachePop and sampleDue have redrawn theirs.
		if c := caches[pid].Load(); c != nil && c.sampleLeft < 0 {
			c.sampleLeft = nextSampleGap()
		}
	}
	ps := sampler(pid)
	r := captureFailed
	if ps != nil && fpUnwind {
		r = captureFP(&ps.memo, 2)
		if r != captureFailed && !raceEnabled {
			m := &ps.memo
			b := m.b
			if r != captureHit || b == nil || b.size != size || b.labels != labels || b.heap != heap {
				// Another stack, or another size or label set: its bucket,
				// if it has one yet (else recordSampleSlow makes it).
				b = lookupBucketHash(m.h, m.pc[:m.n], false, size, labels, heap)
				m.b = b
			}
			if b != nil {
				if t := sampleTable.cur.Load(); t != nil {
					if r, stale := t.insert(key, key|uint64(b.id)<<entryAddrBits); r == tableDone {
						if c := &ps.counts[b.id&(countSlots-1)]; c.id == b.id {
							c.allocs++ // countBytes's common case, without the call
							c.bytes += int64(bytes)
						} else {
							ps.countBytes(b.id, 1, 0, int64(bytes))
						}
						if stale != 0 {
							ps.count(stale, 0, 1)
						}
						procUnpin()
						arena.SetSampled(p-16, true)
						return
					}
				}
			}
		}
	}
	recordSampleSlow(p, size, bytes, skip+1, labels, heap, pid, ps, r)
}

// recordSampleSlow is recordSample's other cases: a new stack, a new
// bucket, a P without its psample yet, a table to rebuild, a stack the
// frame pointers could not give. It is called pinned (and with ps locked
// under the race detector), as recordSample left things, and unpins; skip
// counts from its own frame.
//
//go:noinline
func recordSampleSlow(p uintptr, size, bytes, skip int, labels unsafe.Pointer, heap uint32, pid int, ps *psample, r int) {
	var stk [maxStack]uintptr
	n, logical := 0, false
	var b *bucket
	if r != captureFailed {
		m := &ps.memo
		n = copy(stk[:], m.pc[:m.n])
		// m.b, when set, is this stack's bucket: a walk clears it
		// (captureFP), and without the race detector recordSample has
		// just looked this stack's bucket up and set it, found or not,
		// so only the race detector's build looks here.
		if mb := m.b; mb != nil && mb.size == size && mb.labels == labels && mb.heap == heap {
			b = mb
		} else if raceEnabled {
			if b = lookupBucket(stk[:n], false, size, labels, heap); b != nil {
				m.b = b
			}
		}
	}
	unlockSampler(ps)
	procUnpin()

	if r == captureFailed && ps == nil {
		if uint(pid) < maxCachedProcs {
			samplers[pid].CompareAndSwap(nil, new(psample)) // the P's memo, from its next sample on
		}
		if fpUnwind {
			var m stackMemo
			if r = captureFP(&m, 3); r != captureFailed {
				n = copy(stk[:], m.pc[:m.n])
			}
		}
	}
	if r == captureFailed {
		n, logical = runtime.Callers(skip, stk[:]), true
	}
	if b == nil {
		if b = findBucket(stk[:n], logical, size, labels, heap); b == nil {
			buckets.dropped.Add(1)
			return
		}
	}
	ok, stale := insertSample(p, b.id)
	if !ok {
		buckets.dropped.Add(1)
		return
	}
	countDirect(stale, 0, 1) // the block's free went unseen (addrTable.insert)
	b.allocs.Add(1)
	b.bytes.Add(int64(bytes))
	arena.SetSampled(p-16, true)
}

// forgetSample counts the free of user pointer p, if it is a sampled
// block, in its bucket. Free calls it for a block with the S bit (and the
// mapped-chunk free for every block). The common case runs pinned from
// end to end: the entry's removal, and the count in the P's psample.
func forgetSample(p uintptr) {
	key := tableKey(p)
	if !raceEnabled && key != 0 {
		pid := procPin()
		if t := sampleTable.cur.Load(); t != nil && uint(pid) < maxCachedProcs {
			if ps := samplers[pid].Load(); ps != nil {
				id, r := t.remove(key)
				switch r {
				case tableDone:
					ps.count(id, 0, 1)
					procUnpin()
					return
				case tableNotFound:
					procUnpin()
					return
				}
			}
		}
		procUnpin()
	}
	if id, ok := removeSample(p); ok {
		countDirect(id, 0, 1)
	}
}
