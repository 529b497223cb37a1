package alloc

// Faults from the operating system, injected with the hooks of brk and
// mmapper (FailAfter, FailAlways): under each one the allocator returns nil
// or an error where it must, never panics, keeps every live block's
// contents and passes Check, and allocates again once the fault clears.
// Each test runs in a child process (runInChild), so that an armed fault
// never leaks into other tests.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/brk"
	"github.com/offheap/offheap/mmapper"
	"github.com/offheap/offheap/tune"
)

// TestFaultBrkENOMEM: with the break refused (ENOMEM on every brk call, or
// on the mprotect of the reserved stand-in under -race), the main arena
// goes on in heaps of its own, as glibc's does when sbrk fails; the break
// does not move, nothing fails, and everything allocated before survives.
func TestFaultBrkENOMEM(t *testing.T) {
	if runInChild(t, "OFFHEAP=arena_max=1") { // one arena: everything goes to arena 0
		return
	}
	var live blockSet
	for i := 0; i < 300; i++ {
		if n := 16 + i*211%(60<<10); !live.malloc(n) {
			t.Fatalf("Malloc(%d) failed before any fault", n)
		}
	}
	main := theHeap().Arena(0)
	regions := main.Info(false).Regions
	brkAt := brkUsed.Current()
	before := brk.ReadCounters()

	brk.FailAlways(brk.OpBrk, syscall.ENOMEM)
	brk.FailAlways(brk.OpMprotect, syscall.ENOMEM)
	defer brk.ClearFaults()
	total := 0
	for i := 0; total < 24<<20; i++ {
		n := 1000 + i*7919%(100<<10)
		if !live.malloc(n) {
			t.Fatalf("Malloc(%d) failed with the break refused, after %d bytes: the main arena did not go on in heaps", n, total)
		}
		total += n
	}
	after := brk.ReadCounters()
	refused := after.Brk.Errors - before.Brk.Errors + after.Mprotect.Errors - before.Mprotect.Errors
	if refused == 0 {
		t.Fatal("the break was never asked to grow: the test did not exercise the fault")
	}
	if brkUsed.Current() != brkAt {
		t.Fatalf("the break moved from %#x to %#x while refused", brkAt, brkUsed.Current())
	}
	if got := main.Info(false).Regions; got <= regions {
		t.Fatalf("arena 0 has %d regions, as before the fault: it did not move to a heap", got)
	}
	t.Logf("%d MiB allocated with the break refused %d times; arena 0 now has %d regions", total>>20, refused, main.Info(false).Regions)
	live.verify(t, "with the break refused")
	mustCheckHeap(t, "with the break refused")

	brk.ClearFaults()
	live.freeEvery(t, 2)
	for i := 0; i < 200; i++ {
		if !live.malloc(100 + i*37) {
			t.Fatal("Malloc failed after the fault cleared")
		}
	}
	live.verify(t, "after the fault cleared")
	mustCheckHeap(t, "after the fault cleared")
	live.freeEvery(t, 1)
	mustCheckHeap(t, "at the end")
}

// TestFaultNoMemory: with every way to more memory refused (mmap, brk, and
// the mprotect that commits a heap), requests that need new memory return
// nil, Realloc returns nil and leaves the block as it was, small requests
// are served from what is left until that runs out too, and nothing
// panics. With only mmap refused, a large request falls back on the heap.
func TestFaultNoMemory(t *testing.T) {
	if runInChild(t) {
		return
	}
	if err := Mallopt(tune.MmapThreshold, 128<<10); err != nil { // fixed: no dynamic threshold
		t.Fatal(err)
	}
	var live blockSet
	for i := 0; i < 100; i++ {
		live.malloc(16 + i*97)
	}
	live.malloc(1 << 20) // mapped
	var keep blockSet    // the block Realloc is asked to grow
	keep.malloc(3000)
	moved := keep.blocks[0]

	noMemory := func() {
		mmapper.FailAlways(mmapper.OpMmap, syscall.ENOMEM)
		mmapper.FailAlways(mmapper.OpMprotect, syscall.ENOMEM)
		mmapper.FailAlways(mmapper.OpMremap, syscall.ENOMEM)
		brk.FailAlways(brk.OpBrk, syscall.ENOMEM)
		brk.FailAlways(brk.OpMprotect, syscall.ENOMEM)
	}
	clearAll := func() {
		mmapper.ClearFaults()
		brk.ClearFaults()
	}
	defer clearAll()
	noMemory()
	const big = 80 << 20 // more than any top or heap holds
	noPanic(t, "requests with no memory left", func() {
		if p := Malloc(big); p != nil {
			t.Fatalf("Malloc(%d) = %p with every mmap, brk and mprotect refused", big, p)
		}
		if p := Calloc(big/8, 8); p != nil {
			t.Fatalf("Calloc = %p with no memory left", p)
		}
		if p := AlignedAlloc(1<<16, big); p != nil {
			t.Fatalf("AlignedAlloc = %p with no memory left", p)
		}
		if p := Realloc(moved.p, big); p != nil {
			t.Fatalf("Realloc to %d bytes = %p with no memory left", big, p)
		}
		if msg := moved.bad(); msg != "" {
			t.Fatalf("a failed Realloc changed the block: %s", msg)
		}
		if a, err := theHeap().NewArena(); err == nil || !errors.Is(err, syscall.ENOMEM) {
			t.Fatalf("NewArena with mmap refused: %v, %v; want an error wrapping ENOMEM", a, err)
		}
	})
	// Small blocks come from what is left, until it runs out.
	n := 0
	noPanic(t, "allocating until nil", func() {
		for ; n < 1<<20; n++ {
			if !live.malloc(4000) {
				break
			}
		}
	})
	if n == 1<<20 {
		t.Fatal("a million 4000-byte blocks allocated with no memory from the system")
	}
	t.Logf("%d blocks of 4000 bytes from the memory left, then nil", n)
	live.verify(t, "with no memory left")
	mustCheckHeap(t, "with no memory left")

	// Only mmap refused: a large request that cannot be mapped goes to the
	// heap, grown by the break.
	clearAll()
	mmapper.FailAlways(mmapper.OpMmap, syscall.ENOMEM)
	p := Malloc(2 << 20)
	if p == nil {
		t.Fatal("Malloc(2 MiB) failed with only mmap refused: no fallback on the heap")
	}
	if arena.IsMmapped(uintptr(p) - 16) {
		t.Fatal("a block was mapped while mmap was refused")
	}
	live.add(p, 2<<20)

	clearAll()
	live.freeEvery(t, 2)
	for _, n := range []int{big, 1 << 20, 100, 5000} {
		if !live.malloc(n) {
			t.Fatalf("Malloc(%d) failed after the faults cleared", n)
		}
	}
	if q := Realloc(moved.p, big); q == nil {
		t.Fatal("Realloc failed after the faults cleared")
	} else if msg := (hblock{p: q, n: moved.n, id: moved.id}).bad(); msg != "" {
		t.Fatalf("Realloc lost the contents: %s", msg)
	} else {
		Free(q)
	}
	live.verify(t, "after the faults cleared")
	mustCheckHeap(t, "after the faults cleared")
	live.freeEvery(t, 1)
	mustCheckHeap(t, "at the end")
}

// TestFaultEachCall fails, one at a time, the k-th call of each system call
// the allocator makes (mmap, munmap, mremap, madvise, mprotect; brk and
// its stand-in's mprotect) during a workload that uses them all: new
// arenas, heaps, mapped chunks and their mapped-set table, realloc of
// mapped chunks, trimming. After each injected failure: no panic, each
// result nil or a sound block, every live block intact, Check nil; and the
// same workload then runs without a failure.
func TestFaultEachCall(t *testing.T) {
	if runInChild(t, "OFFHEAP=mmap_threshold=256k,trim_threshold=256k,top_pad=64k") {
		return
	}
	seed := hardSeed(t)
	t.Logf("seed %d", seed)
	type fault struct {
		name  string
		arm   func(k int)
		calls func() uint64
	}
	mcalls := func(f func(mmapper.Counters) mmapper.OpStats) func() uint64 {
		return func() uint64 { return f(mmapper.ReadCounters()).Calls }
	}
	faults := []fault{
		{"mmap", func(k int) { mmapper.FailAfter(mmapper.OpMmap, k, syscall.ENOMEM) },
			mcalls(func(c mmapper.Counters) mmapper.OpStats { return c.Mmap })},
		{"munmap", func(k int) { mmapper.FailAfter(mmapper.OpMunmap, k, syscall.EINVAL) },
			mcalls(func(c mmapper.Counters) mmapper.OpStats { return c.Munmap })},
		{"mremap", func(k int) { mmapper.FailAfter(mmapper.OpMremap, k, syscall.ENOMEM) },
			mcalls(func(c mmapper.Counters) mmapper.OpStats { return c.Mremap })},
		{"madvise", func(k int) { mmapper.FailAfter(mmapper.OpMadvise, k, syscall.EINVAL) },
			mcalls(func(c mmapper.Counters) mmapper.OpStats { return c.Madvise })},
		{"mprotect", func(k int) { mmapper.FailAfter(mmapper.OpMprotect, k, syscall.ENOMEM) },
			mcalls(func(c mmapper.Counters) mmapper.OpStats { return c.Mprotect })},
		{"brk", func(k int) {
			brk.FailAfter(brk.OpBrk, k, syscall.ENOMEM)
			brk.FailAfter(brk.OpMprotect, k, syscall.ENOMEM)
		}, func() uint64 { c := brk.ReadCounters(); return c.Brk.Calls + c.Mprotect.Calls }},
	}
	var live blockSet
	for _, f := range faults {
		// How many calls of this kind the workload makes, without faults.
		c0 := f.calls()
		faultWorkload(t, &live, seed, nil)
		made := int(f.calls() - c0)
		live.freeEvery(t, 1)
		if made == 0 {
			t.Fatalf("the workload makes no %s call", f.name)
		}
		for k := 1; k <= min(made, 12); k++ {
			f.arm(k)
			noPanic(t, fmt.Sprintf("the workload with %s call %d failing", f.name, k), func() {
				faultWorkload(t, &live, seed+uint64(k), nil)
			})
			mmapper.ClearFaults()
			brk.ClearFaults()
			live.verify(t, fmt.Sprintf("after %s call %d failed", f.name, k))
			mustCheckHeap(t, fmt.Sprintf("after %s call %d failed", f.name, k))
			live.freeEvery(t, 3)
		}
		live.freeEvery(t, 1)
		var nils int
		faultWorkload(t, &live, seed, &nils)
		if nils != 0 {
			t.Fatalf("after the %s faults cleared, %d allocations of the workload failed", f.name, nils)
		}
		live.freeEvery(t, 1)
		mustCheckHeap(t, "after the "+f.name+" faults")
		t.Logf("%s: the workload makes %d calls; failed each of the first %d in turn", f.name, made, min(made, 12))
	}
}

// faultWorkload allocates, reallocates and frees blocks of every kind,
// trims, and makes a new arena, keeping what it allocates in live. Each
// allocation may return nil (then it counts in *nils if nils is not nil);
// what it returns must be sound.
func faultWorkload(t *testing.T, live *blockSet, seed uint64, nils *int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 5))
	fail := func() {
		if nils != nil {
			*nils++
		}
	}
	if a, err := theHeap().NewArena(); err != nil {
		if !errors.Is(err, syscall.ENOMEM) && !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("NewArena: %v, want an error wrapping the errno", err)
		}
		fail()
	} else if p := a.Malloc(5000); p != 0 {
		live.add(unsafe.Add(nil, p), 5000)
	}
	// A mapped block grown by Realloc: mremap, every time.
	if p := Malloc(1 << 20); p == nil {
		fail()
	} else if q := Realloc(p, 2<<20); q == nil {
		fail()
		Free(p)
	} else {
		live.add(q, 2<<20)
	}
	sizes := []int{24, 200, 3000, 50 << 10, 200 << 10, 300 << 10, 1 << 20}
	for i := 0; i < 40; i++ {
		n := sizes[rng.IntN(len(sizes))] + rng.IntN(100)
		switch rng.IntN(4) {
		case 0:
			if p := Calloc(1, n); p == nil {
				fail()
			} else {
				if off := firstNonZeroByte(p, n); off >= 0 {
					t.Fatalf("Calloc(1, %d): byte %d is not zero", n, off)
				}
				live.add(p, n)
			}
		case 1:
			if len(live.blocks) > 0 {
				j := rng.IntN(len(live.blocks))
				b := live.blocks[j]
				if msg := b.bad(); msg != "" {
					t.Fatalf("before Realloc: %s", msg)
				}
				if q := Realloc(b.p, n); q == nil {
					fail()
					if msg := b.bad(); msg != "" {
						t.Fatalf("a failed Realloc changed the block: %s", msg)
					}
				} else {
					kept := hblock{p: q, n: min(n, b.n), id: b.id}
					if msg := kept.bad(); msg != "" {
						t.Fatalf("Realloc(%d -> %d) lost the contents: %s", b.n, n, msg)
					}
					live.blocks[j] = hblock{p: q, n: n, id: b.id}
					live.blocks[j].fill()
				}
				continue
			}
			fallthrough
		default:
			if !live.malloc(n) {
				fail()
			}
		}
		if i%20 == 19 {
			live.freeEvery(t, 2)
			Trim(0)
		}
	}
	// A free chunk with whole pages inside the heap, fenced off from the
	// top by a live block and too big for the per-P caches: Trim(0) must
	// release its pages with madvise, whatever the random steps did.
	if p := Malloc(100 << 10); p == nil {
		fail()
	} else {
		if !live.malloc(64) {
			fail()
		}
		Free(p)
		Trim(0)
	}
}

func firstNonZeroByte(p unsafe.Pointer, n int) int {
	for j, c := range unsafe.Slice((*byte)(p), n) {
		if c != 0 {
			return j
		}
	}
	return -1
}

// TestFaultMadvise: madvise refused with EINVAL. Trim and the heaps'
// decommit go on without it (the pages stay, nothing breaks); and
// mmapper.Free, the MADV_FREE call, switches to MADV_DONTNEED for good on
// EINVAL (its own tests check the switch in detail; here it happens in a
// process whose allocator keeps working through it).
func TestFaultMadvise(t *testing.T) {
	if runInChild(t, "OFFHEAP=trim_threshold=64k,top_pad=0,arena_max=2") {
		return
	}
	var live blockSet
	var gone []unsafe.Pointer
	for i := 0; i < 200; i++ {
		live.malloc(100 + i*53)
		gone = append(gone, Malloc(20<<10))
	}
	mmapper.FailAlways(mmapper.OpMadvise, syscall.EINVAL)
	defer mmapper.ClearFaults()
	before := mmapper.ReadCounters().Madvise
	noPanic(t, "freeing and trimming with madvise refused", func() {
		for _, p := range gone {
			Free(p)
		}
		Trim(0)
	})
	if mmapper.ReadCounters().Madvise.Errors == before.Errors {
		t.Fatal("no madvise was refused: the test did not exercise the fault")
	}
	live.verify(t, "with madvise refused")
	mustCheckHeap(t, "with madvise refused")

	// The sticky fallback of MADV_FREE, on a page of its own.
	page := mmapper.PageSize()
	addr, err := mmapper.Map(page)
	if err != nil {
		t.Fatal(err)
	}
	*(*byte)(unsafe.Add(nil, addr)) = 1
	mmapper.ClearFaults()
	mmapper.FailAfter(mmapper.OpMadvise, 1, syscall.EINVAL)
	if err := mmapper.Free(addr, page); err != nil {
		t.Fatalf("mmapper.Free with MADV_FREE refused: %v, want the MADV_DONTNEED fallback", err)
	}
	if !mmapper.FreeUsesDontNeed() || *(*byte)(unsafe.Add(nil, addr)) != 0 {
		t.Fatal("mmapper.Free did not fall back to MADV_DONTNEED")
	}
	mmapper.Unmap(addr, page)

	mmapper.ClearFaults()
	for i := 0; i < 100; i++ {
		if !live.malloc(20 << 10) {
			t.Fatal("Malloc failed after the fault cleared")
		}
	}
	if !Trim(0) {
		t.Log("Trim(0) released nothing after the fault cleared")
	}
	live.verify(t, "after the fault cleared")
	mustCheckHeap(t, "after the fault cleared")
	live.freeEvery(t, 1)
	mustCheckHeap(t, "at the end")
}
