package fileheap_test

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/offheap/offheap/fileheap"
)

// testSeed returns the seed of a randomized test: FILEHEAP_SEED if set
// (to reproduce a failure), else a random one. It is logged.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("FILEHEAP_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FILEHEAP_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (FILEHEAP_SEED=%d reproduces)", seed, seed)
	return seed
}

// open opens a heap in a new file of the test's directory.
func open(t testing.TB, size int64) (*fileheap.Heap, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "heap")
	h, err := fileheap.Open(path, fileheap.Options{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	return h, path
}

func reopen(t testing.TB, path string, size int64) *fileheap.Heap {
	t.Helper()
	h, err := fileheap.Open(path, fileheap.Options{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustCheck(t testing.TB, h *fileheap.Heap) {
	t.Helper()
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
}

// fill writes a pattern derived from seed over b, a word at a time;
// hasPattern checks it.
func fill(b []byte, seed uint64) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], seed^uint64(i)*0x9E3779B97F4A7C15)
	}
	for ; i < len(b); i++ {
		b[i] = patternByte(seed, i)
	}
}

// patternByte is byte i of the pattern, as the word holding it has it, so
// that every prefix of a filled block has the pattern.
func patternByte(seed uint64, i int) byte {
	return byte((seed ^ uint64(i&^7)*0x9E3779B97F4A7C15) >> (8 * (i & 7)))
}

func hasPattern(b []byte, seed uint64) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != seed^uint64(i)*0x9E3779B97F4A7C15 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] != patternByte(seed, i) {
			return false
		}
	}
	return true
}

func TestAllocFree(t *testing.T) {
	h, _ := open(t, 0)
	defer h.Close()
	var offs []fileheap.Offset
	for _, n := range []int{0, 1, 8, 24, 25, 64, 100, 1000, 1001, 4096, 100 << 10, 1 << 20} {
		off, err := h.Alloc(n)
		if err != nil {
			t.Fatalf("Alloc(%d): %v", n, err)
		}
		if off == 0 || off%16 != 0 {
			t.Fatalf("Alloc(%d) = %#x, want a 16-aligned offset", n, off)
		}
		b := h.Bytes(off)
		if len(b) < n {
			t.Fatalf("Bytes(Alloc(%d)) has %d bytes", n, len(b))
		}
		fill(b, uint64(off))
		offs = append(offs, off)
	}
	mustCheck(t, h)
	if blocks, _ := h.InUse(); blocks != len(offs) {
		t.Errorf("InUse blocks = %d, want %d", blocks, len(offs))
	}
	for _, off := range offs {
		if !hasPattern(h.Bytes(off), uint64(off)) {
			t.Fatalf("block %#x lost its pattern", off)
		}
	}
	for _, off := range offs {
		if err := h.Free(off); err != nil {
			t.Fatalf("Free(%#x): %v", off, err)
		}
	}
	mustCheck(t, h)
	if blocks, bytes := h.InUse(); blocks != 0 || bytes != 0 {
		t.Errorf("InUse after freeing everything = %d, %d", blocks, bytes)
	}
}

// The heap against a model: random allocations, frees and reallocs of
// random sizes; every live block keeps its pattern, InUse follows, and
// Check passes.
func TestRandomOps(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 1))
	h, path := open(t, 64<<20)
	live := map[fileheap.Offset]int{} // offset -> requested size
	var order []fileheap.Offset
	var usable int64
	for step := 0; step < 20000; step++ {
		switch k := r.IntN(10); {
		case k < 5 || len(order) == 0:
			n := sizeOf(r)
			off, err := h.Alloc(n)
			if err != nil {
				t.Fatalf("step %d: Alloc(%d): %v", step, n, err)
			}
			if _, dup := live[off]; dup {
				t.Fatalf("step %d: Alloc(%d) returned live block %#x", step, n, off)
			}
			b := h.Bytes(off)
			fill(b[:n], uint64(off)^uint64(n))
			live[off] = n
			usable += int64(len(b))
			order = append(order, off)
		case k < 8:
			i := r.IntN(len(order))
			off := order[i]
			if !hasPattern(h.Bytes(off)[:live[off]], uint64(off)^uint64(live[off])) {
				t.Fatalf("step %d: block %#x lost its pattern", step, off)
			}
			usable -= int64(len(h.Bytes(off)))
			if err := h.Free(off); err != nil {
				t.Fatalf("step %d: Free(%#x): %v", step, off, err)
			}
			delete(live, off)
			order[i] = order[len(order)-1]
			order = order[:len(order)-1]
		default:
			i := r.IntN(len(order))
			off, old := order[i], live[order[i]]
			usable -= int64(len(h.Bytes(off)))
			n := sizeOf(r) + 1
			noff, err := h.Realloc(off, n)
			if err != nil {
				t.Fatalf("step %d: Realloc(%#x, %d): %v", step, off, n, err)
			}
			b := h.Bytes(noff)
			if !hasPattern(b[:min(n, old)], uint64(off)^uint64(old)) {
				t.Fatalf("step %d: Realloc(%#x, %d) -> %#x lost the contents", step, off, n, noff)
			}
			fill(b[:n], uint64(noff)^uint64(n))
			delete(live, off)
			live[noff] = n
			usable += int64(len(b))
			order[i] = noff
		}
		if step%1000 == 0 {
			mustCheck(t, h)
			if blocks, bytes := h.InUse(); blocks != len(live) || bytes != usable {
				t.Fatalf("step %d: InUse = %d, %d; want %d, %d", step, blocks, bytes, len(live), usable)
			}
		}
		if step == 10000 {
			// Close and reopen half-way: everything is still there.
			root := order[0]
			h.SetRoot(root)
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			h = reopen(t, path, 0)
			if h.Root() != root {
				t.Fatalf("Root after reopening = %#x, want %#x", h.Root(), root)
			}
		}
	}
	mustCheck(t, h)
	for off, n := range live {
		if !hasPattern(h.Bytes(off)[:n], uint64(off)^uint64(n)) {
			t.Fatalf("block %#x lost its pattern", off)
		}
		if err := h.Free(off); err != nil {
			t.Fatal(err)
		}
	}
	mustCheck(t, h)
	st, err := h.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("at the end: %+v", st)
	h.Close()
}

// sizeOf draws a request size: mostly small, sometimes large.
func sizeOf(r *rand.Rand) int {
	switch k := r.IntN(100); {
	case k < 70:
		return r.IntN(1001)
	case k < 95:
		return 1000 + r.IntN(8000)
	case k < 99:
		return 8 << 10 << r.IntN(5)
	}
	return 256<<10 + r.IntN(1<<20)
}

func TestBadFree(t *testing.T) {
	h, _ := open(t, 0)
	defer h.Close()
	a, _ := h.Alloc(64)
	b, _ := h.Alloc(4096)
	if err := h.Free(a); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		off  fileheap.Offset
	}{
		{"double free (quick)", a},
		{"zero", 0},
		{"unaligned", b + 8},
		{"interior", b + 64},
		{"header", 64},
		{"past the end", 1 << 40},
		{"past the file, in the mapping", 512 << 20},
		{"past the top, in the file", b + 64<<10},
	} {
		if err := h.Free(tc.off); !errors.Is(err, fileheap.ErrInvalid) {
			t.Errorf("%s: Free(%#x) = %v, want ErrInvalid", tc.name, tc.off, err)
		}
	}
	if err := h.Free(b); err != nil {
		t.Fatal(err)
	}
	if err := h.Free(b); !errors.Is(err, fileheap.ErrInvalid) {
		t.Errorf("double free of a large block: %v", err)
	}
	mustCheck(t, h)
}

// Growing the last block reallocates it in place, the file growing under
// it.
func TestReallocLastBlockInPlace(t *testing.T) {
	h, _ := open(t, 0)
	defer h.Close()
	off, err := h.Alloc(1000)
	if err != nil {
		t.Fatal(err)
	}
	fill(h.Bytes(off)[:1000], 5)
	for n := 2000; n <= 8<<20; n *= 2 {
		noff, err := h.Realloc(off, n)
		if err != nil {
			t.Fatal(err)
		}
		if noff != off {
			t.Fatalf("Realloc(%d) of the last block moved it from %#x to %#x", n, off, noff)
		}
		if !hasPattern(h.Bytes(off)[:1000], 5) {
			t.Fatal("Realloc lost the contents")
		}
	}
	mustCheck(t, h)
}
