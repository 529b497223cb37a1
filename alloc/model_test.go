package alloc_test

// The randomized model test: a long mixed sequence of Malloc, Calloc,
// Realloc, AlignedAlloc and Free with every block filled with a pattern
// derived from its id, checked before it is freed and after every realloc,
// under several settings of the thresholds; the same with several heaps at
// once (private heaps created and destroyed, blocks freed through their
// heap or through alloc.Free); the replay of real programs' allocation
// traces; and the concurrent variants (8 goroutines freeing each other's
// blocks, GOMAXPROCS changing under the allocator).
//
// Mallopt changes the process-wide allocator, and setting the mmap or trim
// threshold, the top pad or the mmap max turns glibc's dynamic threshold
// off for good. The cases that need the default, dynamic behaviour
// therefore run in a child process (runInChild), and the in-process cases
// set every parameter they depend on and restore defaults-equivalent
// values afterwards (restoreDefaults), with the dynamic threshold off.

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/tune"
)

var (
	seedFlag = flag.Uint64("seed", 0, "seed for the randomized tests (0: from the clock)")
	longFlag = flag.Bool("long", false, "run the randomized tests longer (also OFFHEAP_LONG=1)")
)

// long reports whether the long variants were asked for.
func long() bool { return *longFlag || os.Getenv("OFFHEAP_LONG") == "1" }

// testSeed returns the seed of a randomized test and logs it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if *seedFlag != 0 {
		seed = *seedFlag
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	return seed
}

// ---- patterns ----

// patWord is word i (bytes 8i..8i+7, little endian) of block id's pattern.
func patWord(id uint64, i uintptr) uint64 {
	return id*0x9E3779B97F4A7C15 ^ (uint64(i)*0xBF58476D1CE4E5B9 + 0x94D049BB133111EB)
}

func patByte(id uint64, j uintptr) byte { return byte(patWord(id, j/8) >> (8 * (j % 8))) }

func bytesAt(p uintptr, n uintptr) []byte { return unsafe.Slice((*byte)(unsafe.Add(nil, p)), n) }

// fillPattern writes bytes [from, to) of block id at address p.
func fillPattern(p uintptr, id uint64, from, to uintptr) {
	for ; from < to && from%8 != 0; from++ {
		*(*byte)(unsafe.Add(nil, p+from)) = patByte(id, from)
	}
	if nw := (to - from) / 8; nw > 0 {
		w := unsafe.Slice((*uint64)(unsafe.Add(nil, p+from)), nw)
		// patWord(id, k) incrementally: one add per word.
		a, v := id*0x9E3779B97F4A7C15, uint64(from/8)*0xBF58476D1CE4E5B9+0x94D049BB133111EB
		for i := range w {
			w[i] = a ^ v
			v += 0xBF58476D1CE4E5B9
		}
		from += nw * 8
	}
	for ; from < to; from++ {
		*(*byte)(unsafe.Add(nil, p+from)) = patByte(id, from)
	}
}

// checkPattern verifies bytes [from, to) of block id at p and describes the
// first wrong byte, or returns "".
func checkPattern(p uintptr, id uint64, from, to uintptr) string {
	start := from
	bad := func(j uintptr) string {
		return fmt.Sprintf("byte %d of [%d, %d) is %#x, want %#x", j, start, to,
			*(*byte)(unsafe.Add(nil, p+j)), patByte(id, j))
	}
	for ; from < to && from%8 != 0; from++ {
		if *(*byte)(unsafe.Add(nil, p+from)) != patByte(id, from) {
			return bad(from)
		}
	}
	if nw := (to - from) / 8; nw > 0 {
		w := unsafe.Slice((*uint64)(unsafe.Add(nil, p+from)), nw)
		a, v := id*0x9E3779B97F4A7C15, uint64(from/8)*0xBF58476D1CE4E5B9+0x94D049BB133111EB
		for i := range w {
			if w[i] != a^v {
				for j := from + uintptr(i)*8; ; j++ {
					if *(*byte)(unsafe.Add(nil, p+j)) != patByte(id, j) {
						return bad(j)
					}
				}
			}
			v += 0xBF58476D1CE4E5B9
		}
		from += nw * 8
	}
	for ; from < to; from++ {
		if *(*byte)(unsafe.Add(nil, p+from)) != patByte(id, from) {
			return bad(from)
		}
	}
	return ""
}

// firstNonZero returns the index of the first non-zero byte of [p, p+n), or -1.
func firstNonZero(p, n uintptr) int {
	i := uintptr(0)
	for ; i < n && (p+i)%8 != 0; i++ {
		if *(*byte)(unsafe.Add(nil, p+i)) != 0 {
			return int(i)
		}
	}
	if nw := (n - i) / 8; nw > 0 {
		for k, v := range unsafe.Slice((*uint64)(unsafe.Add(nil, p+i)), nw) {
			if v != 0 {
				j := i + uintptr(k)*8
				for *(*byte)(unsafe.Add(nil, p+j)) == 0 {
					j++
				}
				return int(j)
			}
		}
		i += nw * 8
	}
	for ; i < n; i++ {
		if *(*byte)(unsafe.Add(nil, p+i)) != 0 {
			return int(i)
		}
	}
	return -1
}

// block is a live allocation of the model: address (kept as a uintptr, so
// that the garbage collector never sees a pointer to memory it does not
// own), the bytes that hold its pattern, and its id.
type block struct {
	p  uintptr
	n  uintptr
	id uint64
}

func (b block) ptr() unsafe.Pointer { return unsafe.Add(nil, b.p) }

// ---- sizes ----

// sizeLimits bound the size distribution.
type sizeLimits struct {
	max int // largest request
}

// randSize draws a request size from 0 to lim.max with a realistic skew:
// most requests small, a few per thousand above the mmap threshold.
func randSize(rng *rand.Rand, lim sizeLimits) int {
	r := rng.IntN(10000)
	var n int
	switch {
	case r < 6000:
		n = rng.IntN(129)
	case r < 8500:
		n = 129 + rng.IntN(1024-128)
	case r < 9500:
		n = 1025 + rng.IntN(15<<10)
	case r < 9900:
		n = 16<<10 + rng.IntN(112<<10)
	case r < 9985:
		n = 128<<10 + rng.IntN(896<<10)
	default:
		n = 1<<20 + rng.IntN(3<<20+1)
	}
	return min(n, lim.max)
}

// randAlign draws an alignment: mostly 32 to 4096, sometimes up to 1 MiB,
// sometimes 1 to 16 (served by Malloc).
func randAlign(rng *rand.Rand) int {
	switch r := rng.IntN(100); {
	case r < 10:
		return 1 << rng.IntN(5)
	case r < 95:
		return 1 << (5 + rng.IntN(8))
	default:
		return 1 << (13 + rng.IntN(8))
	}
}

// ---- the checker shared by all variants ----

// tester performs operations on the real allocator and checks every result.
// It is used by one goroutine at a time.
type tester struct {
	t    testing.TB
	rng  *rand.Rand
	lim  sizeLimits
	ids  func() uint64
	ctx  string // prefix of failure messages (seed, phase)
	ops  [nOpKinds]int
	fail func(format string, args ...any)
}

const (
	opMalloc = iota
	opCalloc
	opRealloc
	opAligned
	opFree
	nOpKinds
)

var opNames = [nOpKinds]string{"malloc", "calloc", "realloc", "aligned_alloc", "free"}

func newTester(t testing.TB, rng *rand.Rand, lim sizeLimits, ids func() uint64, ctx string) *tester {
	tt := &tester{t: t, rng: rng, lim: lim, ids: ids, ctx: ctx}
	tt.fail = func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: %s", tt.ctx, fmt.Sprintf(format, args...))
	}
	return tt
}

// adopt checks a fresh block of n requested bytes at p and fills its
// pattern: over n bytes, or (one time in four) over all its usable bytes,
// which the caller may use as well.
func (tt *tester) adopt(p unsafe.Pointer, n, alignment int, what string) block {
	if p == nil {
		tt.fail("%s(%d) returned nil", what, n)
	}
	a := uintptr(p)
	if a%16 != 0 || (alignment > 16 && a%uintptr(alignment) != 0) {
		tt.fail("%s(%d) = %#x: not aligned to %d", what, n, a, max(16, alignment))
	}
	u := alloc.UsableSize(p)
	if u < n {
		tt.fail("%s(%d) = %#x: UsableSize %d < %d", what, n, a, u, n)
	}
	b := block{p: a, n: uintptr(n), id: tt.ids()}
	if tt.rng.IntN(4) == 0 {
		b.n = uintptr(u)
	}
	fillPattern(b.p, b.id, 0, b.n)
	return b
}

func (tt *tester) verify(b block, when string) {
	if msg := checkPattern(b.p, b.id, 0, b.n); msg != "" {
		tt.fail("block %d at %#x (%d bytes) %s: %s", b.id, b.p, b.n, when, msg)
	}
}

func (tt *tester) malloc() block {
	tt.ops[opMalloc]++
	n := randSize(tt.rng, tt.lim)
	if tt.rng.IntN(64) == 0 {
		return tt.adopt(alloc.Realloc(nil, n), n, 0, "realloc(nil)")
	}
	return tt.adopt(alloc.Malloc(n), n, 0, "malloc")
}

func (tt *tester) calloc() block {
	tt.ops[opCalloc]++
	total := randSize(tt.rng, tt.lim)
	k := 1
	if tt.rng.IntN(3) == 0 {
		k = 1 + tt.rng.IntN(16)
	}
	size := total / k
	p := alloc.Calloc(k, size)
	if p == nil {
		tt.fail("calloc(%d, %d) returned nil", k, size)
	}
	if i := firstNonZero(uintptr(p), uintptr(k*size)); i >= 0 {
		tt.fail("calloc(%d, %d) = %#x: byte %d is %#x, not zero", k, size, uintptr(p), i,
			*(*byte)(unsafe.Add(p, i)))
	}
	return tt.adopt(p, k*size, 0, "calloc")
}

func (tt *tester) aligned() block {
	tt.ops[opAligned]++
	al := randAlign(tt.rng)
	n := randSize(tt.rng, tt.lim)
	return tt.adopt(alloc.AlignedAlloc(al, n), n, al, fmt.Sprintf("aligned_alloc(%d)", al))
}

// free verifies and frees b.
func (tt *tester) free(b block) {
	tt.ops[opFree]++
	tt.verify(b, "before free")
	if tt.rng.IntN(32) == 0 {
		if q := alloc.Realloc(b.ptr(), 0); q != nil {
			tt.fail("realloc(%#x, 0) = %#x, want nil", b.p, uintptr(q))
		}
		return
	}
	alloc.Free(b.ptr())
}

// realloc verifies b, resizes it and checks that the contents survived;
// it returns the new block and false when the block was freed (size 0).
func (tt *tester) realloc(b block) (block, bool) {
	tt.ops[opRealloc]++
	tt.verify(b, "before realloc")
	n := tt.reallocSize(b)
	if n == 0 {
		if q := alloc.Realloc(b.ptr(), 0); q != nil {
			tt.fail("realloc(%#x, 0) = %#x, want nil", b.p, uintptr(q))
		}
		return block{}, false
	}
	q := alloc.Realloc(b.ptr(), n)
	if q == nil {
		tt.fail("realloc(%#x, %d) returned nil", b.p, n)
	}
	a := uintptr(q)
	if a%16 != 0 {
		tt.fail("realloc(%#x, %d) = %#x: not 16-aligned", b.p, n, a)
	}
	if u := alloc.UsableSize(q); u < n {
		tt.fail("realloc(%#x, %d) = %#x: UsableSize %d < %d", b.p, n, a, u, n)
	}
	keep := min(b.n, uintptr(n))
	if msg := checkPattern(a, b.id, 0, keep); msg != "" {
		tt.fail("block %d: realloc %#x (%d bytes) -> %#x (%d bytes) lost its contents: %s", b.id, b.p, b.n, a, n, msg)
	}
	fillPattern(a, b.id, keep, uintptr(n))
	return block{p: a, n: uintptr(n), id: b.id}, true
}

// reallocSize draws the new size of block b: a little larger (often
// grown in place), smaller, or anything.
func (tt *tester) reallocSize(b block) int {
	var n int
	switch r := tt.rng.IntN(10); {
	case r < 4: // grow a little: often in place
		n = int(b.n) + tt.rng.IntN(int(b.n)/2+64)
	case r < 7: // shrink
		n = tt.rng.IntN(int(b.n) + 1)
	default:
		n = randSize(tt.rng, tt.lim)
	}
	return min(n, tt.lim.max)
}

// alloc makes a new block by one of the allocating calls.
func (tt *tester) alloc() block {
	switch r := tt.rng.IntN(100); {
	case r < 70:
		return tt.malloc()
	case r < 88:
		return tt.calloc()
	default:
		return tt.aligned()
	}
}

func (tt *tester) summary() string {
	var parts []string
	for k, n := range tt.ops {
		parts = append(parts, fmt.Sprintf("%s %d", opNames[k], n))
	}
	return strings.Join(parts, ", ")
}

// mustCheck runs alloc.Check and the Mallinfo2 identities.
func mustCheck(t testing.TB, when string) {
	t.Helper()
	if err := alloc.Check(); err != nil {
		t.Fatalf("%s: Check: %v", when, err)
	}
	m := alloc.Mallinfo2()
	if m.Uordblks+m.Fordblks != m.Arena || m.Usmblks != 0 || m.Keepcost > m.Fordblks || m.Hblks < 0 || m.Hblkhd < m.Hblks*4096 {
		t.Fatalf("%s: inconsistent Mallinfo2 %+v", when, m)
	}
}

// ---- settings ----

// setting is a configuration of the thresholds for one run of the model.
type setting struct {
	name  string
	child bool // needs the default, dynamic allocator: run in a fresh process
	set   []paramValue
	lim   sizeLimits
	after func(t *testing.T) // extra checks once every block is freed
	// costly divides the number of operations: a setting that makes a
	// system call of most operations runs fewer of them.
	costly int
}

type paramValue struct {
	p tune.Param
	v int
}

// defaultsEquivalent are glibc's defaults, set explicitly: the values an
// untouched allocator starts with, except that the dynamic threshold is
// off once any of them was set.
var defaultsEquivalent = []paramValue{
	{tune.MmapThreshold, 128 << 10}, {tune.TrimThreshold, 128 << 10}, {tune.TopPad, 128 << 10},
	{tune.MmapMax, 65536}, {tune.MXFast, 128}, {tune.Perturb, 0},
}

func mallopts(t testing.TB, pvs []paramValue) {
	t.Helper()
	for _, pv := range pvs {
		if err := alloc.Mallopt(pv.p, pv.v); err != nil {
			t.Fatalf("Mallopt(%v, %d): %v", pv.p, pv.v, err)
		}
	}
}

// restoreDefaults puts the glibc defaults back after a test that changed
// the parameters (the dynamic threshold stays off).
func restoreDefaults(t testing.TB) {
	t.Helper()
	mallopts(t, defaultsEquivalent)
}

var modelSettings = []setting{
	{
		name: "dynamic", child: true, lim: sizeLimits{max: 4 << 20},
		after: func(t *testing.T) {
			// Blocks of up to 4 MiB were mapped and freed: the threshold rose.
			if p := alloc.Params(); !p.DynamicThreshold || p.MmapThreshold <= 128<<10 {
				t.Errorf("dynamic threshold did not rise: %+v", p)
			}
		},
	},
	{
		name: "mmap4096-trim0", lim: sizeLimits{max: 4 << 20}, costly: 3,
		set: []paramValue{{tune.MmapThreshold, 4096}, {tune.TrimThreshold, 0}},
	},
	{
		name: "huge-thresholds", lim: sizeLimits{max: 4 << 20},
		set: []paramValue{{tune.MmapThreshold, 1 << 40}, {tune.TrimThreshold, 1 << 40}},
		after: func(t *testing.T) {
			if m := alloc.Mallinfo2(); m.Hblks != 0 {
				t.Errorf("with a huge mmap threshold %d chunks are mapped", m.Hblks)
			}
			if !alloc.Trim(0) {
				t.Errorf("Trim(0) released nothing after the huge-threshold run freed everything")
			}
		},
	},
	{
		name: "nomap-nopad-nofast", lim: sizeLimits{max: 4 << 20},
		set: []paramValue{{tune.MmapMax, 0}, {tune.TopPad, 0}, {tune.MXFast, 0}},
		after: func(t *testing.T) {
			if m := alloc.Mallinfo2(); m.Hblks != 0 {
				t.Errorf("with M_MMAP_MAX 0, %d chunks are mapped", m.Hblks)
			}
		},
	},
}

// TestModel runs the randomized model under each setting: phases that grow
// the live set, churn it, and free it all, with Check after each.
func TestModel(t *testing.T) {
	ops := 200_000 // per setting
	if long() {
		ops = 3_000_000
	}
	if alloc.RaceEnabled {
		ops /= 10
	}
	for _, s := range modelSettings {
		t.Run(s.name, func(t *testing.T) {
			ops := ops / max(s.costly, 1)
			if s.child && runInChild(t) {
				return
			}
			if !s.child {
				mallopts(t, s.set)
				defer restoreDefaults(t)
			}
			seed := testSeed(t)
			runModel(t, seed, ops, s.lim)
			if s.after != nil {
				s.after(t)
			}
			mustCheck(t, "at the end")
		})
	}
}

// runModel performs about ops operations in three phases.
func runModel(t *testing.T, seed uint64, ops int, lim sizeLimits) {
	rng := rand.New(rand.NewPCG(seed, 0x6d6f64656c))
	var next uint64
	ids := func() uint64 { next++; return next }
	tt := newTester(t, rng, lim, ids, fmt.Sprintf("seed %d", seed))
	var live []block
	const target = 4000
	phases := []struct {
		name  string
		ops   int
		alloc int // percent of operations that allocate (the rest free or realloc)
	}{
		{"grow", ops / 5, 75},
		{"churn", ops * 3 / 5, 50},
		{"shrink", ops / 5, 25},
	}
	for _, ph := range phases {
		tt.ctx = fmt.Sprintf("seed %d phase %s", seed, ph.name)
		for i := 0; i < ph.ops; i++ {
			pa := ph.alloc
			if ph.name == "churn" { // hover around the target
				switch {
				case len(live) < target*9/10:
					pa = 65
				case len(live) > target*11/10:
					pa = 35
				}
			}
			r := rng.IntN(100)
			switch {
			case r < pa || len(live) == 0:
				live = append(live, tt.alloc())
			case r < pa+(100-pa)/4:
				k := rng.IntN(len(live))
				if nb, ok := tt.realloc(live[k]); ok {
					live[k] = nb
				} else {
					live[k] = live[len(live)-1]
					live = live[:len(live)-1]
				}
			default:
				k := rng.IntN(len(live))
				tt.free(live[k])
				live[k] = live[len(live)-1]
				live = live[:len(live)-1]
			}
		}
		if ph.name == "shrink" {
			for _, b := range live {
				tt.free(b)
			}
			live = live[:0]
		} else {
			for _, b := range live {
				tt.verify(b, "at the end of the phase")
			}
		}
		mustCheck(t, tt.ctx)
	}
	t.Logf("%s; %d live blocks at the end", tt.summary(), len(live))
}

// ---- traces ----

// traceDir finds shared/traces beside the repository (as CI lays it out),
// or where the developers' machines keep it.
func traceDir() string {
	for _, d := range []string{"../../shared/traces", "/work/shared/traces"} {
		if m, _ := filepath.Glob(filepath.Join(d, "*.trace.gz")); len(m) > 0 {
			return d
		}
	}
	return "../../shared/traces"
}

// TestTraceReplay replays the first operations of real programs'
// allocation traces (see the README there), with every block patterned.
func TestTraceReplay(t *testing.T) {
	dir := traceDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*.trace.gz"))
	if len(files) == 0 {
		t.Skipf("no traces in %s", dir)
	}
	limit := 100_000
	if long() {
		limit = -1
	}
	if alloc.RaceEnabled {
		limit = 20_000
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".trace.gz"), func(t *testing.T) {
			replayTrace(t, f, limit)
		})
	}
}

func replayTrace(t *testing.T, path string, limit int) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2)) // only decides which blocks use their whole usable size
	tt := newTester(t, rng, sizeLimits{max: 1 << 40}, nil, "")
	live := map[uint64]block{}
	sc := bufio.NewScanner(zr)
	line := 0
	num := func(f []string, i int) int {
		v, err := strconv.Atoi(f[i])
		if err != nil || v < 0 {
			tt.fail("bad field %d", i)
		}
		return v
	}
	take := func(id uint64) block {
		b, ok := live[id]
		if !ok {
			tt.fail("block %d is not live", id)
		}
		delete(live, id)
		return b
	}
	var pending uint64 // the trace's id for the block being allocated
	tt.ids = func() uint64 { return pending }
	put := func(id uint64, alloc func() block) {
		if _, dup := live[id]; dup {
			tt.fail("block %d allocated twice", id)
		}
		pending = id
		live[id] = alloc()
	}
	for sc.Scan() && (limit < 0 || line < limit) {
		line++
		tt.ctx = fmt.Sprintf("%s line %d %q", filepath.Base(path), line, sc.Text())
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			tt.fail("short line")
		}
		switch f[1] {
		case "m":
			n := num(f, 3)
			put(uint64(num(f, 2)), func() block { return tt.adopt(alloc.Malloc(n), n, 0, "malloc") })
		case "c":
			k, size := num(f, 3), num(f, 4)
			put(uint64(num(f, 2)), func() block {
				p := alloc.Calloc(k, size)
				if p == nil {
					tt.fail("calloc(%d, %d) returned nil", k, size)
				}
				if i := firstNonZero(uintptr(p), uintptr(k*size)); i >= 0 {
					tt.fail("calloc(%d, %d): byte %d not zero", k, size, i)
				}
				return tt.adopt(p, k*size, 0, "calloc")
			})
		case "a":
			al, n := num(f, 3), num(f, 4)
			put(uint64(num(f, 2)), func() block { return tt.adopt(alloc.AlignedAlloc(al, n), n, al, "aligned_alloc") })
		case "r":
			old, nid, n := uint64(num(f, 2)), uint64(num(f, 3)), num(f, 4)
			if old == 0 {
				if nid != 0 {
					put(nid, func() block { return tt.adopt(alloc.Realloc(nil, n), n, 0, "realloc(nil)") })
				}
				continue
			}
			b := take(old)
			tt.verify(b, "before realloc")
			q := alloc.Realloc(b.ptr(), n)
			if n == 0 {
				if q != nil {
					tt.fail("realloc(%#x, 0) = %#x, want nil", b.p, uintptr(q))
				}
				continue
			}
			if q == nil {
				tt.fail("realloc(%#x, %d) returned nil", b.p, n)
			}
			keep := min(b.n, uintptr(n))
			if msg := checkPattern(uintptr(q), b.id, 0, keep); msg != "" {
				tt.fail("realloc %#x -> %#x lost the contents: %s", b.p, uintptr(q), msg)
			}
			fillPattern(uintptr(q), b.id, keep, uintptr(n))
			if nid == 0 {
				nid = old // the traced realloc failed and the program kept its block; ours succeeded
			}
			if _, dup := live[nid]; dup {
				tt.fail("block %d allocated twice", nid)
			}
			// The block keeps its pattern id; only its key in the trace changes.
			live[nid] = block{p: uintptr(q), n: uintptr(n), id: b.id}
		case "f":
			b := take(uint64(num(f, 2)))
			tt.verify(b, "before free")
			alloc.Free(b.ptr())
		default:
			tt.fail("unknown operation")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	tt.ctx = fmt.Sprintf("%s after %d lines", filepath.Base(path), line)
	mustCheck(t, tt.ctx)
	for _, b := range live {
		tt.verify(b, "at the end")
		alloc.Free(b.ptr())
	}
	mustCheck(t, tt.ctx+", all freed")
	t.Logf("replayed %d operations, %d blocks were live at the end", line, len(live))
}

// ---- concurrency ----

// sharedTable is where goroutines leave blocks for others to free: shards
// under their own locks (the lock hands the pattern over, too).
type sharedTable struct {
	shards [64]struct {
		mu     sync.Mutex
		blocks []block
		_      [40]byte
	}
}

func (s *sharedTable) put(rng *rand.Rand, b block) {
	sh := &s.shards[rng.IntN(len(s.shards))]
	sh.mu.Lock()
	sh.blocks = append(sh.blocks, b)
	sh.mu.Unlock()
}

func (s *sharedTable) take(rng *rand.Rand) (block, bool) {
	sh := &s.shards[rng.IntN(len(s.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.blocks) == 0 {
		return block{}, false
	}
	k := rng.IntN(len(sh.blocks))
	b := sh.blocks[k]
	sh.blocks[k] = sh.blocks[len(sh.blocks)-1]
	sh.blocks = sh.blocks[:len(sh.blocks)-1]
	return b, true
}

func (s *sharedTable) drain() []block {
	var all []block
	for i := range s.shards {
		all = append(all, s.shards[i].blocks...)
		s.shards[i].blocks = nil
	}
	return all
}

// idsFor numbers the blocks of goroutine k as k+64, k+128, ...: unique
// across goroutines without a lock.
func idsFor(k uint64) func() uint64 {
	n := k
	return func() uint64 { n += 64; return n }
}

// runConcurrent runs workers goroutines that allocate, hand blocks to each
// other (through a shared table and through channels to their neighbour),
// and free or reallocate blocks that others allocated.
func runConcurrent(t *testing.T, seed uint64, workers, opsEach int, lim sizeLimits, during func(stop <-chan struct{})) {
	var table sharedTable
	handoff := make([]chan block, workers)
	for i := range handoff {
		handoff[i] = make(chan block, 256)
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	if during != nil {
		bg.Add(1)
		go func() { defer bg.Done(); during(stop) }()
	}
	errs := make(chan string, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			tt := newTester(t, rng, lim, idsFor(uint64(w)), fmt.Sprintf("seed %d worker %d", seed, w))
			failed := false
			tt.fail = func(format string, args ...any) {
				if !failed {
					failed = true
					errs <- tt.ctx + ": " + fmt.Sprintf(format, args...)
				}
				runtime.Goexit()
			}
			defer func() {
				// A corruption panic on a worker is reported, not fatal to
				// the whole test binary.
				if e := recover(); e != nil && !failed {
					failed = true
					errs <- fmt.Sprintf("%s: panic: %v", tt.ctx, e)
				}
			}()
			var own []block
			for i := 0; i < opsEach; i++ {
				// Free what the neighbour handed over.
			drain:
				for {
					select {
					case b := <-handoff[w]:
						tt.free(b)
					default:
						break drain
					}
				}
				switch r := rng.IntN(100); {
				case r < 45 || len(own) == 0:
					b := tt.alloc()
					switch rng.IntN(4) {
					case 0:
						table.put(rng, b)
					case 1:
						select {
						case handoff[(w+1)%workers] <- b:
						default:
							own = append(own, b)
						}
					default:
						own = append(own, b)
					}
				case r < 60:
					if b, ok := table.take(rng); ok {
						if nb, ok := tt.realloc(b); ok {
							table.put(rng, nb)
						}
					}
				case r < 80:
					if b, ok := table.take(rng); ok {
						tt.free(b)
					}
				default:
					k := rng.IntN(len(own))
					tt.free(own[k])
					own[k] = own[len(own)-1]
					own = own[:len(own)-1]
				}
				if len(own) > 400 {
					table.put(rng, own[len(own)-1])
					own = own[:len(own)-1]
				}
			}
			for _, b := range own {
				tt.free(b)
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		t.FailNow()
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	tt := newTester(t, rng, lim, nil, fmt.Sprintf("seed %d, after the workers", seed))
	n := 0
	for _, ch := range handoff {
		close(ch)
		for b := range ch {
			tt.free(b)
			n++
		}
	}
	for _, b := range table.drain() {
		tt.free(b)
		n++
	}
	t.Logf("%d workers x %d operations; %d blocks freed at the end", workers, opsEach, n)
}

// TestConcurrentModel is the model with 8 goroutines freeing and
// reallocating each other's blocks, with Trim and FlushCaches running
// alongside; under the default (dynamic) parameters in a child process,
// and in this one with a small mmap threshold and a zero trim threshold.
func TestConcurrentModel(t *testing.T) {
	ops := 25_000 // per worker
	if long() {
		ops = 400_000
	}
	if alloc.RaceEnabled {
		ops = 4_000
	}
	lim := sizeLimits{max: 4 << 20}
	trimmer := func(stop <-chan struct{}) {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			if i%2 == 0 {
				alloc.FlushCaches()
			} else {
				alloc.Trim(i % 3 * 4096)
			}
		}
	}
	t.Run("dynamic", func(t *testing.T) {
		if runInChild(t) {
			return
		}
		runConcurrent(t, testSeed(t), 8, ops, lim, trimmer)
		mustCheck(t, "after the workers")
	})
	t.Run("mmap4096-trim0", func(t *testing.T) {
		mallopts(t, []paramValue{{tune.MmapThreshold, 4096}, {tune.TrimThreshold, 0}})
		defer restoreDefaults(t)
		runConcurrent(t, testSeed(t), 8, ops/3, lim, trimmer) // mostly system calls: fewer
		mustCheck(t, "after the workers")
	})
}

// TestGOMAXPROCSChanges allocates and frees on several goroutines while
// GOMAXPROCS moves between 1 and 4: caches of Ps that disappear must not
// lose or corrupt chunks.
func TestGOMAXPROCSChanges(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	ops := 30_000
	if alloc.RaceEnabled {
		ops = 3_000
	}
	seed := testSeed(t)
	procs := []int{1, 2, 1, 4, 1, 3, 2, 1, 8, 1}
	changes := 0
	runConcurrent(t, seed, 6, ops, sizeLimits{max: 256 << 10}, func(stop <-chan struct{}) {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Microsecond):
			}
			runtime.GOMAXPROCS(procs[i%len(procs)])
			changes++
		}
	})
	t.Logf("GOMAXPROCS changed %d times", changes)
	mustCheck(t, "after the workers")
	runtime.GOMAXPROCS(1)
	mustCheck(t, "with GOMAXPROCS 1")
}

// ---- private heaps ----

// modelHeap is a heap of the model with several heaps: the process heap
// (h nil) or a private one, with the blocks the model holds live in it.
type modelHeap struct {
	h      *alloc.Heap
	name   string
	blocks []block
	fresh  alloc.Mallinfo // a private heap's figures when it was new
}

// heapsModel drives the process heap and up to maxModelHeaps private heaps
// at once: it creates and destroys heaps as it goes, allocates in a chosen
// heap, frees and reallocates through the heap's methods or through
// alloc.Free and alloc.Realloc, checks each heap, and tries the misuses
// whose outcome it can predict.
type heapsModel struct {
	*tester
	heaps []*modelHeap // [0] is the process heap
	// counts for the log
	made, destroyed, misuses, checks int
}

const maxModelHeaps = 5

// corruptionOp runs f and returns the operation of the *arena.CorruptionError
// it panics with, "" if it returns; another panic goes on.
func corruptionOp(f func()) (op string) {
	defer func() {
		if e := recover(); e != nil {
			ce, ok := e.(*arena.CorruptionError)
			if !ok {
				panic(e)
			}
			op = ce.Op
		}
	}()
	f()
	return ""
}

func (m *heapsModel) newHeap() {
	h := alloc.NewHeap()
	m.made++
	m.heaps = append(m.heaps, &modelHeap{h: h, name: fmt.Sprintf("private heap %d", h.ID()), fresh: h.Mallinfo2()})
}

func (m *heapsModel) live() int {
	n := 0
	for _, mh := range m.heaps {
		n += len(mh.blocks)
	}
	return n
}

// owned checks that p is a block of mh's private heap: the heap's
// UsableSize answers for it as alloc.UsableSize does, where it refuses
// another heap's block.
func (m *heapsModel) owned(mh *modelHeap, p unsafe.Pointer, what string) {
	var u int
	if op := corruptionOp(func() { u = mh.h.UsableSize(p) }); op != "" {
		m.fail("%s = %#x: not a block of %s (%s)", what, uintptr(p), mh.name, op)
	}
	if g := alloc.UsableSize(p); u != g {
		m.fail("%s = %#x: UsableSize %d in %s, %d by alloc.UsableSize", what, uintptr(p), u, mh.name, g)
	}
}

// alloc allocates a block in mh: alloc's calls for the process heap, the
// heap's Malloc, Calloc or Realloc(nil) for a private one.
func (m *heapsModel) alloc(mh *modelHeap) {
	if mh.h == nil {
		mh.blocks = append(mh.blocks, m.tester.alloc())
		return
	}
	h, rng := mh.h, m.rng
	n := randSize(rng, m.lim)
	var p unsafe.Pointer
	what := mh.name + ": "
	switch r := rng.IntN(10); {
	case r < 7:
		m.ops[opMalloc]++
		p, what = h.Malloc(n), what+fmt.Sprintf("Malloc(%d)", n)
	case r < 9:
		m.ops[opCalloc]++
		k := 1 + rng.IntN(8)
		size := n / k
		n = k * size
		p, what = h.Calloc(k, size), what+fmt.Sprintf("Calloc(%d, %d)", k, size)
		if i := firstNonZero(uintptr(p), uintptr(n)); p != nil && i >= 0 {
			m.fail("%s = %#x: byte %d is not zero", what, uintptr(p), i)
		}
	default:
		m.ops[opMalloc]++
		p, what = h.Realloc(nil, n), what+fmt.Sprintf("Realloc(nil, %d)", n)
	}
	b := m.adopt(p, n, 0, what)
	m.owned(mh, p, what)
	mh.blocks = append(mh.blocks, b)
}

// take removes a random block of mh from the model and returns it.
func (m *heapsModel) take(mh *modelHeap) block {
	k := m.rng.IntN(len(mh.blocks))
	b := mh.blocks[k]
	mh.blocks[k] = mh.blocks[len(mh.blocks)-1]
	mh.blocks = mh.blocks[:len(mh.blocks)-1]
	return b
}

// free frees a block of mh: through the heap's Free, alloc.Free, or a
// Realloc to 0 bytes of either.
func (m *heapsModel) free(mh *modelHeap) {
	b := m.take(mh)
	if mh.h == nil {
		m.tester.free(b)
		return
	}
	m.ops[opFree]++
	m.verify(b, "before free in "+mh.name)
	switch r := m.rng.IntN(16); {
	case r == 0:
		if q := mh.h.Realloc(b.ptr(), 0); q != nil {
			m.fail("%s: Realloc(%#x, 0) = %#x, want nil", mh.name, b.p, uintptr(q))
		}
	case r == 1:
		if q := alloc.Realloc(b.ptr(), 0); q != nil {
			m.fail("alloc.Realloc(%#x, 0) of a block of %s = %#x, want nil", b.p, mh.name, uintptr(q))
		}
	case r < 8:
		alloc.Free(b.ptr())
	default:
		mh.h.Free(b.ptr())
	}
}

// realloc resizes a block of mh, through the heap's Realloc or
// alloc.Realloc: the contents stay, and the block stays in its heap.
func (m *heapsModel) realloc(mh *modelHeap) {
	if mh.h == nil {
		k := m.rng.IntN(len(mh.blocks))
		if nb, ok := m.tester.realloc(mh.blocks[k]); ok {
			mh.blocks[k] = nb
		} else {
			mh.blocks[k] = mh.blocks[len(mh.blocks)-1]
			mh.blocks = mh.blocks[:len(mh.blocks)-1]
		}
		return
	}
	m.ops[opRealloc]++
	b := m.take(mh)
	m.verify(b, "before realloc in "+mh.name)
	n := m.reallocSize(b)
	via := mh.h.Realloc
	what := fmt.Sprintf("%s: Realloc(%#x, %d)", mh.name, b.p, n)
	if m.rng.IntN(2) == 0 {
		via, what = alloc.Realloc, fmt.Sprintf("alloc.Realloc(%#x, %d) of a block of %s", b.p, n, mh.name)
	}
	q := via(b.ptr(), n)
	if n == 0 {
		if q != nil {
			m.fail("%s = %#x, want nil", what, uintptr(q))
		}
		return
	}
	if q == nil || uintptr(q)%16 != 0 {
		m.fail("%s = %#x", what, uintptr(q))
	}
	if u := alloc.UsableSize(q); u < n {
		m.fail("%s = %#x: UsableSize %d", what, uintptr(q), u)
	}
	m.owned(mh, q, what)
	keep := min(b.n, uintptr(n))
	if msg := checkPattern(uintptr(q), b.id, 0, keep); msg != "" {
		m.fail("%s = %#x lost the contents: %s", what, uintptr(q), msg)
	}
	fillPattern(uintptr(q), b.id, keep, uintptr(n))
	mh.blocks = append(mh.blocks, block{p: uintptr(q), n: uintptr(n), id: b.id})
}

// misuse hands a live block of one heap to another private heap's Free or
// Realloc: glibc's "invalid pointer", and the block stays as it was.
func (m *heapsModel) misuse() {
	if len(m.heaps) < 2 {
		return
	}
	src := m.heaps[m.rng.IntN(len(m.heaps))]
	dst := m.heaps[1+m.rng.IntN(len(m.heaps)-1)]
	if src == dst || len(src.blocks) == 0 {
		return
	}
	m.misuses++
	b := src.blocks[m.rng.IntN(len(src.blocks))]
	call, want := "Free", "free(): invalid pointer"
	f := func() { dst.h.Free(b.ptr()) }
	if m.rng.IntN(2) == 0 {
		call, want = "Realloc", "realloc(): invalid pointer"
		f = func() { dst.h.Realloc(b.ptr(), int(b.n)+1) }
	}
	if op := corruptionOp(f); op != want {
		m.fail("%s: %s of a block of %s (%#x): panic %q, want %q", dst.name, call, src.name, b.p, op, want)
	}
	m.verify(b, fmt.Sprintf("after %s refused it to %s", src.name, dst.name))
}

// check runs mh's Check and holds its Mallinfo2 to the model: the
// identities, the live blocks within the bytes in use, and an emptied heap
// back to what it held when new.
func (m *heapsModel) check(mh *modelHeap) {
	m.checks++
	if mh.h == nil {
		mustCheck(m.t, m.ctx)
		return
	}
	if err := mh.h.Check(); err != nil {
		m.fail("%s: Check: %v", mh.name, err)
	}
	mi := mh.h.Mallinfo2()
	if mi.Uordblks+mi.Fordblks != mi.Arena || mi.Usmblks != 0 || mi.Keepcost > mi.Fordblks || mi.Hblkhd < mi.Hblks*4096 {
		m.fail("%s: inconsistent Mallinfo2 %+v", mh.name, mi)
	}
	usable := 0
	for _, b := range mh.blocks {
		usable += alloc.UsableSize(b.ptr())
	}
	if usable > mi.Uordblks+mi.Hblkhd {
		m.fail("%s: %d live blocks of %d usable bytes, but Mallinfo2 has %d in use and %d mapped", mh.name, len(mh.blocks), usable, mi.Uordblks, mi.Hblkhd)
	}
	if len(mh.blocks) == 0 && (mi.Hblks != 0 || mi.Hblkhd != 0 || mi.Uordblks != mh.fresh.Uordblks) {
		m.fail("%s: no block live, Mallinfo2 %+v; new, it had %+v", mh.name, mi, mh.fresh)
	}
}

// destroy destroys private heap k, whose blocks leave the model: right
// after, before anything is allocated, they are no heap's, and freeing one
// is refused; the heap itself refuses to be used.
func (m *heapsModel) destroy(k int) {
	mh := m.heaps[k]
	for _, b := range mh.blocks {
		m.verify(b, "before "+mh.name+" is destroyed")
	}
	mh.h.Destroy()
	m.destroyed++
	m.heaps = append(m.heaps[:k], m.heaps[k+1:]...)
	if len(mh.blocks) > 0 {
		b := mh.blocks[m.rng.IntN(len(mh.blocks))]
		if op := corruptionOp(func() { alloc.Free(b.ptr()) }); op != "free(): invalid pointer" {
			m.fail("alloc.Free of a block of %s (%#x) once destroyed: panic %q, want free(): invalid pointer", mh.name, b.p, op)
		}
	}
	var got any
	func() {
		defer func() { got = recover() }()
		mh.h.Malloc(16)
	}()
	if msg, _ := got.(string); !strings.Contains(msg, "the heap was destroyed") {
		m.fail("Malloc in %s once destroyed: panic %v", mh.name, got)
	}
}

// runHeapsModel performs ops operations of the model with several heaps,
// the live blocks hovering around a few thousand over all heaps; at the
// end half the private heaps are emptied block by block (and checked
// empty) before being destroyed, the others destroyed full.
func runHeapsModel(t *testing.T, seed uint64, ops int, lim sizeLimits) {
	rng := rand.New(rand.NewPCG(seed, 0x6865617073))
	var next uint64
	ids := func() uint64 { next++; return next }
	m := &heapsModel{tester: newTester(t, rng, lim, ids, ""), heaps: []*modelHeap{{name: "the process heap"}}}
	const target = 3000
	for i := 0; i < ops; i++ {
		m.ctx = fmt.Sprintf("seed %d op %d", seed, i)
		switch r := rng.IntN(1000); {
		case r < 15:
			if len(m.heaps) <= maxModelHeaps {
				m.newHeap()
			}
		case r < 17:
			if len(m.heaps) > 1 {
				m.destroy(1 + rng.IntN(len(m.heaps)-1))
			}
		case r < 20:
			m.misuse()
		case r < 23:
			m.check(m.heaps[rng.IntN(len(m.heaps))])
		default:
			mh := m.heaps[rng.IntN(len(m.heaps))]
			pa := 50
			switch live := m.live(); {
			case live < target*9/10:
				pa = 60
			case live > target*11/10:
				pa = 40
			}
			switch rr := rng.IntN(100); {
			case rr < pa || len(mh.blocks) == 0:
				m.alloc(mh)
			case rr < pa+(100-pa)/4:
				m.realloc(mh)
			default:
				m.free(mh)
			}
		}
	}
	m.ctx = fmt.Sprintf("seed %d at the end", seed)
	t.Logf("%s; %d heaps made, %d destroyed, %d misuses refused, %d checks; %d blocks live at the end in %d heaps",
		m.summary(), m.made, m.destroyed, m.misuses, m.checks, m.live(), len(m.heaps))
	for len(m.heaps[0].blocks) > 0 {
		m.free(m.heaps[0])
	}
	for len(m.heaps) > 1 {
		k := len(m.heaps) - 1
		if mh := m.heaps[k]; k%2 == 0 {
			for len(mh.blocks) > 0 {
				m.free(mh)
			}
			m.check(mh)
		}
		m.destroy(k)
	}
	mustCheck(t, m.ctx)
}

// TestModelHeaps is the model with several heaps at once: private heaps
// created and destroyed among the process heap's blocks, blocks freed and
// reallocated through their heap or through alloc's functions, each heap
// checked against what the model holds, and the misuses it can predict
// refused. Under the default parameters in a child process, and in this
// one with every block above 4 KiB mapped and trimming at once.
func TestModelHeaps(t *testing.T) {
	ops := 200_000
	if long() {
		ops = 3_000_000
	}
	if alloc.RaceEnabled {
		ops /= 10
	}
	lim := sizeLimits{max: 4 << 20}
	t.Run("dynamic", func(t *testing.T) {
		if runInChild(t) {
			return
		}
		runHeapsModel(t, testSeed(t), ops, lim)
	})
	t.Run("mmap4096-trim0", func(t *testing.T) {
		mallopts(t, []paramValue{{tune.MmapThreshold, 4096}, {tune.TrimThreshold, 0}})
		defer restoreDefaults(t)
		runHeapsModel(t, testSeed(t), ops/3, lim)
	})
}

// ---- child processes ----

const childEnv = "OFFHEAP_TEST_CHILD"

// runInChild reruns the calling test alone in a fresh process of this test
// binary, so that it sees the allocator as a program starts with it
// (nothing allocated, no Mallopt, the dynamic threshold on) whatever ran
// before it here. It returns true in the parent, which should return: the
// child's verdict has become the test's. In the child it returns false and
// the test goes on.
func runInChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return false
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	args := []string{"-test.run=" + strings.Join(parts, "/"), "-test.v", "-test.count=1"}
	if *seedFlag != 0 {
		args = append(args, "-seed="+strconv.FormatUint(*seedFlag, 10))
	}
	if *longFlag {
		args = append(args, "-long")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("child process %v:\n%s", args, out)
	switch {
	case err != nil:
		t.Fatalf("child process: %v", err)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()+" "):
		t.Skip("skipped in the child process")
	case !strings.Contains(string(out), "--- PASS: "+t.Name()+" "):
		t.Fatalf("child process did not run %s", t.Name())
	}
	return true
}

// TestPatternDetectsDamage makes sure the model's pattern check can fail:
// a changed byte anywhere in a block, or another block's pattern, is seen.
func TestPatternDetectsDamage(t *testing.T) {
	const n = 500
	p := uintptr(alloc.Malloc(n))
	defer alloc.Free(unsafe.Add(nil, p))
	for _, from := range []uintptr{0, 3, 8, 13} {
		fillPattern(p, 7, from, n)
		for j := from; j < n; j += 37 {
			*(*byte)(unsafe.Add(nil, p+j)) ^= 0x10
			if checkPattern(p, 7, from, n) == "" {
				t.Fatalf("a changed byte %d in [%d, %d) went unseen", j, from, n)
			}
			*(*byte)(unsafe.Add(nil, p+j)) ^= 0x10
		}
		if msg := checkPattern(p, 7, from, n); msg != "" {
			t.Fatalf("the intact pattern fails: %s", msg)
		}
		if checkPattern(p, 8, from, n) == "" {
			t.Fatalf("block 7's pattern passes as block 8's")
		}
	}
	if firstNonZero(p, n) < 0 {
		t.Fatalf("firstNonZero missed the pattern")
	}
	clear(bytesAt(p, n))
	if i := firstNonZero(p, n); i >= 0 {
		t.Fatalf("firstNonZero found byte %d in zeroed memory", i)
	}
	*(*byte)(unsafe.Add(nil, p+n-1)) = 1
	if i := firstNonZero(p, n); i != n-1 {
		t.Fatalf("firstNonZero = %d, want %d", i, n-1)
	}
}
