package cgotest_test

import (
	"bufio"
	"flag"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/brk"
	"github.com/offheap/offheap/internal/cgotest"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the randomized tests (0: from the clock)")

func kernelBreak() uintptr {
	b, _, _ := syscall.RawSyscall(syscall.SYS_BRK, 0, 0, 0)
	return b
}

// startBrk returns where the kernel placed the program break at exec
// (field 47 of /proc/self/stat): the [heap] mapping always starts there.
func startBrk(t *testing.T) uintptr {
	t.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	// Fields after the command name (which may hold spaces) start at field 3.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	v, err := strconv.ParseUint(f[47-3], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return uintptr(v)
}

func heapLine(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasSuffix(sc.Text(), "[heap]") {
			return sc.Text()
		}
	}
	return ""
}

func patByte(id uint64, j uintptr) byte {
	return byte(id*0x9E3779B97F4A7C15>>56) + byte(j*7) + byte(j>>8)
}

func fill(p unsafe.Pointer, id uint64, from, to uintptr) {
	b := unsafe.Slice((*byte)(p), to)
	for j := from; j < to; j++ {
		b[j] = patByte(id, j)
	}
}

func intact(p unsafe.Pointer, id uint64, n uintptr) bool {
	b := unsafe.Slice((*byte)(p), n)
	for j := range b {
		if b[j] != patByte(id, uintptr(j)) {
			return false
		}
	}
	return true
}

// TestCgoCoexistence runs glibc's malloc on C threads (all on its main
// arena, so on the break) while goroutines allocate from offheap and call
// glibc's malloc through cgo, every block patterned and checked. Neither
// allocator may corrupt the other, and offheap must not have touched the
// real program break: in a binary with C code it uses a reserved range.
func TestCgoCoexistence(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if *seedFlag != 0 {
		seed = *seedFlag
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	cIters, goIters := 100_000, 40_000
	if raceEnabled {
		cIters, goIters = 30_000, 4_000
	}

	if k := brk.Default().Kind(); k != brk.Reserved {
		t.Fatalf("in a cgo binary offheap's break is %v, want the reserved stand-in", k)
	}
	start := startBrk(t)
	before := kernelBreak()
	if g := cgotest.GlibcBreak(); g != before {
		t.Fatalf("before the test glibc thinks the break is %#x, the kernel says %#x", g, before)
	}

	// Watch the break move while both allocators work.
	var maxBrk atomic.Uintptr
	maxBrk.Store(before)
	stopWatch := make(chan struct{})
	watched := make(chan int)
	go func() {
		moves, last := 0, before
		for {
			select {
			case <-stopWatch:
				watched <- moves
				return
			case <-time.After(200 * time.Microsecond):
			}
			b := kernelBreak()
			if b != last {
				moves++
				last = b
			}
			if b > maxBrk.Load() {
				maxBrk.Store(b)
			}
		}
	}()

	if err := cgotest.Start(4, cIters, uint32(seed)); err != nil {
		t.Fatal(err)
	}
	const workers = 4
	var wg sync.WaitGroup
	addrs := make([][]uintptr, workers) // every offheap block's address
	errs := make(chan string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			type blk struct {
				p    unsafe.Pointer
				n    uintptr
				id   uint64
				cMem bool
			}
			var slots [256]blk
			id := uint64(w) << 40
			for i := 0; i < goIters; i++ {
				k := rng.IntN(len(slots))
				b := &slots[k]
				if b.p != nil {
					if !intact(b.p, b.id, b.n) {
						errs <- "a block's pattern changed"
						return
					}
					if b.cMem {
						cgotest.Free(b.p)
					} else if rng.IntN(4) == 0 {
						n := uintptr(rng.IntN(8192) + 1)
						q := alloc.Realloc(b.p, int(n))
						if !intact(q, b.id, min(n, b.n)) {
							errs <- "realloc lost a block's contents"
							return
						}
						fill(q, b.id, min(n, b.n), n)
						b.p, b.n = q, n
						addrs[w] = append(addrs[w], uintptr(q))
						continue
					} else {
						alloc.Free(b.p)
					}
					b.p = nil
					continue
				}
				var n uintptr
				switch r := rng.IntN(100); {
				case r == 0:
					n = uintptr(128<<10 + rng.IntN(512<<10))
				case r < 5:
					n = uintptr(4096 + rng.IntN(60<<10))
				default:
					n = uintptr(rng.IntN(1024))
				}
				id++
				*b = blk{n: n, id: id, cMem: rng.IntN(5) == 0}
				if b.cMem {
					b.p = cgotest.Malloc(int(n))
				} else {
					b.p = alloc.Malloc(int(n))
					addrs[w] = append(addrs[w], uintptr(b.p))
				}
				if b.p == nil {
					errs <- "allocation failed"
					return
				}
				fill(b.p, b.id, 0, n)
			}
			for _, b := range slots {
				if b.p == nil {
					continue
				}
				if !intact(b.p, b.id, b.n) {
					errs <- "a block's pattern changed"
					return
				}
				if b.cMem {
					cgotest.Free(b.p)
				} else {
					alloc.Free(b.p)
				}
			}
		}()
	}
	wg.Wait()
	cErrs, cOps := cgotest.Wait()
	close(stopWatch)
	moves := <-watched
	close(errs)
	for e := range errs {
		t.Error("offheap side: " + e)
	}
	if cErrs != 0 {
		t.Errorf("glibc side: %d pattern mismatches or failed allocations in %d operations", cErrs, cOps)
	}
	if err := alloc.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}

	after := kernelBreak()
	t.Logf("C threads: %d operations; break %#x -> %#x (highest %#x, %d moves seen); start_brk %#x; %s",
		cOps, before, after, maxBrk.Load(), moves, start, heapLine(t))
	if g := cgotest.GlibcBreak(); g != after {
		t.Fatalf("glibc thinks the break is %#x, the kernel says %#x: someone else moved it", g, after)
	}
	base, end := brk.Default().Base(), brk.Default().Current()
	if base < maxBrk.Load() && end > start {
		t.Fatalf("offheap's break region [%#x, %#x) overlaps the program's heap [%#x, %#x)", base, end, start, maxBrk.Load())
	}
	n := 0
	for _, as := range addrs {
		for _, a := range as {
			if a >= start && a < maxBrk.Load() {
				t.Fatalf("offheap block %#x lies in the program break's heap [%#x, %#x)", a, start, maxBrk.Load())
			}
			n++
		}
	}
	t.Logf("%d offheap blocks, none on the program break", n)
}
