package alloc

// Real limits, each in a child process: RLIMIT_DATA and RLIMIT_AS set low
// with setrlimit in the child before it allocates, and the break blocked by
// a mapping right above it. The allocator must return nil when the kernel
// refuses, crash nothing, keep every live block, and go on once memory is
// freed.

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/offheap/offheap/brk"
)

// procStatus returns a "kB" field of /proc/self/status in bytes.
func procStatus(t *testing.T, field string) uintptr {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if ok && name == field {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", field, err)
			}
			return uintptr(kb) << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestRlimitData sets RLIMIT_DATA 96 MiB above what the process uses (it
// counts the break and every private writable mapping, the Go heap's
// included), allocates blocks of several sizes until each size fails, and
// checks that everything survived; then it frees half and allocates again.
// Not under the race detector, whose own allocations die at the limit.
func TestRlimitData(t *testing.T) {
	if RaceEnabled {
		t.Skip("the race detector's runtime allocates as the program runs, and dies at the limit")
	}
	if runInChild(t) {
		return
	}
	underLimit(t, unix.RLIMIT_DATA, "VmData", 96<<20)
}

// TestRlimitAS is TestRlimitData with RLIMIT_AS, the whole address space
// (reservations included: a new heap reserves 64 MiB, briefly twice that to
// align it), 256 MiB above what the process has. Not under the race
// detector, whose shadow memory grows with the heap.
func TestRlimitAS(t *testing.T) {
	if RaceEnabled {
		t.Skip("the race detector maps shadow memory as the program runs")
	}
	if runInChild(t) {
		return
	}
	underLimit(t, unix.RLIMIT_AS, "VmSize", 256<<20)
}

func underLimit(t *testing.T, resource int, field string, room uintptr) {
	theHeap()
	live := blockSet{blocks: make([]hblock, 0, 1<<17)}
	// Warm the Go heap, so that the runtime need not ask the kernel for more
	// while the limit is reached (it would die of it), and keep the
	// collector and every other Go allocation out of the limited phase:
	// only offheap's calls and reads of its memory happen there.
	warm := make([]byte, 48<<20)
	for i := 0; i < len(warm); i += 4096 {
		warm[i] = 1
	}
	warm = nil
	_ = warm
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	sizes := []int{4 << 20, 1 << 20, 300 << 10, 60 << 10, 5000, 100}
	var counts [6]int
	var again int
	var failedTwice, realloced, calloced, aligned bool
	var bad string

	var old unix.Rlimit
	if err := unix.Getrlimit(resource, &old); err != nil {
		t.Fatal(err)
	}
	limit := uint64(procStatus(t, field) + room)
	if old.Cur != unix.RLIM_INFINITY && old.Cur < limit {
		t.Skipf("the limit is already %d, below %d", old.Cur, limit)
	}
	if err := unix.Setrlimit(resource, &unix.Rlimit{Cur: limit, Max: old.Max}); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	// The limited phase: allocate until nil, the large sizes first, then
	// smaller ones into what is left; more requests that must fail; check
	// every block; free half; allocate again.
	for i, n := range sizes {
		for len(live.blocks) < cap(live.blocks) && live.malloc(n) {
			counts[i]++
		}
		failedTwice = failedTwice || Malloc(n) == nil
	}
	if len(live.blocks) == 0 {
		unix.Setrlimit(resource, &old)
		t.Fatal("nothing at all could be allocated under the limit")
	}
	last := live.blocks[len(live.blocks)-1]
	calloced = Calloc(1, 8<<20) != nil
	realloced = Realloc(last.p, 8<<20) != nil
	aligned = AlignedAlloc(1<<16, 8<<20) != nil
	if msg := last.bad(); msg != "" && !realloced {
		bad = "a failed Realloc changed the block: " + msg
	}
	for _, b := range live.blocks {
		if bad != "" {
			break
		}
		bad = b.bad()
	}
	if bad == "" {
		live.freeEvery(t, 2)
		for _, n := range []int{1 << 20, 60 << 10, 5000} {
			for i := 0; i < 20 && live.malloc(n); i++ {
				again++
			}
		}
	}
	if err := unix.Setrlimit(resource, &old); err != nil {
		t.Fatalf("setrlimit back: %v", err)
	}

	t.Logf("under a %s limit %d MiB above the start, blocks of %v bytes allocated before nil: %v; %d allocated again after freeing half",
		field, room>>20, sizes, counts, again)
	switch {
	case bad != "":
		t.Fatalf("at the limit: %s", bad)
	case counts[0] == 0:
		t.Fatal("not even one 4 MiB block under the limit")
	case len(live.blocks) == cap(live.blocks):
		t.Fatalf("%d blocks allocated under a limit of %d MiB", len(live.blocks), limit>>20)
	case !failedTwice:
		t.Fatal("an allocation succeeded right after the same size failed")
	case calloced || realloced || aligned:
		t.Fatalf("at the limit, Calloc/Realloc/AlignedAlloc of 8 MiB succeeded: %v %v %v", calloced, realloced, aligned)
	case again < 30:
		t.Fatalf("only %d blocks allocated again after half were freed", again)
	}
	live.verify(t, "after allocating again")
	mustCheckHeap(t, "after the limit")
	live.freeEvery(t, 1)
	mustCheckHeap(t, "at the end")
}

// TestBreakBlocked maps a page right above the program break before the
// heap grows (MAP_FIXED_NOREPLACE), so that the break can rise 1 MiB and no
// further: the main arena then goes on in heaps, every allocation
// succeeds, and the page that blocks the break is left alone.
func TestBreakBlocked(t *testing.T) {
	if RaceEnabled {
		t.Skip("under the race detector the break is a reserved range, not the kernel's")
	}
	if runInChild(t, "OFFHEAP=arena_max=1,mmap_threshold=1m") {
		return
	}
	theHeap()
	if brkUsed.Kind() != brk.Real {
		t.Skipf("the break is %v, not the kernel's", brkUsed.Kind())
	}
	page := uintptr(os.Getpagesize())
	at := brkUsed.Current() + 1<<20
	p, err := unix.MmapPtr(-1, 0, unsafe.Add(nil, at), page, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE)
	if err != nil {
		t.Skipf("cannot map a page at %#x above the break: %v", at, err)
	}
	if uintptr(p) != at {
		unix.MunmapPtr(p, page)
		t.Skipf("the kernel put the page at %p, not at %#x (no MAP_FIXED_NOREPLACE)", p, at)
	}
	defer unix.MunmapPtr(p, page)
	blocker := hblock{p: p, n: int(page), id: 99}
	blocker.fill()

	var live blockSet
	total := 0
	for i := 0; total < 16<<20; i++ {
		n := 1000 + i*7919%(100<<10)
		if !live.malloc(n) {
			t.Fatalf("Malloc(%d) failed after %d bytes with the break blocked", n, total)
		}
		total += n
	}
	if cur := brkUsed.Current(); cur > at {
		t.Fatalf("the break rose to %#x, over the page at %#x", cur, at)
	}
	if regions := theHeap().Arena(0).Info(false).Regions; regions < 2 {
		t.Fatalf("arena 0 has %d regions: it never left the blocked break", regions)
	}
	if msg := blocker.bad(); msg != "" {
		t.Fatalf("the page above the break changed: %s", msg)
	}
	t.Logf("%d MiB allocated; the break stopped at %#x, %d KiB below the page at %#x",
		total>>20, brkUsed.Current(), (at-brkUsed.Current())>>10, at)
	live.verify(t, "with the break blocked")
	mustCheckHeap(t, "with the break blocked")
	live.freeEvery(t, 2)
	for i := 0; i < 100; i++ {
		if !live.malloc(3000) {
			t.Fatal("Malloc failed after freeing half")
		}
	}
	live.freeEvery(t, 1)
	mustCheckHeap(t, "at the end")
	if msg := blocker.bad(); msg != "" {
		t.Fatalf("the page above the break changed: %s", msg)
	}
}
