package arena_test

import (
	"errors"
	"flag"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

func newHeap(t testing.TB, brkLimit uintptr, p arena.Params) (*arena.Heap, *plainMemory) {
	t.Helper()
	m := newPlainMemory(t, brkLimit)
	h, err := arena.New(arena.Config{Memory: m, Break: m, Params: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.StopDecay) // before the memory goes
	return h, m
}

func mustCheck(t testing.TB, h *arena.Heap) {
	t.Helper()
	if err := h.Check(nil); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestRequest2Size(t *testing.T) {
	for _, c := range []struct{ n, want uintptr }{
		{0, 32}, {1, 32}, {24, 32}, {25, 48}, {40, 48}, {41, 64}, {1000, 1008}, {1016, 1024}, {1017, 1040},
	} {
		if got := arena.Request2Size(c.n); got != c.want {
			t.Errorf("Request2Size(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

// op is one step of a table case: "m" allocates size bytes as block name,
// "a" the same aligned to align, "f" frees name, "r" reallocates name to
// size, "t" trims with pad size.
type op struct {
	kind  byte
	name  string
	size  uintptr
	align uintptr
}

type state struct {
	h      *arena.Heap
	m      *plainMemory
	blocks map[string]uintptr
	trim   bool
}

func TestTable(t *testing.T) {
	noMap := arena.DefaultParams()
	noMap.MmapThreshold = 1 << 40
	noMap.DynamicThreshold = false
	cases := []struct {
		name   string
		params arena.Params
		ops    []op
		after  func(t *testing.T, s *state)
	}{
		{
			name: "a freed chunk is reused for the same size",
			ops:  []op{{kind: 'm', name: "a", size: 200}, {kind: 'm', name: "g", size: 16}, {kind: 'f', name: "a"}, {kind: 'm', name: "b", size: 200}},
			after: func(t *testing.T, s *state) {
				check(t, "b reuses a", s.blocks["a"], s.blocks["b"])
			},
		},
		{
			name: "free neighbours coalesce into one chunk",
			ops: []op{{kind: 'm', name: "a", size: 300}, {kind: 'm', name: "b", size: 300}, {kind: 'm', name: "c", size: 300},
				{kind: 'm', name: "g", size: 16}, {kind: 'f', name: "a"}, {kind: 'f', name: "c"}, {kind: 'f', name: "b"}},
			after: func(t *testing.T, s *state) {
				in := s.h.Arena(0).Info(false)
				check(t, "free chunks (merged + top)", 2, in.FreeChunks)
				check(t, "free bytes", in.Top+3*arena.Request2Size(300), in.Free)
			},
		},
		{
			name: "a chunk next to the top merges into it",
			ops:  []op{{kind: 'm', name: "a", size: 5000}, {kind: 'f', name: "a"}},
			after: func(t *testing.T, s *state) {
				in := s.h.Arena(0).Info(false)
				check(t, "free chunks", 1, in.FreeChunks)
				check(t, "everything free", in.System, in.Free)
			},
		},
		{
			name: "fastbins are LIFO and keep their chunks apart",
			ops: []op{{kind: 'm', name: "a", size: 24}, {kind: 'm', name: "b", size: 24}, {kind: 'm', name: "g", size: 16},
				{kind: 'f', name: "a"}, {kind: 'f', name: "b"}, {kind: 'm', name: "c", size: 24}},
			after: func(t *testing.T, s *state) {
				check(t, "c is the last freed", s.blocks["b"], s.blocks["c"])
				in := s.h.Arena(0).Info(false)
				check(t, "fast chunks", 1, in.FastChunks)
			},
		},
		{
			name:   "a split leaves the remainder free",
			params: noMap,
			ops: []op{{kind: 'm', name: "a", size: 2000}, {kind: 'm', name: "g", size: 16}, {kind: 'f', name: "a"},
				{kind: 'm', name: "b", size: 500}},
			after: func(t *testing.T, s *state) {
				check(t, "b takes a's place", s.blocks["a"], s.blocks["b"])
				check(t, "remainder + top", 2, s.h.Arena(0).Info(false).FreeChunks)
			},
		},
		{
			name: "large requests take the best fit",
			ops: []op{{kind: 'm', name: "x", size: 3000}, {kind: 'm', name: "g1", size: 16}, {kind: 'm', name: "y", size: 5000},
				{kind: 'm', name: "g2", size: 16}, {kind: 'm', name: "z", size: 4000}, {kind: 'm', name: "g3", size: 16},
				{kind: 'f', name: "x"}, {kind: 'f', name: "y"}, {kind: 'f', name: "z"}, {kind: 'm', name: "w", size: 3900}},
			after: func(t *testing.T, s *state) {
				check(t, "w takes z (4000)", s.blocks["z"], s.blocks["w"])
			},
		},
		{
			name: "a request above the threshold is mapped and its free raises the threshold",
			ops:  []op{{kind: 'm', name: "a", size: 200 << 10}, {kind: 'f', name: "a"}},
			after: func(t *testing.T, s *state) {
				n, _, _ := s.h.MappedInfo()
				check(t, "mapped chunks after free", 0, n)
				want := (arena.Request2Size(200<<10) + 8 + pageSize - 1) &^ (pageSize - 1)
				check(t, "mmap threshold", want, s.h.Params().MmapThreshold)
				check(t, "trim threshold", 2*want, s.h.Params().TrimThreshold)
				check(t, "maps (mapped-set table, chunk; the bins are in static memory)", 2, s.m.Calls("map"))
			},
		},
		{
			name:   "with the dynamic threshold off the threshold stays",
			params: arena.Params{MmapThreshold: 128 << 10, TrimThreshold: 128 << 10, TopPad: 128 << 10, MmapMax: 65536, MXFast: 128},
			ops:    []op{{kind: 'm', name: "a", size: 200 << 10}, {kind: 'f', name: "a"}, {kind: 'm', name: "b", size: 200 << 10}},
			after: func(t *testing.T, s *state) {
				check(t, "mmap threshold", uintptr(128<<10), s.h.Params().MmapThreshold)
				n, _, _ := s.h.MappedInfo()
				check(t, "b is mapped", 1, n)
			},
		},
		{
			name: "realloc grows into the top in place",
			ops:  []op{{kind: 'm', name: "a", size: 100}, {kind: 'r', name: "a", size: 5000}},
			after: func(t *testing.T, s *state) {
				check(t, "usable", arena.Request2Size(5000)-8, s.h.Usable(s.blocks["a"]))
			},
		},
		{
			name: "realloc grows into a free neighbour in place",
			ops: []op{{kind: 'm', name: "a", size: 100}, {kind: 'm', name: "b", size: 3000}, {kind: 'm', name: "g", size: 16},
				{kind: 'f', name: "b"}, {kind: 'm', name: "a0", size: 0}, {kind: 'f', name: "a0"}, {kind: 'r', name: "a", size: 2000}},
			after: func(t *testing.T, s *state) {
				in := s.h.Arena(0).Info(false)
				if in.FreeChunks < 1 {
					t.Errorf("no free chunks")
				}
			},
		},
		{
			name: "aligned allocations honour the alignment",
			ops: []op{{kind: 'a', name: "a", size: 100, align: 4096}, {kind: 'a', name: "b", size: 10, align: 64},
				{kind: 'a', name: "c", size: 300 << 10, align: 1 << 16}, {kind: 'f', name: "a"}, {kind: 'f', name: "c"}},
			after: func(t *testing.T, s *state) {
				check(t, "b aligned", uintptr(0), s.blocks["b"]%64)
			},
		},
		{
			name:   "Trim releases free pages in the middle of the heap",
			params: noMap,
			ops: []op{{kind: 'm', name: "a", size: 1 << 20}, {kind: 'm', name: "g", size: 16}, {kind: 'f', name: "a"},
				{kind: 't', size: 0}},
			after: func(t *testing.T, s *state) {
				if !s.trim {
					t.Errorf("Trim returned false")
				}
				if s.m.Calls("release") == 0 {
					t.Errorf("no pages released")
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.params
			if p == (arena.Params{}) {
				p = arena.DefaultParams()
			}
			h, m := newHeap(t, 1<<30, p)
			s := &state{h: h, m: m, blocks: map[string]uintptr{}}
			a := h.Arena(0)
			for _, o := range c.ops {
				switch o.kind {
				case 'm':
					s.blocks[o.name] = a.Malloc(o.size)
					if s.blocks[o.name] == 0 {
						t.Fatalf("malloc(%d) failed", o.size)
					}
				case 'a':
					p := a.Memalign(o.align, o.size)
					if p%o.align != 0 {
						t.Fatalf("memalign(%d, %d) = %#x", o.align, o.size, p)
					}
					s.blocks[o.name] = p
				case 'f':
					h.Free(s.blocks[o.name])
				case 'r':
					s.blocks[o.name] = h.Realloc(s.blocks[o.name], o.size, a)
				case 't':
					s.trim = h.Trim(o.size)
				}
				mustCheck(t, h)
			}
			c.after(t, s)
		})
	}
}

func check[T comparable](t *testing.T, what string, want, got T) {
	t.Helper()
	if want != got {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// TestBreakExhausted: when the break cannot grow the main arena continues
// on heaps, and freeing everything gives the heaps back.
func TestBreakExhausted(t *testing.T) {
	h, m := newHeap(t, 1<<20, arena.DefaultParams())
	a := h.Arena(0)
	var ps []uintptr
	for i := 0; i < 3000; i++ {
		p := a.Malloc(40 << 10)
		if p == 0 {
			t.Fatalf("malloc %d failed", i)
		}
		ps = append(ps, p)
	}
	mustCheck(t, h)
	if r := a.Info(false).Regions; r < 3 {
		t.Fatalf("regions = %d, want the break and at least two heaps", r)
	}
	if m.Calls("reserve") < 2 {
		t.Fatalf("reserve calls = %d", m.Calls("reserve"))
	}
	for _, p := range ps {
		h.Free(p)
	}
	mustCheck(t, h)
	in := a.Info(false)
	if in.Regions != 1 {
		t.Errorf("regions after freeing all = %d, want 1 (heaps deleted)", in.Regions)
	}
	if in.System > 1<<20 {
		t.Errorf("system after freeing all = %d", in.System)
	}
}

// TestNonMainArena: a second arena lives on heaps and its chunks go back to
// it from Heap.Free.
func TestNonMainArena(t *testing.T) {
	h, _ := newHeap(t, 1<<30, arena.DefaultParams())
	a1, err := h.NewArena()
	if err != nil {
		t.Fatal(err)
	}
	var ps []uintptr
	for i := 0; i < 2000; i++ {
		ps = append(ps, a1.Malloc(uintptr(16+i*37%5000)))
	}
	for _, p := range ps {
		if k, a := h.Lookup(p); k != arena.InHeap || a != a1 {
			t.Fatalf("Lookup(%#x) = %d, %v; want arena 1", p, k, a)
		}
	}
	mustCheck(t, h)
	for _, p := range ps {
		h.Free(p)
	}
	mustCheck(t, h)
	if in := a1.Info(false); in.System > 1<<20 {
		t.Errorf("arena 1 keeps %d bytes after freeing all", in.System)
	}
}

func corruption(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		var ce *arena.CorruptionError
		if err, ok := r.(error); !ok || !errors.As(err, &ce) {
			t.Fatalf("want a panic with %q, got %v", want, r)
		}
		if !strings.HasPrefix(ce.Op, want) {
			t.Fatalf("panic %q, want %q", ce.Op, want)
		}
	}()
	f()
}

func TestCorruption(t *testing.T) {
	h, _ := newHeap(t, 1<<30, arena.DefaultParams())
	a := h.Arena(0)
	var x [64]byte
	p := a.Malloc(200)
	g := a.Malloc(16)
	corruption(t, "free(): invalid pointer", func() { h.Free(p + 8) })
	corruption(t, "free(): invalid pointer", func() { h.Free(p + 32) })
	corruption(t, "free(): invalid pointer", func() { h.Free(uintptr(unsafe.Pointer(&x[16]))) })
	corruption(t, "free(): invalid pointer", func() { h.Free(0x10000) })
	h.Free(p)
	corruption(t, "double free or corruption (!prev)", func() { h.Free(p) })
	f := a.Malloc(24)
	h.Free(f)
	corruption(t, "free(): double free detected", func() { h.Free(f) })
	// A one-byte overflow into the next chunk's size word.
	q := a.Malloc(100)
	r := a.Malloc(100)
	*(*byte)(unsafe.Add(nil, q+arena.Request2Size(100)-8)) ^= 0x40
	corruption(t, "free(): invalid next size", func() { h.Free(q) })
	*(*byte)(unsafe.Add(nil, q+arena.Request2Size(100)-8)) ^= 0x40
	h.Free(q)
	h.Free(r)
	h.Free(g)
	// The arena is still usable: its lock was released.
	if a.Malloc(100) == 0 {
		t.Fatal("malloc after recovered panics failed")
	}
	mustCheck(t, h)
}

// TestRandom runs random operations against the arenas with every block
// filled with a pattern derived from its id, verified before free and after
// realloc, with Check after each phase.
var (
	seedFlag = flag.Uint64("seed", 0, "seed for the randomized tests (0: from the clock)")
	paranoid = flag.Bool("paranoid", false, "run Check after every operation of the randomized tests")
)

func TestRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if *seedFlag != 0 {
		seed = *seedFlag
	}
	t.Logf("seed %d (rerun with -seed)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	decay := arena.DefaultParams()
	decay.Decay, decay.KeepMapped = time.Millisecond, true // passes run (off the timer) during the operations
	hugeDecay := arena.Params{MmapThreshold: 4096, TrimThreshold: 0, TopPad: 0, MmapMax: 65536, MXFast: 160,
		Decay: 100 * time.Microsecond, KeepMapped: true, HugePage: 2 << 20}
	for _, p := range []arena.Params{arena.DefaultParams(), {MmapThreshold: 4096, TrimThreshold: 0, TopPad: 0, MmapMax: 65536, MXFast: 160}, decay, hugeDecay} {
		h, _ := newHeap(t, 32<<20, p)
		a1, _ := h.NewArena()
		arenas := []*arena.Arena{h.Arena(0), a1}
		type block struct {
			p, n uintptr
			id   uint64
		}
		var live []block
		var id uint64
		fill := func(b block) {
			s := unsafe.Slice((*byte)(unsafe.Add(nil, b.p)), b.n)
			for i := range s {
				s[i] = byte(b.id*31 + uint64(i)*7)
			}
		}
		verify := func(b block, what string) {
			s := unsafe.Slice((*byte)(unsafe.Add(nil, b.p)), b.n)
			for i := range s {
				if s[i] != byte(b.id*31+uint64(i)*7) {
					t.Fatalf("seed %d: block %d (%#x, %d bytes) byte %d changed %s", seed, b.id, b.p, b.n, i, what)
				}
			}
		}
		size := func() uintptr {
			switch rng.IntN(10) {
			case 0:
				return uintptr(rng.IntN(1 << 20))
			case 1, 2:
				return uintptr(rng.IntN(64 << 10))
			}
			return uintptr(rng.IntN(1024))
		}
		for phase := 0; phase < 6; phase++ {
			for i := 0; i < 4000; i++ {
				a := arenas[rng.IntN(2)]
				switch k := rng.IntN(10); {
				case k < 4 || len(live) == 0:
					n := size()
					var p uintptr
					kind := rng.IntN(3)
					switch kind {
					case 0:
						p = a.Calloc(n)
						if z := unsafe.Slice((*byte)(unsafe.Add(nil, p)), n); len(z) > 0 {
							for j, v := range z {
								if v != 0 {
									t.Fatalf("seed %d: calloc(%d) byte %d = %d", seed, n, j, v)
								}
							}
						}
					case 1:
						al := uintptr(1) << (4 + rng.IntN(10))
						p = a.Memalign(al, n)
						if p%al != 0 {
							t.Fatalf("memalign %d: %#x", al, p)
						}
					default:
						p = a.Malloc(n)
					}
					if p == 0 {
						t.Fatalf("seed %d: allocation of %d failed", seed, n)
					}
					if *paranoid {
						t.Logf("alloc(kind %d) %#x %d", kind, p, n)
					}
					if u := h.Usable(p); u < n {
						t.Fatalf("usable %d < %d", u, n)
					}
					id++
					b := block{p, n, id}
					fill(b)
					live = append(live, b)
				case k < 8:
					j := rng.IntN(len(live))
					verify(live[j], "before free")
					if *paranoid {
						t.Logf("free %#x %d", live[j].p, live[j].n)
					}
					h.Free(live[j].p)
					live[j] = live[len(live)-1]
					live = live[:len(live)-1]
				default:
					j := rng.IntN(len(live))
					b := live[j]
					if *paranoid {
						t.Logf("realloc %#x %d", b.p, b.n)
					}
					n := size()
					np := h.Realloc(b.p, n, a)
					if np == 0 {
						t.Fatalf("realloc failed")
					}
					b.p = np
					b.n = min(b.n, n)
					verify(b, "after realloc")
					b.n = n
					id++
					b.id = id
					fill(b)
					live[j] = b
				}
				if *paranoid && phase == 0 && i == 889 {
					t.Logf("before:\n%s", h.Arena(0).Dump(0, ^uintptr(0)))
				}
				if *paranoid {
					if err := h.Check(nil); err != nil {
						t.Fatalf("seed %d phase %d op %d: %v\n%s", seed, phase, i, err, h.Arena(0).Dump(live[len(live)-1].p-2000, live[len(live)-1].p+2000))
					}
				}
			}
			mustCheck(t, h)
			if phase == 3 {
				for _, b := range live {
					verify(b, "at phase end")
					h.Free(b.p)
				}
				live = live[:0]
				h.Trim(0)
				mustCheck(t, h)
			}
		}
		for _, b := range live {
			verify(b, "at the end")
			h.Free(b.p)
		}
		mustCheck(t, h)
	}
}
