package alloc

// Hardening (issue 5): the helpers shared by fault_test.go, rlimit_test.go
// and corrupt_test.go, and the tests of check_action, the debug mode and
// concurrent double frees.
//
// Every test here that arms a fault, sets a limit, corrupts the heap or
// depends on the environment runs in a child process (runInChild): a fresh
// allocator configured from the environment, whose damage dies with it.

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/tune"
)

// hardChildEnv names the test a child process runs; hardSeedEnv passes the
// seed down.
const (
	hardChildEnv = "OFFHEAP_HARDEN_CHILD"
	hardSeedEnv  = "OFFHEAP_HARDEN_SEED"
)

// inHardChild reports whether this process is the child running t.
func inHardChild(t *testing.T) bool { return os.Getenv(hardChildEnv) == t.Name() }

// runInChild runs test t again in a child process (this test binary with
// -test.run selecting t alone) with env added to the environment, and fails
// t if the child fails. It returns true in the parent, false in the child,
// which then runs the test's body:
//
//	if runInChild(t, "MALLOC_CHECK_=1") {
//		return
//	}
//	... the body, in a fresh allocator ...
func runInChild(t *testing.T, env ...string) bool {
	t.Helper()
	if inHardChild(t) {
		return false
	}
	out, err := childOutput(t, env...)
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("child process:\n%s", out)
	}
	return true
}

// childOutput runs t in a child process with env and returns its combined
// output and how it ended.
func childOutput(t *testing.T, env ...string) (string, error) {
	t.Helper()
	var pat []string
	for _, part := range strings.Split(t.Name(), "/") {
		pat = append(pat, "^"+regexpQuote(part)+"$")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(pat, "/"), "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), hardChildEnv+"="+t.Name(), fmt.Sprintf("%s=%d", hardSeedEnv, hardSeed(t)))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

var hardSeedOnce struct {
	sync.Once
	seed uint64
}

// hardSeed returns the seed of the randomized parts, logged: the -seed flag
// (defined by the package's other tests) if given, the parent's seed in a
// child, the clock otherwise.
func hardSeed(t *testing.T) uint64 {
	t.Helper()
	hardSeedOnce.Do(func() {
		if s, err := strconv.ParseUint(os.Getenv(hardSeedEnv), 10, 64); err == nil && s != 0 {
			hardSeedOnce.seed = s
			return
		}
		if f := flag.Lookup("seed"); f != nil {
			if s, err := strconv.ParseUint(f.Value.String(), 10, 64); err == nil && s != 0 {
				hardSeedOnce.seed = s
				return
			}
		}
		hardSeedOnce.seed = uint64(time.Now().UnixNano())
	})
	return hardSeedOnce.seed
}

// ---- blocks with patterns ----

// hblock is a live block whose bytes hold a pattern derived from id.
type hblock struct {
	p  unsafe.Pointer
	n  int
	id uint64
}

func hardWord(id uint64, i int) uint64 {
	return (id*0x9E3779B97F4A7C15 ^ uint64(i)*0xBF58476D1CE4E5B9) + 0x94D049BB133111EB
}

// fill writes b's pattern.
func (b hblock) fill() {
	nw := b.n / 8
	ws := unsafe.Slice((*uint64)(b.p), nw)
	for i := range ws {
		ws[i] = hardWord(b.id, i)
	}
	for j := nw * 8; j < b.n; j++ {
		*(*byte)(unsafe.Add(b.p, j)) = byte(hardWord(b.id, j/8) >> (8 * (j % 8)))
	}
}

// bad describes the first byte of b that lost its pattern, or returns "".
func (b hblock) bad() string {
	nw := b.n / 8
	for i, w := range unsafe.Slice((*uint64)(b.p), nw) {
		if w != hardWord(b.id, i) {
			return fmt.Sprintf("block %p (%d bytes): word %d is %#x, want %#x", b.p, b.n, i, w, hardWord(b.id, i))
		}
	}
	for j := nw * 8; j < b.n; j++ {
		if got, want := *(*byte)(unsafe.Add(b.p, j)), byte(hardWord(b.id, j/8)>>(8*(j%8))); got != want {
			return fmt.Sprintf("block %p (%d bytes): byte %d is %#x, want %#x", b.p, b.n, j, got, want)
		}
	}
	return ""
}

// blockSet is a set of live blocks.
type blockSet struct {
	blocks []hblock
	nextID uint64
}

// add records p (n bytes, not nil) and fills its pattern.
func (s *blockSet) add(p unsafe.Pointer, n int) hblock {
	s.nextID++
	b := hblock{p: p, n: n, id: s.nextID*0x100000001 + 7}
	b.fill()
	s.blocks = append(s.blocks, b)
	return b
}

// malloc allocates n bytes and records the block; it reports whether the
// allocation succeeded.
func (s *blockSet) malloc(n int) bool {
	p := Malloc(n)
	if p == nil {
		return false
	}
	s.add(p, n)
	return true
}

// verify fails t on the first block that lost its pattern.
func (s *blockSet) verify(t *testing.T, when string) {
	t.Helper()
	for _, b := range s.blocks {
		if msg := b.bad(); msg != "" {
			t.Fatalf("%s: %s", when, msg)
		}
	}
}

// freeEvery verifies and frees every k-th block (k = 1: all of them),
// keeping the others.
func (s *blockSet) freeEvery(t *testing.T, k int) {
	t.Helper()
	kept := s.blocks[:0]
	for i, b := range s.blocks {
		if i%k != 0 {
			kept = append(kept, b)
			continue
		}
		if msg := b.bad(); msg != "" {
			t.Fatalf("before free: %s", msg)
		}
		Free(b.p)
	}
	clear(s.blocks[len(kept):])
	s.blocks = kept
}

// mustCheckHeap fails t if Check finds a broken invariant.
func mustCheckHeap(t *testing.T, when string) {
	t.Helper()
	if err := Check(); err != nil {
		t.Fatalf("%s: Check: %v", when, err)
	}
}

// expectPanic runs f and returns the *arena.CorruptionError it panics with,
// failing t if it does not panic so, or if the message is not want.
func expectPanic(t *testing.T, want string, f func()) *arena.CorruptionError {
	t.Helper()
	return expectPanicOneOf(t, []string{want}, f)
}

// expectPanicOneOf is expectPanic for a misuse that may be reported by
// any of the messages in want, depending on where the chunk is when it is
// found.
func expectPanicOneOf(t *testing.T, want []string, f func()) *arena.CorruptionError {
	t.Helper()
	var got any
	func() {
		defer func() { got = recover() }()
		f()
	}()
	ce, ok := got.(*arena.CorruptionError)
	if !ok {
		t.Fatalf("got panic %v (%T), want a CorruptionError, one of %q", got, got, want)
	}
	if !slices.Contains(want, ce.Op) {
		t.Fatalf("panic %q, want one of %q", ce.Error(), want)
	}
	return ce
}

// noPanic runs f and fails t if it panics.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	var got any
	func() {
		defer func() { got = recover() }()
		f()
	}()
	if got != nil {
		t.Fatalf("%s panicked: %v", what, got)
	}
}

// otherArena makes a new arena with live blocks in it, allocated through
// the arena itself, so that a test can show it keeps working after
// another arena or a cache was corrupted.
type otherArena struct {
	a      *arena.Arena
	blocks []hblock
}

func newOtherArena(t *testing.T) *otherArena {
	t.Helper()
	a, err := theHeap().NewArena()
	if err != nil {
		t.Fatalf("NewArena: %v", err)
	}
	o := &otherArena{a: a}
	for i, n := range []int{24, 100, 1000, 5000, 70 << 10} {
		p := a.Malloc(uintptr(n))
		if p == 0 {
			t.Fatalf("arena %d: Malloc(%d) failed", a.Index(), n)
		}
		b := hblock{p: unsafe.Add(nil, p), n: n, id: uint64(i) + 1000}
		b.fill()
		o.blocks = append(o.blocks, b)
	}
	return o
}

// works checks that the arena's blocks are intact and that it still
// allocates and frees, and that Check finds nothing wrong in it.
func (o *otherArena) works(t *testing.T) {
	t.Helper()
	for _, b := range o.blocks {
		if msg := b.bad(); msg != "" {
			t.Fatalf("arena %d: %s", o.a.Index(), msg)
		}
	}
	for _, n := range []int{24, 100, 1000, 5000, 70 << 10, 200 << 10} {
		p := o.a.Malloc(uintptr(n))
		if p == 0 {
			t.Fatalf("arena %d: Malloc(%d) failed", o.a.Index(), n)
		}
		b := hblock{p: unsafe.Add(nil, p), n: n, id: uint64(n)}
		b.fill()
		if msg := b.bad(); msg != "" {
			t.Fatalf("arena %d: %s", o.a.Index(), msg)
		}
		Free(b.p)
	}
	if err := theHeap().Check(nil); err != nil && strings.HasPrefix(err.Error(), fmt.Sprintf("arena %d:", o.a.Index())) {
		t.Fatalf("Check finds arena %d broken: %v", o.a.Index(), err)
	}
}

// free frees the arena's blocks.
func (o *otherArena) free(t *testing.T) {
	t.Helper()
	for _, b := range o.blocks {
		if msg := b.bad(); msg != "" {
			t.Fatalf("arena %d: %s", o.a.Index(), msg)
		}
		Free(b.p)
	}
	o.blocks = nil
}

// captureStderr runs f with os.Stderr redirected and returns what f wrote.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	func() {
		defer func() { os.Stderr = saved }()
		f()
	}()
	w.Close()
	return <-done
}

// ---- check_action ----

// TestCheckAction: misuse (a pointer offheap did not return, a double free,
// a realloc of a freed block) is ignored at level 0, printed in one line and
// ignored at 1, and panics at 2 and 3; corruption inside an arena panics at
// every level. Each level runs in its own process, set by MALLOC_CHECK_.
func TestCheckAction(t *testing.T) {
	for level := 0; level <= 3; level++ {
		t.Run(strconv.Itoa(level), func(t *testing.T) {
			if runInChild(t, "MALLOC_CHECK_="+strconv.Itoa(level)) {
				return
			}
			checkActionBody(t, level)
		})
	}
}

func checkActionBody(t *testing.T, level int) {
	if got := Setting(tune.CheckAction); got != int64(level) {
		t.Fatalf("check_action is %d, want %d from MALLOC_CHECK_", got, level)
	}
	var live blockSet
	for _, n := range []int{40, 3000, 200 << 10, 2 << 20} {
		if !live.malloc(n) {
			t.Fatalf("Malloc(%d) failed", n)
		}
	}
	goMem := make([]byte, 64)
	hardSink = goMem // on the Go heap, where it does not move
	bad := unsafe.Add(unsafe.Pointer(&goMem[0]), (16-uintptr(unsafe.Pointer(&goMem[0]))%16)%16)
	freed := Malloc(100)
	Free(freed)
	freedMapped := Malloc(4 << 20)
	Free(freedMapped)

	calls := []struct {
		name  string
		want  string // the message
		call  func()
		after func(t *testing.T) // checks the call was ignored (levels 0 and 1)
	}{
		{"free of Go memory", "free(): invalid pointer", func() { Free(bad) }, nil},
		{"free of an interior pointer", "free(): invalid pointer", func() { Free(unsafe.Add(live.blocks[1].p, 64)) }, nil},
		{"double free (cached)", "free(): double free detected in tcache 2", func() { Free(freed) }, nil},
		{"double free (mapped)", "free(): invalid pointer", func() { Free(freedMapped) }, nil},
		{"realloc of a freed block", "realloc(): invalid pointer (already freed)", func() {
			if q := Realloc(freed, 200); q != nil {
				t.Fatalf("Realloc of a freed block returned %p, want nil", q)
			}
		}, nil},
		{"realloc of Go memory", "realloc(): invalid pointer", func() {
			if q := Realloc(bad, 200); q != nil {
				t.Fatalf("Realloc of Go memory returned %p, want nil", q)
			}
		}, nil},
		{"usable size of Go memory", "malloc_usable_size(): invalid pointer", func() {
			if n := UsableSize(bad); n != 0 {
				t.Fatalf("UsableSize of Go memory = %d, want 0", n)
			}
		}, nil},
	}
	for _, c := range calls {
		var out string
		if level >= 2 {
			out = captureStderr(t, func() {
				ce := expectPanic(t, c.want, c.call)
				if ce.Addr == 0 {
					t.Errorf("%s: the panic names no address", c.name)
				}
			})
		} else {
			out = captureStderr(t, func() { noPanic(t, c.name, c.call) })
		}
		switch level {
		case 0, 2, 3:
			if out != "" {
				t.Errorf("%s at level %d printed %q", c.name, level, out)
			}
		case 1:
			if !strings.HasPrefix(out, "offheap: "+c.want+" (address 0x") || strings.Count(out, "\n") != 1 ||
				!strings.HasSuffix(out, "call ignored (check_action 1)\n") {
				t.Errorf("%s at level 1 printed %q, want one line naming %q", c.name, out, c.want)
			}
		}
	}
	live.verify(t, "after the bad calls")
	mustCheckHeap(t, "after the bad calls")

	// Corruption inside an arena panics at every level: an overflow into
	// the next chunk's header, found when the block leaves the cache (the
	// free itself, at harden=0, reads only the block's own header).
	a, b := adjacentPair(t, 3000)
	next := unsafe.Add(a, UsableSize(a)) // b's size word
	saved := *(*uint64)(next)
	*(*byte)(next) = 0
	if fastPaths {
		// The free itself finds the overflow when a's cache bin is full
		// and flushes at once; otherwise the flush finds it.
		expectPanic(t, "free(): invalid next size (normal)", func() { Free(a); FlushCaches() })
	} else {
		expectPanic(t, "free(): invalid next size (normal)", func() { Free(a) })
		*(*uint64)(next) = saved
		Free(a)
	}
	*(*uint64)(next) = saved
	Free(b)
	live.freeEvery(t, 1)
	mustCheckHeap(t, "at the end")

	// Mallopt changes the level at run time.
	for _, l := range []int{0, 3} {
		if err := Mallopt(tune.CheckAction, l); err != nil {
			t.Fatal(err)
		}
		if l == 0 {
			noPanic(t, "free of Go memory at level 0", func() { Free(bad) })
		} else {
			expectPanic(t, "free(): invalid pointer", func() { Free(bad) })
		}
	}
	runtime.KeepAlive(goMem)
}

var hardSink []byte

// adjacentPair returns two blocks of n bytes, the second right after the
// first (its header where the first's usable bytes end).
func adjacentPair(t *testing.T, n int) (a, b unsafe.Pointer) {
	t.Helper()
	var all []unsafe.Pointer
	at := map[uintptr]unsafe.Pointer{}
	for range 64 {
		p := Malloc(n)
		if p == nil {
			t.Fatalf("Malloc(%d) failed", n)
		}
		all = append(all, p)
		at[uintptr(p)] = p
	}
	for _, p := range all {
		if q, ok := at[uintptr(p)+arena.ChunkSize(uintptr(p)-16)]; ok {
			a, b = p, q
			break
		}
	}
	if a == nil {
		t.Fatalf("no two of 64 blocks of %d bytes are neighbours", n)
	}
	for _, p := range all {
		if p != a && p != b {
			Free(p)
		}
	}
	return a, b
}

// ---- double frees from two goroutines at once ----

// TestConcurrentDoubleFree frees each block from two goroutines released at
// the same instant, many times, for blocks of the per-P caches' classes,
// heap blocks above them and mapped blocks: exactly one of the two frees
// wins and the other panics with a double-free message, every time, with
// harden=1 (the cache key's compare-and-swap, the mapped set) and in the
// debug mode (the canary's compare-and-swap as well). At harden=0, the
// default, the free fast path checks the key without a compare-and-swap,
// so both frees of such a race may get past it (SECURITY.md).
//
// With harden=1 trimming is off here: a free that sends the block to
// its arena may give the memory back to the system at once (trimming the
// top), and the losing free, reading the block's header without a lock,
// then faults instead of panicking (SECURITY.md says so). The debug mode
// turns such a fault into the double-free panic, so it runs with trimming
// on.
func TestConcurrentDoubleFree(t *testing.T) {
	for _, mode := range []string{"harden", "debug"} {
		t.Run(mode, func(t *testing.T) {
			env := []string{"OFFHEAP=harden=1"}
			if mode == "debug" {
				env = []string{"OFFHEAP=debug=1000000"}
			}
			if runInChild(t, env...) {
				return
			}
			if runtime.GOMAXPROCS(0) < 2 {
				runtime.GOMAXPROCS(2)
			}
			if mode == "harden" {
				if err := Mallopt(tune.TrimThreshold, 1<<40); err != nil {
					t.Fatal(err)
				}
			}
			concurrentDoubleFree(t)
		})
	}
}

func concurrentDoubleFree(t *testing.T) {
	trials := 200
	if testing.Short() {
		trials = 40
	}
	var other blockSet
	for _, n := range []int{40, 1000, 3000, 100 << 10} {
		other.malloc(n)
	}
	losses := map[string]int{}
	for _, n := range []int{40, 1000, 20 << 10, 500 << 10, 4 << 20} {
		for i := 0; i < trials; i++ {
			p := Malloc(n)
			if p == nil {
				t.Fatalf("Malloc(%d) failed", n)
			}
			var ready atomic.Int32
			res := make(chan any, 2)
			for range 2 {
				go func() {
					var r any
					defer func() { res <- r }()
					defer func() { r = recover() }()
					// The first to arrive spins until the second does.
					for ready.Add(1); ready.Load() < 2; {
					}
					Free(p)
				}()
			}
			r1, r2 := <-res, <-res
			wins := 0
			for _, r := range []any{r1, r2} {
				if r == nil {
					wins++
					continue
				}
				ce, ok := r.(*arena.CorruptionError)
				// "invalid size": the loser read the block's header while it
				// was the top, and under the lock found it merged into the
				// chunk before it (its header spoiled).
				if !ok || !(strings.Contains(ce.Op, "double free") || ce.Op == "free(): invalid pointer" ||
					ce.Op == "free(): invalid size" || ce.Op == "munmap_chunk(): invalid pointer") {
					t.Fatalf("%d bytes, trial %d: the losing free panicked with %v", n, i, r)
				}
				losses[ce.Op]++
			}
			if wins != 1 {
				t.Fatalf("%d bytes, trial %d: %d of the two frees won (%v, %v)", n, i, wins, r1, r2)
			}
		}
	}
	t.Logf("%d double frees from two goroutines, each won by one; the losers' messages: %v", 5*trials, losses)
	other.verify(t, "after the double frees")
	other.freeEvery(t, 1)
	mustCheckHeap(t, "after the double frees")
}

// ---- the debug mode ----

// TestDebugMode runs in a child with OFFHEAP=debug=N: canaries after every
// block, guard pages after mapped ones, and a full Check every N
// operations.
func TestDebugMode(t *testing.T) {
	if runInChild(t, "OFFHEAP=debug=50") {
		return
	}
	theHeap()
	if !debugOn.Load() || !canaries || debugEvery.Load() != 50 {
		t.Fatalf("debug mode not on: debugOn %v canaries %v every %d", debugOn.Load(), canaries, debugEvery.Load())
	}
	// A fixed mmap threshold (the dynamic one would rise with the large
	// blocks freed below): blocks from 128 KiB up are mapped.
	if err := Mallopt(tune.MmapThreshold, 128<<10); err != nil {
		t.Fatal(err)
	}
	var live blockSet
	sizes := []int{0, 1, 24, 40, 100, 1000, 1024, 3000, 60 << 10, 100 << 10, 200 << 10, 1 << 20, 5 << 20}
	for _, n := range sizes {
		p := Malloc(n)
		if p == nil {
			t.Fatalf("Malloc(%d) failed", n)
		}
		if u := UsableSize(p); u != n {
			t.Fatalf("UsableSize of a %d-byte block is %d in debug mode, want %d", n, u, n)
		}
		live.add(p, n)
	}
	// Calloc, AlignedAlloc, Realloc keep their promises.
	for _, n := range []int{10, 5000, 300 << 10} {
		p := Calloc(n, 3)
		for j, c := range unsafe.Slice((*byte)(p), 3*n) {
			if c != 0 {
				t.Fatalf("Calloc(%d, 3): byte %d is %d", n, j, c)
			}
		}
		live.add(p, 3*n)
		q := AlignedAlloc(4096, n)
		if uintptr(q)%4096 != 0 {
			t.Fatalf("AlignedAlloc(4096, %d) = %p", n, q)
		}
		live.add(q, n)
	}
	for i := range live.blocks {
		b := &live.blocks[i]
		np := Realloc(b.p, b.n*2+10)
		if np == nil {
			t.Fatalf("Realloc(%d -> %d) failed", b.n, b.n*2+10)
		}
		if msg := (hblock{p: np, n: b.n, id: b.id}).bad(); msg != "" {
			t.Fatalf("Realloc lost the contents: %s", msg)
		}
		b.p, b.n = np, b.n*2+10
		b.fill()
	}
	live.verify(t, "after Realloc")
	mustCheckHeap(t, "debug mode")

	// A one-byte overflow past the requested size is found by Free, whatever
	// the size, and the block is not freed.
	for _, n := range []int{0, 40, 1000, 3000, 100 << 10, 1 << 20} {
		p := Malloc(n)
		*(*byte)(unsafe.Add(p, n)) ^= 0xFF
		want := fmt.Sprintf("free(): canary overwritten 0 bytes past the %d-byte block (buffer overflow)", n)
		ce := expectPanic(t, want, func() { Free(p) })
		if ce.Addr != uintptr(p) {
			t.Fatalf("the canary panic names %#x, want %p", ce.Addr, p)
		}
		*(*byte)(unsafe.Add(p, n)) ^= 0xFF // repair: now it frees
		Free(p)
		// A second free is a double free.
		switch {
		case n >= 1<<20:
			expectPanic(t, "free(): invalid pointer", func() { Free(p) }) // unmapped
		case n <= 3000:
			// Found in the P's cache, where the first free put it, or in
			// the arena when the idle flusher (or the goroutine's move to
			// another P, whose cache the flusher then empties) took it
			// there between the two frees: glibc's message for either
			// place, a double free both times.
			expectPanicOneOf(t, []string{"free(): double free detected in tcache 2", "double free or corruption (!prev)"}, func() { Free(p) })
		}
	}

	// A run past the end of a mapped block faults on the guard page.
	p := Malloc(1 << 20)
	c := uintptr(p) - 16
	if !arena.IsMmapped(c) {
		t.Fatal("a 1 MiB block is not mapped")
	}
	guard := canaryTail(c)
	if faultAddr := writeFaults(uintptr(p), guard+1); faultAddr != guard {
		t.Fatalf("writing past a mapped block from %p faulted at %#x, want the guard page at %#x", p, faultAddr, guard)
	}
	// Writing up to the guard damaged the canary: Free says so, and the
	// block stays allocated; repair it by hand and free it.
	expectPanic(t, "free(): canary size word overwritten (buffer overflow?)", func() { Free(p) })
	if !placeCanary(uintptr(p), 1<<20) {
		t.Fatal("cannot repair the canary")
	}
	Free(p)

	// The periodic Check: a write after free into a cached block's key is
	// found within 50 operations.
	q := Malloc(100)
	Free(q)
	*(*uintptr)(unsafe.Add(q, 8)) = 0
	var got any
	func() {
		defer func() { got = recover() }()
		for i := 0; i < 60; i++ {
			Free(Malloc(5000))
		}
	}()
	ce, ok := got.(*arena.CorruptionError)
	if !ok || !strings.HasPrefix(ce.Op, "debug check: cache: class") || !strings.Contains(ce.Op, "lost its key") {
		t.Fatalf("60 operations after a write into a freed block: %v, want a debug check panic naming the lost key", got)
	}
	live.freeEvery(t, 1)
	mustCheckHeap(t, "at the end")
}

// writeFaults writes bytes from a up to end and returns the address of the
// first write that faulted, or 0.
func writeFaults(a, end uintptr) (fault uintptr) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(interface{ Addr() uintptr }); ok {
				fault = e.Addr()
				return
			}
			panic(r)
		}
	}()
	for ; a < end; a++ {
		*(*byte)(unsafe.Add(nil, a)) = 0x5A
	}
	return 0
}

// TestEmptyHeapsGoAway: heaps of an arena that become entirely free are
// given back after a large free even when the top stays below the trim
// threshold, as glibc's heap_trim does (the soak found them staying
// resident: RSS many times the live memory).
func TestEmptyHeapsGoAway(t *testing.T) {
	if runInChild(t, "OFFHEAP=mmap_threshold=64m,trim_threshold=1g") {
		return
	}
	other := newOtherArena(t)
	other.free(t)
	a := other.a
	var ps []uintptr
	for i := 0; i < 40; i++ { // 160 MiB: three heaps at least
		p := a.Malloc(4 << 20)
		if p == 0 {
			t.Fatalf("arena %d: Malloc(4 MiB) failed", a.Index())
		}
		ps = append(ps, p)
	}
	grown := a.Info(false)
	if grown.Regions < 3 {
		t.Fatalf("160 MiB in %d heaps", grown.Regions)
	}
	for i := len(ps) - 1; i >= 0; i-- {
		Free(unsafe.Add(nil, ps[i]))
	}
	after := a.Info(false)
	t.Logf("arena %d: %d heaps, %d MiB before the frees; %d heap, %d KiB after", a.Index(),
		grown.Regions, grown.System>>20, after.Regions, after.System>>10)
	if after.Regions != 1 || after.System > arena.HeapSize { // the first heap's top stays: below the trim threshold
		t.Fatalf("after freeing everything arena %d keeps %d heaps, %d bytes: the free heaps did not go", a.Index(), after.Regions, after.System)
	}
	mustCheckHeap(t, "at the end")
}
