package arena_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// TestInUseFastAgrees drives two arenas with random allocations, frees,
// reallocations, aligned allocations and trims, and checks InUseFast
// against what the test knows: every live heap block is recognised with
// its exact chunk and size, a mapped block is not (it is the slow path's),
// and every address freed earlier that no live block covers now is
// refused, whatever became of its chunk (a bin, a fastbin, merged into a
// neighbour or the top, trimmed away). That last point is what lets the
// free fast path of package alloc skip glibc's look at the next chunk.
//
// Blocks are filled with bytes that all have bit 1 set, so that a word of
// user data left in free memory never passes for an in-use header (it
// would carry the M bit); the chance that one does, 2^-16 per check with
// arbitrary data, is not what this test is about.
func TestInUseFastAgrees(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if *seedFlag != 0 {
		seed = *seedFlag
	}
	t.Logf("seed %d (rerun with -seed)", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	p := arena.DefaultParams()
	p.MmapThreshold = 256 << 10
	p.TrimThreshold = 64 << 10
	p.TopPad = 0
	h, _ := newHeap(t, 32<<20, p)
	a1, err := h.NewArena()
	if err != nil {
		t.Fatal(err)
	}
	arenas := []*arena.Arena{h.Arena(0), a1}
	type block struct{ p, n uintptr }
	var live []block
	freed := map[uintptr]bool{}
	fill := func(b block) {
		s := unsafe.Slice((*byte)(unsafe.Add(nil, b.p)), b.n)
		for i := range s {
			s[i] = byte(i)<<2 | 2
		}
	}
	size := func() uintptr {
		switch rng.IntN(12) {
		case 0:
			return uintptr(rng.IntN(512 << 10))
		case 1, 2:
			return uintptr(rng.IntN(16 << 10))
		}
		return uintptr(rng.IntN(600))
	}
	check := func(step int) {
		t.Helper()
		cover := make([]block, 0, len(live))
		for _, b := range live {
			c, sz := h.InUseFast(b.p)
			if mapped, _ := h.Lookup(b.p); mapped == arena.InMapped {
				if c != 0 {
					t.Fatalf("seed %d step %d: InUseFast(%#x) took a mapped block", seed, step, b.p)
				}
			} else if c != b.p-16 || sz != h.Usable(b.p)+8 {
				t.Fatalf("seed %d step %d: InUseFast(%#x) = %#x, %d; want %#x, %d", seed, step, b.p, c, sz, b.p-16, h.Usable(b.p)+8)
			}
			cover = append(cover, block{b.p - 16, h.Usable(b.p) + 24})
		}
		slices.SortFunc(cover, func(x, y block) int { return int(x.p>>4) - int(y.p>>4) })
		for q := range freed {
			i, _ := slices.BinarySearchFunc(cover, q, func(b block, q uintptr) int { return int(b.p>>4) - int(q>>4) })
			if i > 0 && q-16 < cover[i-1].p+cover[i-1].n || i < len(cover) && cover[i].p == q-16 {
				continue // inside a live block now, or handed out again
			}
			if c, _ := h.InUseFast(q); c != 0 {
				t.Fatalf("seed %d step %d: InUseFast(%#x) accepts a block freed before", seed, step, q)
			}
		}
	}
	for step := 0; step < 20000; step++ {
		a := arenas[rng.IntN(2)]
		switch k := rng.IntN(20); {
		case k < 8 || len(live) == 0:
			n := size()
			var q uintptr
			switch rng.IntN(4) {
			case 0:
				q = a.Calloc(n)
			case 1:
				q = a.Memalign(uintptr(1)<<(5+rng.IntN(8)), n)
			default:
				q = a.Malloc(n)
			}
			if q == 0 {
				t.Fatalf("seed %d: allocation of %d failed", seed, n)
			}
			b := block{q, n}
			fill(b)
			live = append(live, b)
			delete(freed, q)
		case k < 17:
			i := rng.IntN(len(live))
			b := live[i]
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			h.Free(b.p)
			freed[b.p] = true
		case k < 19:
			i := rng.IntN(len(live))
			n := size()
			q := h.Realloc(live[i].p, n, a)
			if q == 0 {
				t.Fatalf("seed %d: realloc to %d failed", seed, n)
			}
			if q != live[i].p {
				freed[live[i].p] = true
			}
			delete(freed, q)
			live[i] = block{q, n}
			fill(live[i])
		default:
			h.Trim(uintptr(rng.IntN(2)) << 16)
		}
		if step%97 == 0 {
			check(step)
		}
	}
	check(-1)
	mustCheck(t, h)
}

// TestMallocBatch refills batches of each small size: exact chunks waiting
// in the size's bins come first, the rest is carved side by side from one
// free chunk; every chunk is in use, of the size (the last at most
// MinSize-16 larger), distinct, and the heap checks out before and after
// they are freed.
func TestMallocBatch(t *testing.T) {
	h, _ := newHeap(t, 32<<20, arena.DefaultParams())
	a := h.Arena(0)
	for _, nb := range []uintptr{32, 48, 80, 128, 144, 528, 1040} {
		// Some exact chunks waiting first: allocate, keep every other, free
		// the rest.
		var keep, loose []uintptr
		for i := 0; i < 8; i++ {
			p := a.Malloc(nb - 8)
			if i%2 == 0 {
				keep = append(keep, p)
			} else {
				loose = append(loose, p)
			}
		}
		for _, p := range loose {
			h.Free(p)
		}
		out := make([]uintptr, 16)
		a.Lock()
		n := a.MallocBatchLocked(nb, out)
		a.Unlock()
		if n != len(out) {
			t.Fatalf("nb %d: %d chunks, want %d", nb, n, len(out))
		}
		seen := map[uintptr]bool{}
		for i, c := range out {
			p := arena.Mem(c)
			if seen[c] {
				t.Fatalf("nb %d: chunk %#x twice", nb, c)
			}
			seen[c] = true
			if got, _ := h.InUseFast(p); got != c {
				t.Fatalf("nb %d: chunk %d (%#x) not in use", nb, i, c)
			}
			if s := arena.ChunkSize(c); s < nb || s >= nb+arena.MinSize {
				t.Fatalf("nb %d: chunk %d has size %d", nb, i, s)
			}
			if i > 0 && i < len(out)-1 && c != out[i-1]+nb && out[i-1] > out[0] && c > out[i-1] {
				t.Fatalf("nb %d: carved chunks not side by side: %#x after %#x", nb, c, out[i-1])
			}
		}
		mustCheck(t, h)
		for _, c := range out {
			h.Free(arena.Mem(c))
		}
		for _, p := range keep {
			h.Free(p)
		}
		mustCheck(t, h)
	}
}

// TestUnrefillDoesNotTrim: chunks a refill took and could not use go back
// into the top without the trim a free would set off (the top is over the
// trim threshold all along); freeing the same chunks trims it.
func TestUnrefillDoesNotTrim(t *testing.T) {
	for _, unrefill := range []bool{true, false} {
		p := arena.DefaultParams()
		p.TrimThreshold = 64 << 20 // no trim while the top grows
		h, _ := newHeap(t, 32<<20, p)
		a := h.Arena(0)
		big := a.Malloc(100 << 10) // below the mmap threshold
		h.Free(big)                // the top: 100 KiB and more
		p.TrimThreshold = 32 << 10
		h.SetParams(p)
		before := a.Info(false).System
		out := make([]uintptr, 64)
		a.Lock()
		n := a.MallocBatchLocked(1040, out)
		for _, c := range out[:n] {
			if unrefill {
				a.UnrefillLocked(c)
			} else {
				a.FreeChunkLocked(c)
			}
		}
		a.Unlock()
		after := a.Info(false).System
		if unrefill && after != before {
			t.Errorf("unrefill of %d chunks: the arena went from %d to %d bytes, want no trim", n, before, after)
		}
		if !unrefill && after >= before {
			t.Errorf("free of %d chunks: the arena went from %d to %d bytes, want a trim", n, before, after)
		}
		mustCheck(t, h)
	}
}

// TestMayBorderTop: a chunk further from its region's end than the top
// can be after a trim (trim threshold, top_pad and a page) cannot border
// the top; one closer may; with decay the top has no bound.
func TestMayBorderTop(t *testing.T) {
	p := arena.DefaultParams()
	h, _ := newHeap(t, 32<<20, p)
	bound := max(p.TrimThreshold, 64<<10) + p.TopPad + 4096
	const size = 4096
	if !h.MayBorderTop(size+bound, size) {
		t.Errorf("a top of %d bytes (the bound) is said to be impossible", bound)
	}
	if h.MayBorderTop(size+bound+16, size) {
		t.Errorf("a top of %d bytes, past the bound, is said to be possible", bound+16)
	}
	if !h.MayBorderTop(size+32, size) {
		t.Error("a top of 32 bytes is said to be impossible")
	}
	p.Decay = time.Second
	h.SetParams(p)
	if !h.MayBorderTop(size+1<<30, size) {
		t.Error("with decay, a top of 1 GiB is said to be impossible")
	}
	p.Decay = 0
	h.SetParams(p)
	if h.MayBorderTop(size+bound+16, size) {
		t.Errorf("decay off again: a top of %d bytes, past the bound, is said to be possible", bound+16)
	}

	// The bound follows every parameter it is made of (borderReach is
	// recomputed when one changes): huge pages, a trim threshold so large
	// that the sum saturates rather than wraps, and the dynamic threshold's
	// raise of the trim threshold when a mapped chunk is freed.
	hp := p
	hp.HugePage = 2 << 20
	h.SetParams(hp)
	if hb := max(p.TrimThreshold, 64<<10) + p.TopPad + 2<<20; !h.MayBorderTop(size+hb, size) || h.MayBorderTop(size+hb+16, size) {
		t.Errorf("with 2 MiB huge pages the bound is not %d bytes", hb)
	}
	big := p
	big.TrimThreshold = ^uintptr(0) - 4096
	h.SetParams(big)
	if !h.MayBorderTop(size+1<<40, size) {
		t.Error("a trim threshold near the top of the range: the bound wrapped")
	}
	h.SetParams(p)
	a := h.Arena(0)
	c := a.Malloc(p.MmapThreshold + 64<<10) // mapped; its free raises both thresholds
	if c == 0 {
		t.Fatal("malloc of a mapped chunk failed")
	}
	h.Free(c)
	got := h.Params()
	if got.TrimThreshold <= p.TrimThreshold {
		t.Fatalf("the dynamic threshold did not raise the trim threshold (%d)", got.TrimThreshold)
	}
	db := got.TrimThreshold + p.TopPad + 4096
	if !h.MayBorderTop(size+db, size) || h.MayBorderTop(size+db+16, size) {
		t.Errorf("after the dynamic threshold's raise to %d the bound is not %d bytes", got.TrimThreshold, db)
	}
}
