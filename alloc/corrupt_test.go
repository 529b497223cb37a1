package alloc

// Corruption: a forged or overwritten free-list link, a write after free
// into a cached block, a one-byte overflow into the next chunk's header.
// Each test provokes one in a child process, asserts glibc's message, and
// shows that another arena keeps working afterwards (its blocks intact, it
// allocates and frees, Check finds nothing wrong in it).

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// forgeLink overwrites the safe-linked pointer stored at field with one
// that decodes to target.
func forgeLink(field uintptr, target uintptr) {
	*(*uintptr)(unsafe.Add(nil, field)) = arena.Protect(field, target)
}

// TestCorruptCacheLink forges the link of a chunk in a per-P cache (a write
// after free into its first word): the next allocation of that size panics
// with "malloc(): unaligned tcache chunk detected" instead of handing out
// the forged address, and the class works again afterwards (the list that
// cannot be trusted is dropped).
func TestCorruptCacheLink(t *testing.T) {
	if runInChild(t) {
		return
	}
	runtime.GOMAXPROCS(1) // one P, one cache
	other := newOtherArena(t)
	var live blockSet
	for _, n := range []int{40, 1000, 20 << 10} {
		live.malloc(n)
	}
	p, q := Malloc(40), Malloc(40)
	Free(q)
	Free(p) // the cache's list: p, then q
	forgeLink(uintptr(p), 0xdead0008)
	ce := expectPanic(t, "malloc(): unaligned tcache chunk detected", func() { Malloc(40) })
	if ce.Addr != uintptr(p) {
		t.Fatalf("the panic names %#x, want the chunk %p", ce.Addr, p)
	}
	for range 50 { // the class works again
		r := Malloc(40)
		if r == nil || uintptr(r) == 0xdead0008+16 {
			t.Fatalf("Malloc(40) after the forged link = %p", r)
		}
		live.add(r, 40)
	}
	live.verify(t, "after the forged link")
	other.works(t)
	mustCheckHeap(t, "after the forged link") // p and q are lost, nothing is broken
	live.freeEvery(t, 1)
	other.free(t)
}

// TestCorruptCacheKey writes after free into the second word of a cached
// block, where the cache keeps its key: the next allocation of that size
// panics, and the class works again afterwards.
func TestCorruptCacheKey(t *testing.T) {
	if runInChild(t) {
		return
	}
	runtime.GOMAXPROCS(1)
	other := newOtherArena(t)
	p := Malloc(100)
	Free(p)
	*(*uint64)(unsafe.Add(p, 8)) = 0 // a write after free
	ce := expectPanic(t, "malloc(): corrupted tcache chunk (double free or write after free)", func() { Malloc(100) })
	if ce.Addr != uintptr(p) {
		t.Fatalf("the panic names %#x, want %p", ce.Addr, p)
	}
	var live blockSet
	for range 20 {
		if !live.malloc(100) {
			t.Fatal("Malloc(100) failed after the corrupted chunk")
		}
	}
	live.verify(t, "after the corrupted chunk")
	other.works(t)
	mustCheckHeap(t, "after the corrupted chunk")
	live.freeEvery(t, 1)
	other.free(t)
}

// TestCorruptFastbinLink forges the link of a chunk in an arena's fastbin
// (per-P caches off, so that frees go to the fastbins): the allocation that
// would follow the forged link panics with "malloc(): unaligned fastbin
// chunk detected 2"; that arena's fastbin stays poisoned (corruption inside
// an arena is not repaired), but another arena keeps working, through its
// own API and through Malloc and Free, and Check names the broken arena
// alone.
func TestCorruptFastbinLink(t *testing.T) {
	if runInChild(t, "OFFHEAP=tcache_count=0") {
		return
	}
	runtime.GOMAXPROCS(1)
	other := newOtherArena(t)
	p, q, guard := Malloc(40), Malloc(40), Malloc(40)
	Free(q)
	Free(p) // fastbin: p, then q
	if !arena.IsCached(uintptr(p) - 16) {
		t.Fatal("the freed block is not in a fastbin")
	}
	forgeLink(uintptr(p), 0xdead0008)
	var r unsafe.Pointer
	noPanic(t, "taking the first chunk", func() { r = Malloc(40) })
	if r != p {
		t.Fatalf("Malloc(40) = %p, want the fastbin's first chunk %p", r, p)
	}
	ce := expectPanic(t, "malloc(): unaligned fastbin chunk detected 2", func() { Malloc(40) })
	if ce.Addr != 0xdead0008 {
		t.Fatalf("the panic names %#x, want the forged address 0xdead0008", ce.Addr)
	}
	err := theHeap().Check(nil)
	if err == nil || !strings.HasPrefix(err.Error(), "arena 0: fastbin") {
		t.Fatalf("Check after the forged link: %v, want arena 0's fastbin named", err)
	}
	other.works(t)
	// Malloc and Free through the other arena: this P allocates from it.
	myCache().arena.Store(other.a)
	var live blockSet
	for _, n := range []int{40, 40, 100, 3000, 70 << 10} {
		if !live.malloc(n) {
			t.Fatalf("Malloc(%d) through arena %d failed", n, other.a.Index())
		}
		if _, a := theHeap().Lookup(uintptr(live.blocks[len(live.blocks)-1].p)); a != other.a {
			t.Fatalf("Malloc(%d) did not come from arena %d", n, other.a.Index())
		}
	}
	live.verify(t, "through the other arena")
	live.freeEvery(t, 1)
	other.works(t)
	_, _ = guard, r
}

// TestCorruptOneByteOverflow writes one byte past the usable size of a
// block, onto the low byte of the next chunk's size word, as an
// off-by-one does, for chunks of the fastbins, the small bins, the caches'
// upper classes and the heap above them. Freeing the block reports "free():
// invalid next size"; freeing the neighbour first reports its own header
// broken ("free(): invalid pointer"); an overflow that only clears the
// neighbour's P bit is caught when the block is freed ("double free or
// corruption (!prev)"). Nothing is changed by the refused frees: once the
// byte is repaired both blocks free normally; and another arena keeps
// working throughout. It runs with harden=1, where every free checks the
// next header; TestCorruptedNeighbour covers the default, where the check
// happens when the block leaves the cache.
func TestCorruptOneByteOverflow(t *testing.T) {
	if runInChild(t, "OFFHEAP=mmap_threshold=1m,harden=1") {
		return
	}
	other := newOtherArena(t)
	for _, c := range []struct {
		n    int
		kind string // what glibc calls the path
	}{{40, "fast"}, {1000, "normal"}, {3000, "normal"}, {200 << 10, "normal"}} {
		a, b := adjacentPair(t, c.n)
		ba := hblock{p: a, n: c.n, id: 1}
		bb := hblock{p: b, n: c.n, id: 2}
		ba.fill()
		bb.fill()
		next := (*byte)(unsafe.Add(a, UsableSize(a))) // the low byte of b's size word
		saved := *next

		*next = 0 // a NUL written one past the end
		_, home := theHeap().Lookup(uintptr(a))
		if err := theHeap().Check(nil); err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("arena %d: ", home.Index())) {
			t.Fatalf("%d bytes: Check with the overflow: %v, want arena %d named", c.n, err, home.Index())
		}
		expectPanic(t, fmt.Sprintf("free(): invalid next size (%s)", c.kind), func() { Free(a) })
		expectPanic(t, "free(): invalid pointer", func() { Free(b) })
		other.works(t)

		*next = saved &^ 1 // only the P bit: b now says a is free
		expectPanic(t, "double free or corruption (!prev)", func() { Free(a) })
		other.works(t)

		*next = saved
		for _, blk := range []hblock{ba, bb} {
			if msg := blk.bad(); msg != "" {
				t.Fatalf("%d bytes: a refused free changed the block: %s", c.n, msg)
			}
			Free(blk.p)
		}
		mustCheckHeap(t, fmt.Sprintf("%d bytes: after the repair", c.n))
	}
	other.free(t)
	mustCheckHeap(t, "at the end")
}

// TestCorruptionFoundInBackground: an overflow into the next chunk's header
// that the free fast path does not see (harden=0) is found when the cache
// is flushed by someone other than the program: here Check's flush, as
// the idle flusher's would. No one could recover a panic there, so it is
// kept for the program's next call, which panics with it; after that the
// allocator works normally.
func TestCorruptionFoundInBackground(t *testing.T) {
	if !fastPaths {
		t.Skip("without the fast paths (-race, -asan, -msan) the free itself finds the overflow")
	}
	// Sampling off, and one P: the free must reach the cache. A sampled
	// block (at the default rate, one 3000-byte block in about 175) is
	// freed through the arena, which finds the overflow at once, and so
	// is a block freed on a P that has no cache yet (CI saw the first).
	if runInChild(t, "OFFHEAP=profile_rate=0") {
		return
	}
	runtime.GOMAXPROCS(1)
	a, b := adjacentPair(t, 3000)
	next := (*byte)(unsafe.Add(a, UsableSize(a))) // the low byte of b's size word
	saved := *next
	*next = 0
	Free(a) // into the cache
	if err := Check(); err == nil {
		t.Fatal("Check found nothing wrong with a broken header")
	}
	ce := expectPanic(t, "free(): invalid next size (normal)", func() { Malloc(16) })
	if ce.Addr != uintptr(a)-16 {
		t.Errorf("the panic names %#x, want the chunk %#x", ce.Addr, uintptr(a)-16)
	}
	*next = saved
	p := Malloc(16) // no second panic: the report was delivered once
	Free(p)
	Free(b)
	mustCheckHeap(t, "after the repair")
}
