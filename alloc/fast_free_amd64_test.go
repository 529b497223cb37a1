//go:build amd64 && go1.26 && !go1.27 && !race && !asan && !msan && !offheap_noasm

package alloc

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/tune"
)

// freeFastWant is the Go fast path's decision (fast_free.go's Free, which
// other platforms run), the reference fast_free_amd64.s is held to: the
// class of P pid's cache that a free of p pushes onto, or nil where it
// goes to freeMiss.
func freeFastWant(p uintptr, pid int) *cacheBin {
	if fastOff.Load() != 0 {
		return nil
	}
	h := heap
	room, entry := h.FastRegion(p - 16)
	ch, size := h.InUseHeader(p, room)
	if ch == 0 || uint(pid) >= maxCachedProcs || *keyWord(ch) == keyFor(ch) {
		return nil
	}
	c := caches[pid].Load()
	if c == nil {
		return nil
	}
	if size <= smallChunkMax {
		cl := uint(size-arena.MinSize) >> 4 % nSmall
		b := &c.bins[cl]
		if entry != c.home.Load() {
			b = &c.bins[nClassSlots+cl]
		}
		if b.count < b.limit {
			return b
		}
		return nil
	}
	if cl := chunkClass(size); cl >= nSmall || cl >= 0 && entry == c.home.Load() {
		b := &c.bins[uint(cl)%nClassSlots]
		if b.count < b.limit && (b.count == 0 || !h.MayBorderTop(room, size) || !arena.NextIsTop(ch, size)) {
			return b
		}
	}
	return nil
}

// TestFastFreeAsm holds Free's assembly fast path to the Go one: for every
// kind of pointer a program can pass to Free (blocks of every size of the
// process heap, of another arena, of a private Heap, mapped and sampled
// blocks, blocks already cached, headers with a corrupted tag, misaligned
// pointers, Go heap and stack pointers, nil), freeFast (the assembly's very
// instructions) pushes exactly where freeFastWant says, onto the class it
// names, with the key and the safe-linked link, and changes nothing where
// Free would go on to freeMiss. Classes are filled to their limits, mid-size
// chunks freed next to the top, and decay turned on and off, so that every
// branch of MayBorderTop and NextIsTop is taken. Randomized: the seed is
// logged, and -seed reproduces it.
func TestFastFreeAsm(t *testing.T) {
	seed := hardSeed(t)
	t.Logf("seed %d", seed)
	if runInChild(t) {
		return
	}
	rng := rand.New(rand.NewPCG(seed, 0xf4ee))
	SetProfileRate(256 << 10) // some blocks sampled
	defer SetProfileRate(0)
	theHeap()
	other, err := heap.NewArena()
	if err != nil {
		t.Fatalf("NewArena: %v", err)
	}
	priv := NewHeap()
	defer priv.Destroy()

	type block struct {
		p    uintptr
		kind int // 0 Malloc, 1 Calloc, 2 another arena, 3 a private Heap
	}
	var live []block
	outcomes := map[string]int{}

	// try runs freeFast on p, pinned, against freeFastWant, and reports
	// whether it pushed.
	try := func(p uintptr, what string) bool {
		t.Helper()
		pid := procPin()
		want := freeFastWant(p, pid)
		var head uintptr
		var count uint32
		if want != nil {
			head, count = want.head, want.count
		}
		got := freeFast(unsafe.Add(nil, p))
		if got != (want != nil) {
			procUnpin()
			t.Fatalf("%s %#x: the assembly pushed: %v, the Go fast path would: %v", what, p, got, want != nil)
		}
		if got {
			ch := p - 16
			if want.head != ch || want.count != count+1 || arena.Protect(p, *(*uintptr)(unsafe.Add(nil, p))) != head ||
				*keyWord(ch) != keyFor(ch) {
				procUnpin()
				t.Fatalf("%s %#x: pushed wrong: head %#x (want %#x), count %d (want %d), link %#x (want %#x), key ok %v",
					what, p, want.head, ch, want.count, count+1, arena.Protect(p, *(*uintptr)(unsafe.Add(nil, p))), head,
					*keyWord(ch) == keyFor(ch))
			}
		}
		procUnpin()
		if got {
			outcomes[what+": pushed"]++
		} else {
			outcomes[what+": to freeMiss"]++
		}
		return got
	}
	// release frees live block i, by the fast path when it takes it, and
	// otherwise as the program would.
	release := func(i int, what string) {
		b := live[i]
		live[i] = live[len(live)-1]
		live = live[:len(live)-1]
		if try(b.p, what) {
			return
		}
		if b.kind == 3 {
			priv.Free(unsafe.Add(nil, b.p))
		} else {
			Free(unsafe.Add(nil, b.p))
		}
	}
	size := func() int {
		switch r := rng.IntN(100); {
		case r < 50:
			return rng.IntN(1025)
		case r < 85:
			return 1025 + rng.IntN(midLimit-1024)
		default:
			return midLimit + 1 + rng.IntN(200<<10)
		}
	}
	alloc := func(n, kind int) {
		var p uintptr
		switch kind {
		case 0:
			p = uintptr(Malloc(n))
		case 1:
			p = uintptr(Calloc(1, n))
		case 2:
			// The arena's own Malloc leaves a stale cache key; offheap's
			// allocation paths clear it (cache.go, cacheKey).
			if p = other.Malloc(uintptr(n)); p != 0 {
				*keyWord(p - 16) = 0
			}
		case 3:
			p = uintptr(priv.Malloc(n))
		}
		if p == 0 {
			t.Fatalf("allocating %d bytes (kind %d) failed", n, kind)
		}
		live = append(live, block{p, kind})
	}
	var stackWord uintptr
	goWord := new([4]uintptr)
	for step := range 40000 {
		if step%8000 == 4000 {
			if err := Mallopt(tune.Decay, 1000); err != nil {
				t.Fatal(err)
			}
		} else if step%8000 == 0 {
			if err := Mallopt(tune.Decay, 0); err != nil {
				t.Fatal(err)
			}
		}
		switch r := rng.IntN(100); {
		case r < 42 || len(live) == 0:
			kind := 0
			switch k := rng.IntN(20); {
			case k < 3:
				kind = 1
			case k < 7:
				kind = 2
			case k < 8:
				kind = 3
			}
			alloc(size(), kind)
		case r < 80:
			release(rng.IntN(len(live)), "free")
		case r < 84:
			// A burst of one size, freed at once: its class fills, and a
			// mid-size chunk may be freed next to the top.
			n, kind := size(), rng.IntN(3)
			for range 1 + rng.IntN(300) {
				alloc(n, kind)
			}
			for len(live) > 0 && rng.IntN(400) != 0 {
				release(len(live)-1, "burst")
			}
		case r < 88:
			// A double free by one goroutine: the second finds the key.
			i := rng.IntN(len(live))
			b := live[i]
			if b.kind == 3 || !try(b.p, "first of two") {
				continue
			}
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			if try(b.p, "double free") {
				t.Fatalf("%#x: a double free was pushed", b.p)
			}
		case r < 93:
			// A corrupted tag: no push, and nothing changed.
			b := live[rng.IntN(len(live))]
			w := (*uintptr)(unsafe.Add(nil, b.p-8))
			old := *w
			*w ^= 1 << (48 + rng.IntN(16))
			pushed := try(b.p, "corrupt tag")
			*w = old
			if pushed {
				t.Fatalf("%#x: a chunk with a corrupted tag was pushed", b.p)
			}
		default:
			// Pointers offheap did not return (never a chunk's interior,
			// whose bytes could hold a stale header).
			var p uintptr
			switch rng.IntN(5) {
			case 0:
				p = live[rng.IntN(len(live))].p + 8
			case 1:
				p = uintptr(unsafe.Pointer(&stackWord))
			case 2:
				p = uintptr(unsafe.Pointer(&goWord[1]))
			case 3:
				p = 0
			case 4:
				p = uintptr(rng.Uint64()>>17) &^ 15 // a user address
			}
			if try(p, "foreign pointer") {
				t.Fatalf("%#x: a pointer offheap did not return was pushed", p)
			}
		}
	}
	for len(live) > 0 {
		release(len(live)-1, "free")
	}
	runtime.KeepAlive(goWord)
	mustCheckHeap(t, "after the frees")
	t.Logf("outcomes: %v", outcomes)
	for _, o := range []string{"free: pushed", "free: to freeMiss", "burst: pushed", "burst: to freeMiss",
		"double free: to freeMiss", "corrupt tag: to freeMiss", "foreign pointer: to freeMiss"} {
		if outcomes[o] == 0 {
			t.Errorf("no %q in the run: the test no longer reaches it", o)
		}
	}
}

// TestFastPathsFollowFastOff: the assembly fast paths read no flag word;
// each bit of fastOff that setFast sets must point Malloc at noCaches
// (every bit but fastHarden) and Free at inertHeap (every bit), where
// freeFast gives up on a block it would otherwise push, and clearing the
// bit must point them back.
func TestFastPathsFollowFastOff(t *testing.T) {
	if runInChild(t) {
		return
	}
	theHeap()
	p := Malloc(64)
	defer Free(p)
	if fastOff.Load() != 0 {
		t.Fatalf("fastOff = %#x at the start", fastOff.Load())
	}
	check := func(when string, mallocOn, freeOn bool) {
		t.Helper()
		if got := mallocCaches.Load() == &caches; got != mallocOn {
			t.Errorf("%s: Malloc's assembly reads the caches: %v, want %v", when, got, mallocOn)
		}
		if got := freeHeap.Load() == (*byte)(unsafe.Pointer(heap)); got != freeOn {
			t.Errorf("%s: Free's assembly reads the heap: %v, want %v", when, got, freeOn)
		}
		if !freeOn {
			procPin()
			pushed := freeFast(p)
			procUnpin()
			if pushed {
				t.Fatalf("%s: freeFast pushed a block while the fast path is off", when)
			}
		}
	}
	check("at the start", true, true)
	for _, bit := range []uint32{fastDebug, fastTrace, fastPerturb, fastBadPid, fastHarden, fastPending} {
		setFast(bit, true)
		check(fmt.Sprintf("bit %#x set", bit), bit == fastHarden, false)
		setFast(bit, false)
		check(fmt.Sprintf("bit %#x cleared", bit), true, true)
	}
	// Two bits: clearing one leaves the other's effect.
	setFast(fastTrace, true)
	setFast(fastHarden, true)
	setFast(fastTrace, false)
	check("harden left on", true, false)
	setFast(fastHarden, false)
	check("both cleared", true, true)
}
