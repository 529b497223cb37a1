package alloc_test

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/brk"
)

// kernelBreak asks the kernel for the program break (brk(0) fails and
// returns the current break).
func kernelBreak() uintptr {
	b, _, _ := syscall.RawSyscall(syscall.SYS_BRK, 0, 0, 0)
	return b
}

// heapMapping returns the [heap] line of /proc/self/maps, if any.
func heapMapping(t *testing.T) (start, end uintptr, ok bool) {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasSuffix(line, "[heap]") {
			continue
		}
		lo, hi, _ := strings.Cut(strings.Fields(line)[0], "-")
		s, err1 := strconv.ParseUint(lo, 16, 64)
		e, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad maps line %q", line)
		}
		return uintptr(s), uintptr(e), true
	}
	return 0, 0, false
}

// TestBrkPureGo: in this test binary no C code shares the process
// (runtime.iscgo is false), so the main arena's heap is the real program
// break: after a few MiB of small blocks the kernel's break has moved by
// as much, and the [heap] mapping covers every block.
func TestBrkPureGo(t *testing.T) {
	if alloc.RaceEnabled {
		t.Skip("the race detector links libc, so the break is the reserved stand-in (see internal/cgotest)")
	}
	if runInChild(t) {
		return
	}
	runtime.GOMAXPROCS(1) // one P, one arena: the main one, on the break
	before := kernelBreak()
	_, _, hadHeap := heapMapping(t)
	t.Logf("break %#x before the first allocation ([heap] mapping: %v)", before, hadHeap)
	if k := alloc.BreakKind(); k != brk.Real {
		t.Fatalf("the main arena's break is %v, want the real one", k)
	}

	const total = 4 << 20
	var blocks []block
	sum := 0
	for i := 0; sum < total; i++ {
		n := 16 + i%1000
		p := alloc.Malloc(n)
		b := block{p: uintptr(p), n: uintptr(n), id: uint64(i + 1)}
		fillPattern(b.p, b.id, 0, b.n)
		blocks = append(blocks, b)
		sum += n
	}
	after := kernelBreak()
	start, end, ok := heapMapping(t)
	t.Logf("break %#x after %d blocks (%d bytes); [heap] %#x-%#x", after, len(blocks), sum, start, end)
	if after < before+total {
		t.Fatalf("the kernel's break moved from %#x to %#x, less than the %d bytes allocated", before, after, total)
	}
	if base, cur := alloc.BreakRange(); cur != after || base < before || base > before+4096 {
		t.Fatalf("offheap's break region [%#x, %#x) does not match the kernel's break %#x (was %#x)", base, cur, after, before)
	}
	if !ok {
		t.Fatalf("no [heap] line in /proc/self/maps")
	}
	if end != after {
		t.Fatalf("[heap] ends at %#x, the break is %#x", end, after)
	}
	for _, b := range blocks {
		if b.p < start || b.p+b.n > end {
			t.Fatalf("block %d at %#x is outside [heap] %#x-%#x", b.id, b.p, start, end)
		}
		if msg := checkPattern(b.p, b.id, 0, b.n); msg != "" {
			t.Fatalf("block %d: %s", b.id, msg)
		}
		alloc.Free(b.ptr())
	}
	mustCheck(t, "at the end")
	// Trimming lowers the kernel's break again.
	alloc.Trim(0)
	if b := kernelBreak(); b >= after {
		t.Fatalf("Trim(0) left the break at %#x (was %#x with the blocks)", b, after)
	}
}
