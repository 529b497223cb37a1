package alloc

import (
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/mmapper"
	"github.com/offheap/offheap/tune"
)

// Misuse, check_action and the debug mode.
//
// # What is found, and what happens then
//
// Misuse is a bad call found before anything was changed: a pointer that
// offheap did not return (Go memory, an interior or misaligned pointer, a
// header whose tag does not match), a block freed twice while it is still in
// a per-P cache or a fastbin, or freed by two goroutines at once, a mapped
// chunk freed twice, and in debug mode a damaged canary. check_action
// (M_CHECK_ACTION, MALLOC_CHECK_, OFFHEAP=check=N) decides what follows:
//
//	0  the call is ignored: Free does nothing, Realloc returns nil and
//	   leaves the block alone, UsableSize returns 0
//	1  one line goes to standard error, then the call is ignored as with 0
//	2  panic with an *arena.CorruptionError (glibc's message and the address)
//	3  the same (the default); Go has no abort without a message, so 2 and
//	   3 do not differ
//
// Corruption is damage found inside an arena's structures: a forged or
// overwritten free-list link, a size that disagrees with its neighbour, an
// overflow into the next chunk's header, a chunk freed twice after it went
// back to its arena. It always panics, whatever check_action says: the arena
// cannot be trusted any more, and going on could hand out the same memory
// twice. The panic happens after every lock is released; the other arenas
// keep working.
//
// # The debug mode (OFFHEAP=debug=N)
//
// With debug N > 0 in the environment at the first allocation, every block
// gets a canary and every mapped chunk a guard page, and a full Check runs
// every N operations (Malloc, Calloc, Realloc, AlignedAlloc, Free):
//
//   - Canary: each request is made 16 bytes larger (a page more when it may
//     be mapped). After the n bytes asked for come canary bytes, then, in
//     the last word of the block's memory, n itself with a 20-bit check
//     (sizeWord). Free, Realloc and UsableSize read n back (UsableSize
//     returns n, as glibc's malloc_usable_size does under MALLOC_CHECK_); Free
//     verifies every canary byte, so a write past the end of the block is
//     reported when the block is freed.
//   - Guard page: the last page of a mapped chunk's mapping is made
//     inaccessible (mmapper.Guard), so a run past the end of a large block
//     faults at once. The canary sits just before it.
//   - Double frees: Free claims the block by swapping its size word for a
//     "freed" mark with an atomic compare-and-swap, so of two goroutines
//     freeing the same block at once exactly one wins and the other reports
//     a double free.
//   - Check: every N operations, all arenas, mapped chunks and caches are
//     walked (checkAll); a failure always panics.
//
// The debug mode costs the fast paths one load and one compare when it is
// off (debugOn). Canaries and guard pages are decided once, at the first
// allocation: blocks allocated without them cannot be checked later.
// Mallopt(tune.Debug, N) afterwards only changes how often Check runs (0:
// never); with debug off at start it turns on the periodic Check and the
// exact double-free claim (on the cache key) without canaries.

var (
	// debugOn sends every call through the debug paths. It is the only
	// thing the fast paths read of the debug mode. It starts true, so that
	// the very first Malloc or Calloc, which initializes the heap, takes the
	// debug path and gets its canary if the environment asks for one;
	// configureDebug sets it for good.
	debugOn atomic.Bool
	// canaries says that blocks carry canaries and mapped chunks guard
	// pages: fixed at the first allocation.
	canaries bool
	// debugEvery is N: a full Check every N operations (0: none).
	debugEvery atomic.Int64
	debugOps   atomic.Int64
	// debugStarted is set once the first configuration has been applied.
	debugStarted bool
	// checkLevel mirrors check_action for the error paths.
	checkLevel atomic.Int32
)

func init() { debugOn.Store(true) } // until configureDebug has run: see debugOn

// configureDebug applies check_action and debug. It runs at
// initialization and after every Mallopt, with initMu held.
func configureDebug(s *tune.Settings) {
	checkLevel.Store(int32(s.Get(tune.CheckAction)))
	n := s.Get(tune.Debug)
	if !debugStarted {
		debugStarted = true
		canaries = n > 0
	}
	debugEvery.Store(n)
	debugOn.Store(canaries || n > 0)
	setFast(fastDebug, canaries || n > 0)
	setFast(fastHarden, s.Get(tune.Harden) != 0)
}

// misuse handles a bad call found before anything was changed, as
// check_action says: it returns (the caller then ignores the call) or
// panics.
//
//go:noinline
func misuse(op string, addr uintptr) {
	switch checkLevel.Load() {
	case 0:
	case 1:
		fmt.Fprintf(os.Stderr, "offheap: %s (address %#x); call ignored (check_action 1)\n", op, addr)
	default:
		panic(&arena.CorruptionError{Op: op, Addr: addr})
	}
}

// resolve validates user pointer p as Free does (heap.Validate).
func resolve(op string, p uintptr) (c uintptr, a *arena.Arena, bad *arena.CorruptionError) {
	return heap.Validate(op, p)
}

// freeMapped frees mapped chunk p (Lookup said so); a pointer that is not a
// live mapped chunk (freed twice, perhaps by two goroutines at once) is
// misuse.
func freeMapped(p uintptr) {
	forgetSample(p) // a table lookup, if any block is sampled at all
	if bad := heap.FreeMapped(p); bad != nil {
		misuse(bad.Op, bad.Addr)
	}
}

// freeClaimed frees heap chunk ch of arena a, which the caller claimed, to
// the arena (its key stays, see keyFor).
func freeClaimed(ch uintptr, a *arena.Arena) { heap.FreeChunk(ch, a) }

// ---- debug mode ----

// canaryExtra is what a request grows by in debug mode: at least 8 canary
// bytes and the size word.
const canaryExtra = 16

// sizeBits is the width of the requested size in a size word; the 20 bits
// above hold its check.
const sizeBits = 44

func sizeCheck(p, n uintptr) uintptr {
	return ((p>>4 ^ n*0x9E3779B97F4A7C15 ^ uintptr(cacheKey)) * 0xBF58476D1CE4E5B9) >> sizeBits
}

// sizeWord is the last word of block p's memory in debug mode: the
// requested size n and its check.
func sizeWord(p, n uintptr) uintptr { return n | sizeCheck(p, n)<<sizeBits }

// freedMark replaces the size word of a block being freed.
func freedMark(p uintptr) uintptr { return ^sizeWord(p, 0) }

func canaryByte(p, j uintptr) byte { return byte(p>>4) ^ byte(j) ^ 0xA5 }

// canaryTail returns the end of the memory after block p that the canary
// uses: the end of a heap chunk's usable bytes, the guard page of a mapped
// chunk.
func canaryTail(c uintptr) uintptr {
	if arena.IsMmapped(c) {
		return c + arena.ChunkSize(c) - mmapper.PageSize()
	}
	return c + 16 + arena.UsableSize(c)
}

func wordAt(a uintptr) *uintptr { return (*uintptr)(unsafe.Add(nil, a)) }

// debugRequest is the request made for n bytes in debug mode.
func debugRequest(n uintptr) uintptr {
	r := n + canaryExtra
	if ps := mmapper.PageSize(); r+ps >= heap.Params().MmapThreshold {
		// It may be mapped: leave room for the guard page.
		r += ps
	}
	return r
}

// placeCanary writes the canary of block p (n bytes asked for) and, for a
// mapped chunk, closes its guard page. It reports false when a mapped chunk
// has no room for a guard page or the guard cannot be set: the caller frees
// the block and tries again larger, or fails.
func placeCanary(p, n uintptr) bool {
	c := p - 16
	tail := canaryTail(c)
	if tail < p+n+canaryExtra || (arena.IsMmapped(c) && tail <= p) {
		return false
	}
	if arena.IsMmapped(c) {
		if mmapper.Guard(tail, mmapper.PageSize()) != nil {
			return false
		}
	}
	for j := n; j < tail-8-p; j++ {
		*(*byte)(unsafe.Add(nil, p+j)) = canaryByte(p, j)
	}
	*wordAt(tail - 8) = sizeWord(p, n)
	return true
}

// readCanary returns the size asked for of block p (chunk c) and checks its
// canary. op names the call for the messages; bad is "" when all is well.
func readCanary(op string, p uintptr) (n uintptr, word uintptr, bad string) {
	c := p - 16
	tail := canaryTail(c)
	w := *wordAt(tail - 8)
	if w == freedMark(p) {
		return 0, w, op + ": double free detected (debug)"
	}
	n = w & (1<<sizeBits - 1)
	if w != sizeWord(p, n) || p+n+8 > tail-8 {
		return 0, w, op + ": canary size word overwritten (buffer overflow?)"
	}
	for j := n; j < tail-8-p; j++ {
		if *(*byte)(unsafe.Add(nil, p+j)) != canaryByte(p, j) {
			return n, w, fmt.Sprintf("%s: canary overwritten %d bytes past the %d-byte block (buffer overflow)", op, j-n, n)
		}
	}
	return n, w, ""
}

// debugMalloc allocates n bytes in debug mode; align > 16 asks for
// aligned memory, zero for cleared memory.
func debugMalloc(n int, align int, zero bool) uintptr {
	defer debugTick()
	theHeap()
	if !canaries {
		return plainAlloc(n, n, align, zero)
	}
	if n < 0 || uint64(n) > uint64(arena.MaxRequest)-uint64(canaryExtra)-1<<20 {
		return 0
	}
	req := debugRequest(uintptr(n))
	for try := 0; try < 2; try++ {
		p := plainAlloc(int(req), n, align, zero)
		if p == 0 {
			return 0
		}
		if placeCanary(p, uintptr(n)) {
			return p
		}
		// A mapped chunk without room for its guard page (mapped as a
		// fallback for a small request), or a failed mprotect.
		arena.SetSampled(p-16, false)
		forgetSample(p)
		if arena.IsMmapped(p - 16) {
			heap.Free(p)
		} else {
			freeClaimed(p-16, arenaOf(p))
		}
		req += mmapper.PageSize()
	}
	return 0
}

func arenaOf(p uintptr) *arena.Arena {
	_, a := heap.Lookup(p)
	return a
}

// plainAlloc is the allocation of the fast paths (Malloc, Calloc,
// AlignedAlloc) for the debug mode: n bytes, charged to the heap profile as
// asked bytes.
func plainAlloc(n, asked int, align int, zero bool) uintptr {
	if align > 16 {
		p := myCache().arena.Load().Memalign(uintptr(align), uintptr(n))
		if p != 0 {
			clearKey(p - 16)
		}
		if p != 0 && zero {
			clearUser(p)
		}
		sampleAlloc(p, asked)
		return p
	}
	var p uintptr
	if uint(n) <= midLimit {
		if q, sample := cachePop(requestClass(uintptr(n)), n); q != 0 {
			if perturbByte.Load() != 0 {
				heap.PerturbAlloc(q - 16)
			}
			if sample {
				recordSample(q, asked, 4, 0)
			}
			p = q
		}
	}
	if p == 0 {
		if p = mallocSlow(n); p == 0 {
			return 0
		}
		sampleAlloc(p, asked)
	}
	if zero {
		clearUser(p)
	}
	return p
}

// debugFree frees p in debug mode.
func debugFree(p uintptr) {
	defer debugTick()
	if p == 0 {
		return
	}
	if kind, _ := heap.Lookup(p); kind == arena.InMapped {
		if canaries {
			if msg := readMappedCanary(p); msg != "" {
				misuse(msg, p)
				return
			}
		}
		freeMapped(p) // the mapped set decides which of two frees wins
		return
	}
	// Another goroutine freeing p at the same moment may send it to its
	// arena, which may give the memory back to the system (trimming the
	// top) while we read it: a fault here is that double free.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			misuse("free(): double free detected (debug)", p)
		}
	}()
	c, a, bad := resolve("free()", p)
	if bad != nil {
		misuse(bad.Op, bad.Addr)
		return
	}
	if arena.IsCached(c) || inCache(c) {
		misuse("free(): double free detected in tcache 2", p)
		return
	}
	if !heap.LooksInUse(c) {
		heap.FreeChunk(c, a) // back in its arena, or a neighbour overwritten: the arena reports it
		return
	}
	if canaries {
		_, w, msg := readCanary("free()", p)
		if msg != "" {
			misuse(msg, p)
			return
		}
		// Claim the block: of two frees at once, one swaps the mark in.
		if !atomic.CompareAndSwapUintptr(wordAt(canaryTail(c)-8), w, freedMark(p)) {
			misuse("free(): double free detected (debug)", p)
			return
		}
	}
	if !claimForFree(p, c) {
		return
	}
	if dropSample(p, c) {
		freeClaimed(c, a) // sampled blocks go back to their arena, as in Free
		return
	}
	size := arena.ChunkSize(c)
	if cl := chunkClass(size); cl >= 0 && cachePush(c, cl, cl >= nSmall && arena.NextIsTop(c, size)) {
		return
	}
	freeClaimed(c, a)
}

// readMappedCanary checks the canary of mapped block p. Another goroutine
// freeing p at the same moment may unmap it under our feet: a fault while
// reading is reported as the double free it is.
func readMappedCanary(p uintptr) (msg string) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			msg = "free(): double free detected (debug)"
		}
	}()
	if _, _, bad := resolve("free()", p); bad != nil {
		return bad.Op
	}
	_, _, msg = readCanary("free()", p)
	return msg
}

// debugRealloc is Realloc in debug mode: a new block, the contents copied,
// the old block freed (so that both canaries are checked).
func debugRealloc(p uintptr, n int) uintptr {
	if p == 0 {
		return debugMalloc(n, 0, false)
	}
	if n == 0 {
		debugFree(p)
		return 0
	}
	if n < 0 || uint64(n) > uint64(arena.MaxRequest) {
		return 0
	}
	c, a, bad := resolve("realloc()", p)
	if bad != nil {
		misuse(bad.Op, bad.Addr)
		return 0
	}
	if arena.IsCached(c) || (a != nil && inCache(c)) {
		misuse("realloc(): invalid pointer (already freed)", p)
		return 0
	}
	old := arena.UsableSize(c)
	if canaries {
		m, _, msg := readCanary("realloc()", p)
		if msg != "" {
			misuse(msg, p)
			return 0
		}
		old = m
	}
	np := debugMalloc(n, 0, false)
	if np == 0 {
		return 0
	}
	copy(unsafe.Slice((*byte)(unsafe.Add(nil, np)), min(old, uintptr(n))), unsafe.Slice((*byte)(unsafe.Add(nil, p)), old))
	debugFree(p)
	return np
}

// debugUsable is UsableSize in debug mode: the size asked for.
func debugUsable(p uintptr) int {
	c, _, bad := resolve("malloc_usable_size()", p)
	if bad != nil {
		misuse(bad.Op, bad.Addr)
		return 0
	}
	if !canaries {
		return int(arena.UsableSize(c))
	}
	n, _, msg := readCanary("malloc_usable_size()", p)
	if msg != "" {
		misuse(msg, p)
		return 0
	}
	return int(n)
}

// debugTick counts one operation and runs the full Check every N.
func debugTick() {
	if every := debugEvery.Load(); every > 0 && debugOps.Add(1)%every == 0 {
		if err := checkAll(); err != nil {
			panic(&arena.CorruptionError{Op: "debug check: " + err.Error()})
		}
	}
}
