package alloc_test

// Acceptance points 3 and 4 of the core allocator: the dynamic mmap
// threshold, trimming by the trim threshold, and Trim(0). Each test runs in
// a fresh child process (runInChild), so that it sees the allocator with
// its defaults and an empty heap whatever else this binary has done.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/mmapper"
	"github.com/offheap/offheap/tune"
)

func infoString(m alloc.Mallinfo) string {
	return fmt.Sprintf("arena %d, ordblks %d, hblks %d, hblkhd %d, uordblks %d, fordblks %d, keepcost %d",
		m.Arena, m.Ordblks, m.Hblks, m.Hblkhd, m.Uordblks, m.Fordblks, m.Keepcost)
}

// step logs Mallinfo2 after one step of an acceptance test and returns it.
func step(t *testing.T, what string) alloc.Mallinfo {
	t.Helper()
	m := alloc.Mallinfo2()
	t.Logf("%-40s %s", what+":", infoString(m))
	return m
}

// TestAcceptDynamicThreshold: a 200 KiB request is mapped by default;
// freeing it raises the threshold, so the next 200 KiB request comes from
// the heap. Rejected Mallopt calls before all this change nothing (the
// dynamic threshold stays on).
func TestAcceptDynamicThreshold(t *testing.T) {
	if runInChild(t) {
		return
	}
	for _, bad := range []paramValue{{tune.MmapThreshold, -1}, {tune.TrimThreshold, -5}, {tune.TopPad, -1}, {tune.MmapMax, -1}} {
		if err := alloc.Mallopt(bad.p, bad.v); err == nil {
			t.Fatalf("Mallopt(%v, %d) accepted", bad.p, bad.v)
		}
	}
	if p := alloc.Params(); !p.DynamicThreshold || p.MmapThreshold != 128<<10 || p.TrimThreshold != 128<<10 {
		t.Fatalf("rejected Mallopt calls changed the parameters: %+v", p)
	}
	const n = 200 << 10
	m0 := step(t, "start")

	p := alloc.Malloc(n)
	fillPattern(uintptr(p), 1, 0, n)
	m1 := step(t, "malloc(200 KiB)")
	if m1.Hblks != m0.Hblks+1 || m1.Hblkhd-m0.Hblkhd < n || m1.Arena != m0.Arena {
		t.Fatalf("the first 200 KiB request was not mapped (before: %s)", infoString(m0))
	}

	if msg := checkPattern(uintptr(p), 1, 0, n); msg != "" {
		t.Fatal(msg)
	}
	alloc.Free(p)
	m2 := step(t, "free")
	if m2.Hblks != m0.Hblks || m2.Hblkhd != m0.Hblkhd {
		t.Fatalf("the mapped chunk was not unmapped")
	}
	if pr := alloc.Params(); pr.MmapThreshold < n || pr.TrimThreshold != 2*pr.MmapThreshold || !pr.DynamicThreshold {
		t.Fatalf("the threshold did not rise to the freed chunk's size: %+v", pr)
	}

	q := alloc.Malloc(n)
	fillPattern(uintptr(q), 2, 0, n)
	m3 := step(t, "malloc(200 KiB) again")
	if m3.Hblks != m2.Hblks || m3.Hblkhd != m2.Hblkhd {
		t.Fatalf("the second 200 KiB request was mapped too")
	}
	if m3.Arena-m2.Arena < n || m3.Uordblks-m2.Uordblks < n {
		t.Fatalf("the second 200 KiB request did not come from the heap")
	}
	if base, end := alloc.BreakRange(); uintptr(q) < base || uintptr(q)+n > end {
		t.Fatalf("block %p is outside the break region [%#x, %#x)", q, base, end)
	}
	if msg := checkPattern(uintptr(q), 2, 0, n); msg != "" {
		t.Fatal(msg)
	}
	alloc.Free(q)
	mustCheck(t, "at the end")
}

// TestAcceptExplicitThreshold: with M_MMAP_THRESHOLD set, freeing a mapped
// chunk leaves the threshold where it is, and every 200 KiB request is
// mapped.
func TestAcceptExplicitThreshold(t *testing.T) {
	if runInChild(t) {
		return
	}
	if err := alloc.Mallopt(tune.MmapThreshold, 128<<10); err != nil {
		t.Fatal(err)
	}
	const n = 200 << 10
	m0 := step(t, "M_MMAP_THRESHOLD = 128 KiB")
	for i := range 3 {
		p := alloc.Malloc(n)
		fillPattern(uintptr(p), uint64(i), 0, n)
		m1 := step(t, "malloc(200 KiB)")
		if m1.Hblks != m0.Hblks+1 || m1.Hblkhd-m0.Hblkhd < n || m1.Arena != m0.Arena {
			t.Fatalf("request %d was not mapped (before: %s)", i, infoString(m0))
		}
		if msg := checkPattern(uintptr(p), uint64(i), 0, n); msg != "" {
			t.Fatal(msg)
		}
		alloc.Free(p)
		m2 := step(t, "free")
		if m2.Hblks != m0.Hblks || m2.Hblkhd != m0.Hblkhd {
			t.Fatalf("the mapped chunk was not unmapped")
		}
		if pr := alloc.Params(); pr.MmapThreshold != 128<<10 || pr.DynamicThreshold {
			t.Fatalf("the explicit threshold moved: %+v", pr)
		}
	}
	mustCheck(t, "at the end")
}

// rss returns the process's resident set size in bytes.
func rss(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return pages * os.Getpagesize()
}

// fill64MiB allocates 64 MiB of heap blocks (below the mmap threshold)
// of sizes from minSize up, each filled with its pattern so that its pages
// are resident.
func fill64MiB(t *testing.T, rng *rand.Rand, minSize int) []block {
	t.Helper()
	var blocks []block
	total := 0
	for total < 64<<20 {
		var n int
		switch r := rng.IntN(10); {
		case r < 6:
			n = 1 + rng.IntN(1024)
		case r < 9:
			n = 1024 + rng.IntN(31<<10)
		default:
			n = 32<<10 + rng.IntN(95<<10) // chunks below 128 KiB
		}
		n = max(n, minSize)
		p := alloc.Malloc(n)
		if p == nil {
			t.Fatalf("malloc(%d) failed", n)
		}
		b := block{p: uintptr(p), n: uintptr(n), id: uint64(len(blocks) + 1)}
		fillPattern(b.p, b.id, 0, b.n)
		blocks = append(blocks, b)
		total += alloc.UsableSize(p)
	}
	return blocks
}

func freeAll(t *testing.T, rng *rand.Rand, blocks []block) {
	t.Helper()
	rng.Shuffle(len(blocks), func(i, j int) { blocks[i], blocks[j] = blocks[j], blocks[i] })
	for _, b := range blocks {
		if msg := checkPattern(b.p, b.id, 0, b.n); msg != "" {
			t.Fatalf("block %d: %s", b.id, msg)
		}
		alloc.Free(b.ptr())
	}
}

// TestAcceptTrimDefault: freeing 64 MiB of heap blocks (in random order)
// with the default trim threshold gives the memory back: Arena ends under
// 1 MiB above where it started.
//
// Chunks held in the per-P caches count as in use for their arena (as
// glibc's tcache chunks do), so a few of them near the end of the heap pin
// the top until the idle flusher returns an idle P's cache to the arenas
// (within two idle periods). The test waits for that, up to a generous
// bound, and logs how far the heap had shrunk right after the frees.
func TestAcceptTrimDefault(t *testing.T) {
	if runInChild(t) {
		return
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 4))
	m0 := step(t, "start")
	blocks := fill64MiB(t, rng, 1025)
	m1 := step(t, fmt.Sprintf("%d blocks, 64 MiB", len(blocks)))
	if m1.Arena-m0.Arena < 64<<20 || m1.Hblks != m0.Hblks {
		t.Fatalf("the blocks did not come from the heap")
	}
	freeAll(t, rng, blocks)
	m2 := step(t, "all freed")
	if m2.Arena-m0.Arena >= 1<<20 {
		t.Logf("right after the frees the heap is %d KiB above its start, with %d KiB in the per-P caches",
			(m2.Arena-m0.Arena)>>10, m2.Uordblks>>10)
		start := time.Now()
		for m2.Arena-m0.Arena >= 1<<20 && time.Since(start) < 30*time.Second {
			time.Sleep(50 * time.Millisecond)
			m2 = alloc.Mallinfo2()
		}
		m2 = step(t, fmt.Sprintf("after %v idle", time.Since(start).Round(time.Millisecond)))
	}
	if m2.Arena-m0.Arena >= 1<<20 {
		t.Fatalf("Arena is %d bytes above its start after everything was freed, want < 1 MiB", m2.Arena-m0.Arena)
	}
	mustCheck(t, "at the end")
}

// TestAcceptTrimExplicit: with a huge trim threshold the freed 64 MiB stay
// in the heap until Trim(0), which returns true, shrinks Arena and lowers
// the process's RSS by at least 60 MiB.
func TestAcceptTrimExplicit(t *testing.T) {
	if runInChild(t) {
		return
	}
	if err := alloc.Mallopt(tune.TrimThreshold, 1<<40); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 5))
	m0 := step(t, "M_TRIM_THRESHOLD = 1 TiB")
	blocks := fill64MiB(t, rng, 0)
	step(t, fmt.Sprintf("%d blocks, 64 MiB", len(blocks)))
	freeAll(t, rng, blocks)
	m2 := step(t, "all freed")
	if m2.Arena-m0.Arena < 64<<20 {
		t.Fatalf("the heap shrank to %d bytes above its start despite the huge trim threshold", m2.Arena-m0.Arena)
	}
	rss0 := rss(t)
	if !alloc.Trim(0) {
		t.Fatalf("Trim(0) returned false")
	}
	rss1 := rss(t)
	m3 := step(t, "Trim(0)")
	t.Logf("RSS %d -> %d KiB", rss0>>10, rss1>>10)
	if m3.Arena-m0.Arena >= 1<<20 {
		t.Fatalf("Arena is %d bytes above its start after Trim(0)", m3.Arena-m0.Arena)
	}
	if rss0-rss1 < 60<<20 {
		t.Fatalf("RSS fell by %d KiB, want at least 60 MiB", (rss0-rss1)>>10)
	}
	mustCheck(t, "at the end")
}

// TestAcceptTrimMiddle: free pages in the middle of the heap go back to the
// OS with Trim(0) even when the top cannot shrink (a live block sits
// after them): RSS falls by at least 60 MiB, the live block keeps its
// contents, and the released memory is usable again.
func TestAcceptTrimMiddle(t *testing.T) {
	if runInChild(t) {
		return
	}
	// One P: every block comes from the main arena (P i refills from arena
	// i), so the guard allocated last ends the heap that holds them all.
	runtime.GOMAXPROCS(1)
	rng := rand.New(rand.NewPCG(testSeed(t), 6))
	m0 := step(t, "start")
	blocks := fill64MiB(t, rng, 0)
	// The guard is larger than any cached class: it is carved from the top.
	const guardSize = 100 << 10
	guard := alloc.Malloc(guardSize)
	fillPattern(uintptr(guard), 999999, 0, guardSize)
	lo, hi := blocks[0].p, blocks[0].p
	for _, b := range blocks {
		lo, hi = min(lo, b.p), max(hi, b.p+b.n)
	}
	if uintptr(guard) < hi {
		t.Fatalf("the guard block %p is not after the 64 MiB of blocks (which end at %#x)", guard, hi)
	}
	step(t, fmt.Sprintf("%d blocks and a guard", len(blocks)))
	freeAll(t, rng, blocks)
	m2 := step(t, "blocks freed, guard live")
	if m2.Arena-m0.Arena < 64<<20 {
		t.Fatalf("the heap shrank although a live block follows the freed ones")
	}
	resident := func() uintptr {
		pg := mmapper.PageSize()
		start := (lo + pg - 1) &^ (pg - 1)
		n, err := mmapper.Resident(start, (hi&^(pg-1))-start)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	rss0, res0 := rss(t), resident()
	if !alloc.Trim(0) {
		t.Fatalf("Trim(0) returned false")
	}
	rss1, res1 := rss(t), resident()
	m3 := step(t, "Trim(0)")
	t.Logf("RSS %d -> %d KiB; resident in the freed range %d -> %d KiB", rss0>>10, rss1>>10, res0>>10, res1>>10)
	if rss0-rss1 < 60<<20 {
		t.Fatalf("RSS fell by %d KiB, want at least 60 MiB", (rss0-rss1)>>10)
	}
	if res1 > 4<<20 {
		t.Fatalf("%d KiB of the freed range are still resident", res1>>10)
	}
	if m3.Arena-m0.Arena < 64<<20 {
		t.Fatalf("Arena shrank past a live block")
	}
	if msg := checkPattern(uintptr(guard), 999999, 0, guardSize); msg != "" {
		t.Fatalf("the guard block changed: %s", msg)
	}
	mustCheck(t, "after Trim(0)")
	// The released pages are usable again.
	again := fill64MiB(t, rng, 0)
	slices.SortFunc(again, func(a, b block) int { return int(a.p) - int(b.p) })
	for _, b := range again {
		if msg := checkPattern(b.p, b.id, 0, b.n); msg != "" {
			t.Fatalf("block %d: %s", b.id, msg)
		}
	}
	freeAll(t, rng, again)
	alloc.Free(guard)
	mustCheck(t, "at the end")
}
