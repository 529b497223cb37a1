package alloc_test

// Acceptance point 5: bad inputs. A bad pointer, a double free or a
// corrupted header panics with glibc's message and the address (an
// *arena.CorruptionError) and leaves the allocator usable; an impossible
// request returns nil and changes nothing; Mallopt refuses bad values with
// an error naming the accepted range and keeps the setting.

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/tune"
)

// expectCorruption runs f and checks that it panics with a CorruptionError
// whose message is want, naming address addr (0: any address).
func expectCorruption(t *testing.T, want string, addr uintptr, f func()) {
	t.Helper()
	var got any
	func() {
		defer func() { got = recover() }()
		f()
	}()
	if got == nil {
		t.Fatalf("no panic, want %q", want)
	}
	ce, ok := got.(*arena.CorruptionError)
	if !ok {
		t.Fatalf("panic %T %v, want an *arena.CorruptionError %q", got, got, want)
	}
	if ce.Op != want {
		t.Fatalf("panic %q, want %q", ce.Error(), want)
	}
	if addr != 0 && ce.Addr != addr {
		t.Fatalf("panic %q names address %#x, want %#x", ce.Error(), ce.Addr, addr)
	}
	if msg := ce.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, fmt.Sprintf("%#x", ce.Addr)) {
		t.Fatalf("message %q does not start with %q and name the address", msg, want)
	}
	t.Logf("panicked as expected: %v", ce)
}

// stillUsable allocates, fills and frees blocks of several sizes and runs
// Check: the allocator works after whatever the test did.
func stillUsable(t *testing.T) {
	t.Helper()
	var bs []block
	for i, n := range []int{0, 24, 100, 1000, 5000, 70 << 10, 300 << 10, 2 << 20} {
		p := alloc.Malloc(n)
		if p == nil {
			t.Fatalf("malloc(%d) failed after the bad input", n)
		}
		b := block{p: uintptr(p), n: uintptr(n), id: uint64(i + 1000)}
		fillPattern(b.p, b.id, 0, b.n)
		bs = append(bs, b)
	}
	for _, b := range bs {
		if msg := checkPattern(b.p, b.id, 0, b.n); msg != "" {
			t.Fatalf("block %d: %s", b.id, msg)
		}
		alloc.Free(b.ptr())
	}
	mustCheck(t, "after the bad input")
}

// align16 returns the first 16-aligned address at or after p.
func align16(p unsafe.Pointer) unsafe.Pointer {
	return unsafe.Add(p, (16-uintptr(p)%16)%16)
}

// withHeapChunks sets a huge mmap threshold for the duration of f, so that
// large requests come from the heap (and stay out of the per-P caches).
func withHeapChunks(t *testing.T, f func()) {
	t.Helper()
	mallopts(t, []paramValue{{tune.MmapThreshold, 1 << 30}})
	defer restoreDefaults(t)
	f()
}

// withMappedChunks sets the mmap threshold to 128 KiB for the duration of
// f and passes it a request size that no free memory of the heap can serve
// (glibc maps only what the top and the bins cannot serve), so that a
// Malloc of that size is mapped.
func withMappedChunks(t *testing.T, f func(n int)) {
	t.Helper()
	mallopts(t, []paramValue{{tune.MmapThreshold, 128 << 10}})
	defer restoreDefaults(t)
	f(alloc.Mallinfo2().Fordblks + 1<<20)
}

var goHeapBuf []byte

func TestBadPointers(t *testing.T) {
	t.Run("go-heap", func(t *testing.T) {
		goHeapBuf = make([]byte, 256) // escapes: on the Go heap for sure
		p := align16(unsafe.Pointer(&goHeapBuf[0]))
		expectCorruption(t, "free(): invalid pointer", uintptr(p), func() { alloc.Free(p) })
		expectCorruption(t, "realloc(): invalid pointer", uintptr(p), func() { alloc.Realloc(p, 10) })
		expectCorruption(t, "malloc_usable_size(): invalid pointer", uintptr(p), func() { alloc.UsableSize(p) })
		stillUsable(t)
	})
	t.Run("stack", func(t *testing.T) {
		var local [64]byte
		p := align16(unsafe.Pointer(&local[0]))
		// No address check: the stack (and p with it) may move when it grows.
		expectCorruption(t, "free(): invalid pointer", 0, func() { alloc.Free(p) })
		stillUsable(t)
	})
	t.Run("interior", func(t *testing.T) {
		for _, n := range []int{200, 5000, 100 << 10} {
			p := alloc.Malloc(n)
			fillPattern(uintptr(p), 7, 0, uintptr(n))
			for _, off := range []int{16, 32, 48, n / 2 &^ 15} {
				q := unsafe.Add(p, off)
				expectCorruption(t, "free(): invalid pointer", uintptr(q), func() { alloc.Free(q) })
			}
			if msg := checkPattern(uintptr(p), 7, 0, uintptr(n)); msg != "" {
				t.Fatalf("the block changed: %s", msg)
			}
			alloc.Free(p)
		}
		withMappedChunks(t, func(n int) {
			p := alloc.Malloc(n)
			if m := alloc.Mallinfo2(); m.Hblks == 0 {
				t.Fatalf("a block of %d bytes is not mapped", n)
			}
			for _, off := range []int{16, 4096, 512 << 10} {
				q := unsafe.Add(p, off)
				expectCorruption(t, "free(): invalid pointer", uintptr(q), func() { alloc.Free(q) })
			}
			alloc.Free(p)
		})
		stillUsable(t)
	})
	t.Run("misaligned", func(t *testing.T) {
		p := alloc.Malloc(100)
		for _, off := range []int{1, 8, 15} {
			q := unsafe.Add(p, off)
			expectCorruption(t, "free(): invalid pointer", uintptr(q), func() { alloc.Free(q) })
			expectCorruption(t, "realloc(): invalid pointer", uintptr(q), func() { alloc.Realloc(q, 200) })
		}
		alloc.Free(p)
		stillUsable(t)
	})
	t.Run("nil", func(t *testing.T) {
		alloc.Free(nil)
		if n := alloc.UsableSize(nil); n != 0 {
			t.Fatalf("UsableSize(nil) = %d", n)
		}
		stillUsable(t)
	})
}

func TestDoubleFree(t *testing.T) {
	t.Run("cached", func(t *testing.T) {
		for _, n := range []int{0, 40, 1000, 3000, 60 << 10} {
			p := alloc.Malloc(n)
			alloc.Free(p)
			expectCorruption(t, "free(): double free detected in tcache 2", uintptr(p), func() { alloc.Free(p) })
		}
		stillUsable(t)
	})
	t.Run("flushed", func(t *testing.T) {
		// The chunk went from the cache back to its arena before the second
		// free: it is a free chunk of the heap now.
		for _, n := range []int{40, 1000, 3000, 60 << 10} {
			p := alloc.Malloc(n)
			g := alloc.Malloc(n) // keeps p from merging with the top
			alloc.Free(p)
			alloc.FlushCaches()
			func() {
				defer func() {
					if e := recover(); e == nil {
						t.Fatalf("second free of a %d-byte block after FlushCaches was not detected", n)
					} else if ce, ok := e.(*arena.CorruptionError); !ok || !strings.Contains(ce.Op, "double free") {
						t.Fatalf("second free of a %d-byte block: panic %v, want a double free", n, e)
					} else {
						t.Logf("n=%d: %v", n, ce)
					}
				}()
				alloc.Free(p)
			}()
			alloc.Free(g)
			mustCheck(t, fmt.Sprintf("after the double free of %d bytes", n))
		}
		stillUsable(t)
	})
	t.Run("heap", func(t *testing.T) {
		withHeapChunks(t, func() {
			p := alloc.Malloc(1 << 20)
			g := alloc.Malloc(1 << 20) // keeps p from merging with the top
			if m := alloc.Mallinfo2(); m.Hblks != 0 {
				t.Fatalf("%d chunks are mapped", m.Hblks)
			}
			alloc.Free(p)
			expectCorruption(t, "double free or corruption (!prev)", 0, func() { alloc.Free(p) })
			alloc.Free(g)
			// Next to the top: the first free merged it into the top.
			p = alloc.Malloc(1 << 20)
			alloc.Free(p)
			expectCorruption(t, "double free or corruption (top)", 0, func() { alloc.Free(p) })
		})
		stillUsable(t)
	})
	t.Run("mapped", func(t *testing.T) {
		withMappedChunks(t, func(n int) {
			p := alloc.Malloc(n)
			if m := alloc.Mallinfo2(); m.Hblks != 1 {
				t.Fatalf("%d chunks are mapped, want 1", m.Hblks)
			}
			alloc.Free(p)
			expectCorruption(t, "free(): invalid pointer", uintptr(p), func() { alloc.Free(p) })
		})
		stillUsable(t)
	})
	t.Run("realloc-freed", func(t *testing.T) {
		p := alloc.Malloc(100)
		alloc.Free(p)
		expectCorruption(t, "realloc(): invalid pointer (already freed)", uintptr(p), func() { alloc.Realloc(p, 200) })
		withHeapChunks(t, func() {
			p := alloc.Malloc(1 << 20)
			g := alloc.Malloc(100 << 10)
			alloc.Free(p)
			func() {
				defer func() {
					e := recover()
					ce, ok := e.(*arena.CorruptionError)
					if !ok || !strings.HasPrefix(ce.Op, "realloc(): ") {
						t.Fatalf("realloc of a freed heap chunk: panic %v, want a realloc() corruption error", e)
					}
					t.Logf("panicked as expected: %v", ce)
				}()
				alloc.Realloc(p, 2<<20)
			}()
			alloc.Free(g)
		})
		stillUsable(t)
	})
	t.Run("realloc-zero-frees", func(t *testing.T) {
		p := alloc.Malloc(64)
		if q := alloc.Realloc(p, 0); q != nil {
			t.Fatalf("Realloc(p, 0) = %p, want nil", q)
		}
		// It was freed: freeing it again is a double free.
		expectCorruption(t, "free(): double free detected in tcache 2", uintptr(p), func() { alloc.Free(p) })
		stillUsable(t)
	})
}

// TestCorruptedNeighbour overwrites the size word of the chunk after a
// block (a one-word overflow) and frees the block. With harden=1 the free
// itself finds it; by default (harden=0) the free fast path reads only the
// block's own header, and the overflow is found when the block leaves the
// per-P cache (FlushCaches here), where the arena checks its neighbours.
func TestCorruptedNeighbour(t *testing.T) {
	// The block must reach the cache on the default path: a sampled block
	// is freed through the arena, which finds the overflow at once, and so
	// is one freed on a P the goroutine moved to before that P had a
	// cache. Sampling off and one P for the test.
	defer alloc.SetProfileRate(alloc.ProfileRate())
	alloc.SetProfileRate(0)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, harden := range []int{1, 0} {
		t.Run(fmt.Sprintf("harden=%d", harden), func(t *testing.T) {
			if err := alloc.Mallopt(tune.Harden, harden); err != nil {
				t.Fatal(err)
			}
			defer alloc.Mallopt(tune.Harden, 0)
			corruptedNeighbour(t, harden == 1)
		})
	}
}

func corruptedNeighbour(t *testing.T, hardened bool) {
	cases := []struct {
		name string
		n    int
		heap bool // needs a huge mmap threshold to be a heap chunk
		want string
	}{
		{"small", 40, false, "free(): invalid next size (fast)"},
		{"cached", 3000, false, "free(): invalid next size (normal)"},
		{"large", 1 << 20, true, "free(): invalid next size (normal)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := func() {
				// Find two neighbours among a few blocks of the size.
				var all []unsafe.Pointer
				at := map[uintptr]unsafe.Pointer{}
				for range min(64, 2+(4<<20)/c.n) {
					p := alloc.Malloc(c.n)
					all = append(all, p)
					at[uintptr(p)] = p
				}
				defer func() {
					for _, p := range all {
						alloc.Free(p)
					}
				}()
				var a, b unsafe.Pointer
				for _, p := range all {
					if q, ok := at[uintptr(p)+uintptr(alloc.UsableSize(p))+8]; ok {
						a, b = p, q
						break
					}
				}
				if a == nil {
					t.Fatalf("no two of %d blocks of %d bytes are neighbours", len(all), c.n)
				}
				all = slices.DeleteFunc(all, func(p unsafe.Pointer) bool { return p == a || p == b })
				next := unsafe.Add(a, alloc.UsableSize(a)) // the next chunk's size word
				saved := *(*uint64)(next)
				*(*uint64)(next) = 0x4141414141414141
				if hardened || c.heap || !alloc.FastPaths {
					expectCorruption(t, c.want, 0, func() { alloc.Free(a) })
					*(*uint64)(next) = saved // repair, so that both can be freed
					alloc.Free(a)
					alloc.Free(b)
				} else {
					alloc.Free(a) // into the cache: its own header is sound
					expectCorruption(t, c.want, uintptr(a)-16, alloc.FlushCaches)
					// a was left out of the flush, never to be handed out again;
					// b is intact once repaired.
					*(*uint64)(next) = saved
					alloc.Free(b)
				}
			}
			if c.heap {
				withHeapChunks(t, run)
			} else {
				run()
			}
			stillUsable(t)
		})
	}
}

// TestImpossibleRequests: negative, overflowing and impossibly large
// requests return nil and change nothing.
func TestImpossibleRequests(t *testing.T) {
	p := alloc.Malloc(100)
	fillPattern(uintptr(p), 42, 0, 100)
	alloc.FlushCaches()
	before := alloc.Mallinfo2()
	for _, c := range []struct {
		name string
		f    func() unsafe.Pointer
	}{
		{"Malloc(-1)", func() unsafe.Pointer { return alloc.Malloc(-1) }},
		{"Malloc(MinInt)", func() unsafe.Pointer { return alloc.Malloc(math.MinInt) }},
		{"Malloc(MaxInt)", func() unsafe.Pointer { return alloc.Malloc(math.MaxInt) }},
		{"Malloc(MaxRequest+1)", func() unsafe.Pointer { return alloc.Malloc(int(arena.MaxRequest) + 1) }},
		{"Malloc(1<<62)", func() unsafe.Pointer { return alloc.Malloc(1 << 62) }},
		{"Calloc(-1, 8)", func() unsafe.Pointer { return alloc.Calloc(-1, 8) }},
		{"Calloc(8, -1)", func() unsafe.Pointer { return alloc.Calloc(8, -1) }},
		{"Calloc(1<<32, 1<<32)", func() unsafe.Pointer { return alloc.Calloc(1<<32, 1<<32) }},
		{"Calloc(MaxInt, 2)", func() unsafe.Pointer { return alloc.Calloc(math.MaxInt, 2) }},
		{"Calloc(1<<40, 1<<10)", func() unsafe.Pointer { return alloc.Calloc(1<<40, 1<<10) }},
		{"AlignedAlloc(24, 100)", func() unsafe.Pointer { return alloc.AlignedAlloc(24, 100) }},
		{"AlignedAlloc(48, 10)", func() unsafe.Pointer { return alloc.AlignedAlloc(48, 10) }},
		{"AlignedAlloc(0, 100)", func() unsafe.Pointer { return alloc.AlignedAlloc(0, 100) }},
		{"AlignedAlloc(-16, 100)", func() unsafe.Pointer { return alloc.AlignedAlloc(-16, 100) }},
		{"AlignedAlloc(64, -1)", func() unsafe.Pointer { return alloc.AlignedAlloc(64, -1) }},
		{"AlignedAlloc(4096, MaxInt)", func() unsafe.Pointer { return alloc.AlignedAlloc(4096, math.MaxInt) }},
		{"Realloc(p, -1)", func() unsafe.Pointer { return alloc.Realloc(p, -1) }},
		{"Realloc(p, MaxInt)", func() unsafe.Pointer { return alloc.Realloc(p, math.MaxInt) }},
		{"Realloc(nil, -1)", func() unsafe.Pointer { return alloc.Realloc(nil, -1) }},
	} {
		if q := c.f(); q != nil {
			t.Errorf("%s = %p, want nil", c.name, q)
		}
		if after := alloc.Mallinfo2(); after != before {
			t.Errorf("%s changed Mallinfo2:\n before %s\n after  %s", c.name, infoString(before), infoString(after))
			before = after
		}
	}
	if msg := checkPattern(uintptr(p), 42, 0, 100); msg != "" {
		t.Fatalf("the block passed to Realloc changed: %s", msg)
	}
	alloc.Free(p)
	stillUsable(t)
}

// TestMalloptErrors: unknown parameters and out-of-range values are
// refused with an error that names the accepted range; the setting and
// the arenas' parameters stay as they were.
func TestMalloptErrors(t *testing.T) {
	specs := map[tune.Param]tune.Spec{}
	for _, s := range tune.Specs() {
		specs[s.Param] = s
	}
	paramsBefore := alloc.Params()
	for _, c := range []struct {
		p tune.Param
		v int
	}{
		{tune.MmapThreshold, -1}, {tune.TrimThreshold, -1}, {tune.TopPad, -4096}, {tune.MmapMax, -1},
		{tune.MXFast, 161}, {tune.MXFast, -1}, {tune.Perturb, 256}, {tune.ArenaMax, -1},
		{tune.CheckAction, 99}, {tune.ArenaTest, -1}, {tune.TcacheCount, -1},
	} {
		sp, ok := specs[c.p]
		if !ok {
			t.Fatalf("no spec for %v", c.p)
		}
		before := alloc.Setting(c.p)
		err := alloc.Mallopt(c.p, c.v)
		if err == nil {
			t.Errorf("Mallopt(%v, %d) accepted a value outside [%d, %d]", c.p, c.v, sp.Min, sp.Max)
			continue
		}
		if !errors.Is(err, tune.ErrRange) {
			t.Errorf("Mallopt(%v, %d): %v is not a range error", c.p, c.v, err)
		}
		wantRange := fmt.Sprintf("accepted %d to %d", sp.Min, sp.Max)
		if !strings.Contains(err.Error(), wantRange) || !strings.Contains(err.Error(), sp.Name) {
			t.Errorf("Mallopt(%v, %d): %q does not name %s and say %q", c.p, c.v, err, sp.Name, wantRange)
		}
		if after := alloc.Setting(c.p); after != before {
			t.Errorf("Mallopt(%v, %d) failed but changed the setting from %d to %d", c.p, c.v, before, after)
		}
	}
	for _, p := range []tune.Param{0, 2, 42, -9, -100} {
		err := alloc.Mallopt(p, 1)
		if err == nil || !errors.Is(err, tune.ErrUnknown) || !strings.Contains(err.Error(), "unknown parameter") {
			t.Errorf("Mallopt(%d, 1) = %v, want an unknown-parameter error", int(p), err)
		}
	}
	if after := alloc.Params(); after != paramsBefore {
		t.Errorf("failed Mallopt calls changed the parameters:\n before %+v\n after  %+v", paramsBefore, after)
	}
	stillUsable(t)
}

// TestEdgeRequests: Malloc(0), Realloc(nil, n), Free(nil).
func TestEdgeRequests(t *testing.T) {
	t.Run("malloc0-unique", func(t *testing.T) {
		seen := map[uintptr]bool{}
		var bs []block
		for i := range 2000 {
			p := alloc.Malloc(0)
			if p == nil {
				t.Fatalf("Malloc(0) returned nil")
			}
			if seen[uintptr(p)] {
				t.Fatalf("Malloc(0) returned %p twice", p)
			}
			seen[uintptr(p)] = true
			u := alloc.UsableSize(p)
			if u != 24 {
				t.Fatalf("Malloc(0) gave %d usable bytes, want 24 (a minimum chunk)", u)
			}
			b := block{p: uintptr(p), n: uintptr(u), id: uint64(i + 1)}
			fillPattern(b.p, b.id, 0, b.n)
			bs = append(bs, b)
		}
		for _, b := range bs {
			if msg := checkPattern(b.p, b.id, 0, b.n); msg != "" {
				t.Fatalf("Malloc(0) blocks overlap: %s", msg)
			}
			alloc.Free(b.ptr())
		}
		mustCheck(t, "after Malloc(0)")
	})
	t.Run("realloc-nil", func(t *testing.T) {
		for _, n := range []int{0, 1, 100, 5000, 300 << 10} {
			p := alloc.Realloc(nil, n)
			if p == nil || alloc.UsableSize(p) < n {
				t.Fatalf("Realloc(nil, %d) = %p (usable %d)", n, p, alloc.UsableSize(p))
			}
			fillPattern(uintptr(p), 5, 0, uintptr(n))
			alloc.Free(p)
		}
		mustCheck(t, "after Realloc(nil, n)")
	})
}

type pointerFree struct {
	A int64
	B [4]float64
	C struct{ D, E uint8 }
}

// TestPointerfulTypes: New and MakeSlice refuse types holding Go pointers.
func TestPointerfulTypes(t *testing.T) {
	expectPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			e := recover()
			if e == nil {
				t.Errorf("%s did not panic", name)
				return
			}
			if !strings.Contains(fmt.Sprint(e), "contains Go pointers") {
				t.Errorf("%s panicked with %v", name, e)
			}
		}()
		f()
	}
	expectPanic("New[*int]", func() { alloc.New[*int]() })
	expectPanic("New[string]", func() { alloc.New[string]() })
	expectPanic("New[[]byte]", func() { alloc.New[[]byte]() })
	expectPanic("New[map[int]int]", func() { alloc.New[map[int]int]() })
	expectPanic("New[chan int]", func() { alloc.New[chan int]() })
	expectPanic("New[func()]", func() { alloc.New[func()]() })
	expectPanic("New[any]", func() { alloc.New[any]() })
	expectPanic("New[unsafe.Pointer]", func() { alloc.New[unsafe.Pointer]() })
	expectPanic("New[struct{A int; B *int}]", func() {
		alloc.New[struct {
			A int
			B *int
		}]()
	})
	expectPanic("New[[3]string]", func() { alloc.New[[3]string]() })
	expectPanic("New[nested]", func() { alloc.New[struct{ S struct{ P []byte } }]() })
	expectPanic("MakeSlice[*int]", func() { alloc.MakeSlice[*int](3) })
	expectPanic("MakeSlice[string]", func() { alloc.MakeSlice[string](0) })

	// Pointer-free types work and come zeroed.
	v := alloc.New[pointerFree]()
	if v == nil || *v != (pointerFree{}) {
		t.Fatalf("New[pointerFree] = %v", v)
	}
	alloc.Delete(v)
	s := alloc.MakeSlice[uint32](1000)
	if len(s) != 1000 || cap(s) != 1000 {
		t.Fatalf("MakeSlice: len %d cap %d", len(s), cap(s))
	}
	for i, x := range s {
		if x != 0 {
			t.Fatalf("MakeSlice: element %d = %d", i, x)
		}
	}
	alloc.FreeSlice(s)
	if s := alloc.MakeSlice[uint64](-1); s != nil {
		t.Fatalf("MakeSlice(-1) = %v", s)
	}
	if s := alloc.MakeSlice[[1 << 20]byte](1 << 30); s != nil {
		t.Fatalf("MakeSlice of 2^50 bytes succeeded")
	}
	stillUsable(t)
}
