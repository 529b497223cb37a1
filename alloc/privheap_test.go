package alloc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/tune"
)

// TestPrivateHeap: a private heap's blocks of every kind (cached, from the
// arena, mapped) keep their contents; Calloc zeroes, Realloc keeps the
// contents as it grows and shrinks them (in place, by mremap, by moving);
// alloc.Free, alloc.Realloc and alloc.UsableSize take its blocks; Mallinfo2
// and Check see only the heap; Destroy gives everything back.
func TestPrivateHeap(t *testing.T) {
	if runInChild(t) {
		return
	}
	h := NewHeap()
	if h.ID() == 0 || h.ID() == theHeap().ID() {
		t.Fatalf("NewHeap's ID %d", h.ID())
	}
	var blocks []hblock
	id := uint64(1)
	add := func(p unsafe.Pointer, n int) {
		if p == nil {
			t.Fatalf("allocation of %d bytes failed", n)
		}
		if uintptr(p)%16 != 0 {
			t.Fatalf("block %p not 16-aligned", p)
		}
		b := hblock{p: p, n: n, id: id}
		id++
		b.fill()
		blocks = append(blocks, b)
	}
	for _, n := range []int{0, 1, 24, 64, 500, 1024, 3000, 40000, 70000, 200 << 10, 3 << 20} {
		for range 20 {
			add(h.Malloc(n), n)
		}
	}
	z := h.Calloc(1000, 37)
	for i, b := range unsafe.Slice((*byte)(z), 37000) {
		if b != 0 {
			t.Fatalf("Calloc: byte %d is %#x", i, b)
		}
	}
	h.Free(z)
	for _, b := range blocks {
		if msg := b.bad(); msg != "" {
			t.Fatal(msg)
		}
		if u := h.UsableSize(b.p); u < b.n || UsableSize(b.p) != u {
			t.Fatalf("UsableSize %d / %d for a block of %d", u, UsableSize(b.p), b.n)
		}
	}
	if err := h.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	mi := h.Mallinfo2()
	if mi.Arena <= 0 || mi.Hblks != 40 || mi.Uordblks+mi.Fordblks != mi.Arena {
		t.Fatalf("Mallinfo2 %+v: want heap memory, the 40 mapped chunks, in use + free == arena", mi)
	}
	// Realloc keeps the contents, through the heap's method and the
	// package's function alike.
	for i := range blocks {
		b := &blocks[i]
		n := b.n*2 + 100
		var np unsafe.Pointer
		if i%2 == 0 {
			np = h.Realloc(b.p, n)
		} else {
			np = Realloc(b.p, n)
		}
		if np == nil {
			t.Fatalf("Realloc to %d failed", n)
		}
		old := hblock{p: np, n: b.n, id: b.id}
		if msg := old.bad(); msg != "" {
			t.Fatalf("after Realloc to %d: %s", n, msg)
		}
		*b = hblock{p: np, n: n, id: b.id + 1000}
		b.fill()
	}
	if err := h.Check(); err != nil {
		t.Fatalf("Check after Realloc: %v", err)
	}
	// Half freed by the heap, half by the package.
	for i, b := range blocks {
		if i%3 == 0 {
			continue
		}
		if msg := b.bad(); msg != "" {
			t.Fatal(msg)
		}
		if i%2 == 0 {
			h.Free(b.p)
		} else {
			Free(b.p)
		}
	}
	if err := h.Check(); err != nil {
		t.Fatalf("Check after the frees: %v", err)
	}
	mustCheckHeap(t, "the process heap, untouched")
	h.Destroy()
}

// TestPrivateHeapMisuse: a block of another heap, of the process heap, or
// a block freed twice is refused with glibc's messages and nothing
// changes; a destroyed heap panics when used, and its blocks are no one's.
func TestPrivateHeapMisuse(t *testing.T) {
	if runInChild(t) {
		return
	}
	h1, h2 := NewHeap(), NewHeap()
	p1, p2, g := h1.Malloc(100), h2.Malloc(100), Malloc(100)
	big := h1.Malloc(1 << 20)
	expectPanic(t, "free(): invalid pointer", func() { h1.Free(p2) })
	expectPanic(t, "free(): invalid pointer", func() { h1.Free(g) })
	expectPanic(t, "free(): invalid pointer", func() { h2.Free(big) })
	h1.Free(p1)
	expectPanic(t, "free(): double free detected in tcache 2", func() { h1.Free(p1) })
	expectPanic(t, "free(): double free detected in tcache 2", func() { Free(p1) })
	Free(big)
	expectPanic(t, "free(): invalid pointer", func() { h1.Free(big) }) // gone from the mapped set, as the process heap says
	if err := h1.Check(); err != nil {
		t.Fatal(err)
	}
	if err := h2.Check(); err != nil {
		t.Fatal(err)
	}
	h2.Destroy()
	for _, f := range []struct {
		op   string
		call func()
	}{
		{"Malloc", func() { h2.Malloc(10) }},
		{"Free", func() { h2.Free(p2) }},
		{"Realloc", func() { h2.Realloc(p2, 10) }},
		{"Calloc", func() { h2.Calloc(1, 10) }},
		{"Destroy", func() { h2.Destroy() }},
		{"Mallinfo2", func() { h2.Mallinfo2() }},
		{"Check", func() { h2.Check() }},
	} {
		var got any
		func() {
			defer func() { got = recover() }()
			f.call()
		}()
		if msg, _ := got.(string); !strings.Contains(msg, "(*Heap)."+f.op+": the heap was destroyed") {
			t.Errorf("%s on a destroyed heap: panic %v", f.op, got)
		}
	}
	expectPanic(t, "free(): invalid pointer", func() { Free(p2) })
	Free(g)
	h1.Destroy()
	mustCheckHeap(t, "after the misuse")
}

// TestPrivateHeapConcurrent: goroutines share one heap, and more heaps
// live at once, each goroutine freeing some of the others' blocks through
// alloc.Free; every block keeps its pattern and Check passes.
func TestPrivateHeapConcurrent(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	shared := NewHeap()
	defer shared.Destroy()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var handed []hblock
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			own := NewHeap()
			var live []hblock
			id := uint64(g) << 40
			for i := 0; i < 20000; i++ {
				h := shared
				if rng.IntN(2) == 0 {
					h = own
				}
				if len(live) > 0 && rng.IntN(2) == 0 {
					j := rng.IntN(len(live))
					b := live[j]
					live[j] = live[len(live)-1]
					live = live[:len(live)-1]
					if msg := b.bad(); msg != "" {
						t.Errorf("seed %d: %s", seed, msg)
						return
					}
					Free(b.p)
					continue
				}
				n := rng.IntN(2000)
				if rng.IntN(100) == 0 {
					n = 200 << 10
				}
				p := h.Malloc(n)
				id++
				b := hblock{p: p, n: n, id: id}
				b.fill()
				if h == shared && rng.IntN(4) == 0 {
					mu.Lock()
					handed = append(handed, b)
					mu.Unlock()
					continue
				}
				live = append(live, b)
			}
			for _, b := range live {
				if msg := b.bad(); msg != "" {
					t.Errorf("seed %d: %s", seed, msg)
				}
			}
			if err := own.Check(); err != nil {
				t.Errorf("seed %d: own heap: %v", seed, err)
			}
			own.Destroy() // its blocks in live go with it; the shared ones stay
			for _, b := range live {
				if arenaOwnerIs(b.p, shared) {
					Free(b.p)
				}
			}
		}(g)
	}
	wg.Wait()
	for _, b := range handed {
		if msg := b.bad(); msg != "" {
			t.Fatalf("seed %d: %s", seed, msg)
		}
		shared.Free(b.p)
	}
	if err := shared.Check(); err != nil {
		t.Fatalf("seed %d: shared heap: %v", seed, err)
	}
}

// arenaOwnerIs reports whether p is a live block of h.
func arenaOwnerIs(p unsafe.Pointer, h *Heap) bool { return privateOwner(uintptr(p)) == h }

// TestPrivateHeapsLeaveNothing: 10,000 heaps created, used and destroyed
// in a loop leave no mapping behind beyond the heap_cache (the count of
// /proc/self/maps lines back where it started, but for the cached heaps),
// and with heap_cache 0 none at all.
func TestPrivateHeapsLeaveNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector maps memory of its own as the program runs")
	}
	if runInChild(t) {
		return
	}
	n := 10000
	if testing.Short() {
		n = 2000
	}
	for _, cache := range []int{64 << 20, 0} {
		if err := Mallopt(tune.HeapCache, cache); err != nil {
			t.Fatal(err)
		}
		h := NewHeap() // one first, so that the heap table and the like exist
		h.Destroy()
		runtime.GC()
		var st Stats
		ReadStats(&st)
		before, ownBefore := mapsLines(t), st.Mappings.Count
		_, nkeptBefore := heapPool.Bytes()
		for i := 0; i < n; i++ {
			h := NewHeap()
			for j := 0; j < 50; j++ {
				p := h.Malloc(16 + j*40)
				*(*byte)(p) = 1
			}
			h.Malloc(300 << 10) // a mapped chunk
			h.Destroy()
		}
		runtime.GC()
		after := mapsLines(t)
		ReadStats(&st)
		kept, nkept := heapPool.Bytes()
		// offheap's own count exactly; the process's within what the Go
		// runtime may have mapped meanwhile.
		if st.Mappings.Count-uint64(nkept) != ownBefore-uint64(nkeptBefore) || after-nkept > before-nkeptBefore+4 || (cache == 0 && nkept != 0) {
			t.Errorf("heap_cache %d: offheap's mappings %d before, %d after %d heaps; /proc/self/maps %d lines before, %d after; the cache keeps %d heaps (%d bytes)",
				cache, ownBefore, st.Mappings.Count, n, before, after, nkept, kept)
		}
		if kept > uintptr(cache) {
			t.Errorf("heap_cache %d: the cache keeps %d bytes", cache, kept)
		}
	}
}

// mapsLines counts the lines of /proc/self/maps.
func mapsLines(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// TestNewInMakeSliceIn: the generic helpers allocate zeroed values in the
// heap and refuse types that hold Go pointers.
func TestNewInMakeSliceIn(t *testing.T) {
	h := NewHeap()
	defer h.Destroy()
	type point struct{ X, Y float64 }
	p := NewIn[point](h)
	if p == nil || *p != (point{}) || privateOwner(uintptr(unsafe.Pointer(p))) != h {
		t.Fatalf("NewIn: %v, owner %v", p, privateOwner(uintptr(unsafe.Pointer(p))))
	}
	s := MakeSliceIn[point](h, 1000)
	if len(s) != 1000 || privateOwner(uintptr(unsafe.Pointer(&s[0]))) != h {
		t.Fatalf("MakeSliceIn: len %d", len(s))
	}
	for _, v := range s {
		if v != (point{}) {
			t.Fatal("MakeSliceIn: not zeroed")
		}
	}
	FreeSlice(s)
	for _, f := range []func(){
		func() { NewIn[*int](h) },
		func() { MakeSliceIn[struct{ s string }](h, 3) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "pointer") {
					t.Errorf("a pointerful type: panic %v", r)
				}
			}()
			f()
		}()
	}
}

// TestHeapCacheDecay: with decay set, the heaps a destroyed private heap
// left in the heap_cache go back to the system once unused for the decay,
// without any call into offheap; a new heap in the meantime takes them.
func TestHeapCacheDecay(t *testing.T) {
	if runInChild(t, "OFFHEAP=decay=200ms") {
		return
	}
	fill := func() *Heap {
		h := NewHeap()
		for i := 0; i < 2000; i++ {
			h.Malloc(1000)
		}
		return h
	}
	fill().Destroy()
	var st Stats
	ReadStats(&st)
	if st.HeapCache.Heaps == 0 {
		t.Fatal("the destroyed heap's heap is not in the cache")
	}
	time.Sleep(80 * time.Millisecond)
	h := fill() // takes it back before the decay
	ReadStats(&st)
	if st.HeapCache.Heaps != 0 || st.HeapCache.Reused == 0 {
		t.Fatalf("a new heap did not take the cached heap: %+v", st.HeapCache)
	}
	h.Destroy()
	deadline := time.Now().Add(3 * time.Second)
	for {
		ReadStats(&st)
		if st.HeapCache.Heaps == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 s after Destroy with decay=200ms the cache still holds %+v", st.HeapCache)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.HeapCache.Dropped == 0 {
		t.Fatalf("the cache counts nothing given back: %+v", st.HeapCache)
	}
}

// TestHeapIDsReused makes and destroys heaps one after another, every
// allocation sampled, and checks that they share one ID (a destroyed
// heap's goes to the next), that two live at once get two, and that the
// heap profile's buckets, which are kept per ID, stop growing: a heap per
// request must not grow the profiler, nor run out of IDs after 2^21. A
// bucket's stack includes offheap's own frames above the caller's (they
// are left out when a profile is written), so a rare inner path (a
// refill, a rebuild of the table of sampled blocks) may add a bucket for
// the same site: the bound allows a few, where a fresh ID per heap would
// add a round's buckets per heap.
func TestHeapIDsReused(t *testing.T) {
	old := ProfileRate()
	defer Mallopt(tune.ProfileRate, old)
	if err := Mallopt(tune.ProfileRate, 1); err != nil {
		t.Fatal(err)
	}
	round := func() uint32 {
		h := NewHeap()
		for j := 0; j < 20; j++ {
			h.Free(h.Malloc(16 + j*50))
			h.Malloc(100)
		}
		id := h.ID()
		h.Destroy()
		return id
	}
	var first, bucketsBefore uint32
	for i := 0; i < 3000; i++ {
		id := round()
		switch {
		case i == 0:
			first, bucketsBefore = id, buckets.nextID.Load() // the sites' buckets exist now
		case id != first:
			t.Fatalf("heap %d after %d destroyed ones has ID %d, want %d (the freed one)", i+1, i, id, first)
		}
	}
	// A round samples 40 allocations of 21 sizes at two sites: a fresh ID
	// per heap would add about 22 buckets a round, 66,000 in all.
	const bound = 64
	if grown := buckets.nextID.Load() - bucketsBefore; grown > bound {
		t.Errorf("3000 heaps, one at a time, allocating at the same sites added %d profile buckets, want at most %d", grown, bound)
	} else if grown != 0 {
		t.Logf("3000 more heaps added %d buckets", grown)
	}
	a, b := NewHeap(), NewHeap()
	if a.ID() == b.ID() || a.ID() == 0 || b.ID() == 0 {
		t.Errorf("two live heaps have IDs %d and %d", a.ID(), b.ID())
	}
	b.Destroy()
	a.Destroy()
}

// TestPrivateHeapMoreProcs: a heap has a cache per P of GOMAXPROCS when it
// was made; after GOMAXPROCS grows, goroutines on the new Ps (ids past its
// cache table) allocate and free through the slow path, their blocks
// intact, and the heap checks clean.
func TestPrivateHeapMoreProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	h := NewHeap()
	defer h.Destroy()
	if len(h.caches) != 1 {
		t.Fatalf("a heap made at GOMAXPROCS 1 has %d caches", len(h.caches))
	}
	runtime.GOMAXPROCS(4)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var live []unsafe.Pointer
			for i := range 3000 {
				n := 1 + (i*37+g*101)%2000
				p := h.Malloc(n)
				if p == nil {
					t.Errorf("Malloc(%d) = nil", n)
					return
				}
				*(*byte)(p) = byte(g)
				live = append(live, p)
				if i%3 == 2 {
					q := live[0]
					if *(*byte)(q) != byte(g) {
						t.Errorf("goroutine %d: a block lost its first byte", g)
						return
					}
					h.Free(q)
					live = live[1:]
				}
			}
			for _, q := range live {
				h.Free(q)
			}
		}()
	}
	wg.Wait()
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
}
