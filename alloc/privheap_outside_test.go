package alloc

// What reaches a private heap from outside the goroutines that use it: the
// statistics, Mallopt and Trim, while heaps come and go.

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/mmapper"
	"github.com/offheap/offheap/tune"
)

// TestPrivateHeapInspectedWhileDestroyed: ReadStats, Mallopt (whose
// parameters the live private heaps follow) and Trim run while other
// goroutines create, fill and destroy heaps; none of them may read an
// arena that Destroy is giving back (ReadStats did, and faulted on the
// unmapped bin page within milliseconds).
func TestPrivateHeapInspectedWhileDestroyed(t *testing.T) {
	if err := Mallopt(tune.HeapCache, 0); err != nil { // every Destroy unmaps
		t.Fatal(err)
	}
	defer Mallopt(tune.HeapCache, 64<<20)
	d := 300 * time.Millisecond
	var stop atomic.Bool
	var wg sync.WaitGroup
	var heaps, reads atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				h := NewHeap()
				for i := 0; i < 100; i++ {
					*(*byte)(h.Malloc(16 + i*10)) = 1
				}
				*(*byte)(h.Malloc(1 << 20)) = 1 // a mapped chunk
				h.Destroy()
				heaps.Add(1)
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		var st Stats
		for !stop.Load() {
			ReadStats(&st)
			reads.Add(1)
		}
	}()
	go func() {
		defer wg.Done()
		for !stop.Load() {
			// A setting the private heaps follow, set to its default.
			if err := Mallopt(tune.MXFast, 128); err != nil {
				t.Error(err)
				return
			}
			Trim(0)
			reads.Add(1)
		}
	}()
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d heaps destroyed, %d inspections in %v", heaps.Load(), reads.Load(), d)
	if heaps.Load() == 0 || reads.Load() == 0 {
		t.Fatalf("nothing overlapped: %d heaps, %d inspections", heaps.Load(), reads.Load())
	}
	mustCheckHeap(t, "after the heaps")
}

// TestTrimPrivateHeaps: Trim(0) gives back the free pages inside a live
// private heap's arena, and the heaps that the heap_cache keeps from
// destroyed ones, as glibc's malloc_trim gives back every arena's.
func TestTrimPrivateHeaps(t *testing.T) {
	if err := Mallopt(tune.HeapCache, 64<<20); err != nil {
		t.Fatal(err)
	}
	// A destroyed heap of 8 MiB written: the cache keeps it.
	d := NewHeap()
	for range 512 {
		p := d.Malloc(16 << 10)
		clear(unsafe.Slice((*byte)(p), 16<<10))
	}
	d.Destroy()
	if b, n := heapPool.Bytes(); b < 8<<20 || n == 0 {
		t.Fatalf("the heap cache keeps %d bytes in %d heaps after a Destroy of 8 MiB", b, n)
	}
	// A live heap with 4 MiB of free chunks behind a block in use, so
	// that nothing but Trim gives them back.
	h := NewHeap()
	defer h.Destroy()
	const n, size = 256, 16 << 10
	ps := make([]uintptr, n)
	lo, hi := ^uintptr(0), uintptr(0)
	for i := range ps {
		p := h.Malloc(size)
		clear(unsafe.Slice((*byte)(p), size))
		ps[i] = uintptr(p)
		lo, hi = min(lo, ps[i]), max(hi, ps[i]+size)
	}
	fence := h.Malloc(100)
	for _, p := range ps {
		h.Free(unsafe.Add(nil, p))
	}
	if err := h.Check(); err != nil { // empties the heap's caches into its arena
		t.Fatal(err)
	}
	page := mmapper.PageSize()
	lo, hi = (lo+page-1)&^(page-1), hi&^(page-1)
	before, err := mmapper.Resident(lo, hi-lo)
	if err != nil {
		t.Fatal(err)
	}
	if !Trim(0) {
		t.Fatal("Trim(0) released nothing")
	}
	after, err := mmapper.Resident(lo, hi-lo)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the live heap's freed blocks: %d KiB resident before Trim(0), %d KiB after", before>>10, after>>10)
	if before < (hi-lo)*3/4 || after > 4*page {
		t.Errorf("the live heap's %d KiB of freed blocks: %d KiB resident before Trim(0), %d KiB after; want them given back", (hi-lo)>>10, before>>10, after>>10)
	}
	if b, n := heapPool.Bytes(); b != 0 || n != 0 {
		t.Errorf("after Trim(0) the heap cache keeps %d bytes in %d heaps", b, n)
	}
	var st Stats
	ReadStats(&st)
	if st.HeapCache.Bytes != 0 {
		t.Errorf("after Trim(0) ReadStats says the heap cache keeps %d bytes", st.HeapCache.Bytes)
	}
	h.Free(fence)
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestHeapsComeAndGoAccounted: goroutines creating and destroying heaps at
// once, every heap unmapped at Destroy (heap_cache 0), leave offheap's
// account of its mappings where it was. A heap's reservation left the
// account after its munmap, when another goroutine's NewHeap could already
// have been given the same address and entered its own: the first
// goroutine then took the second's entry away, and the second's Destroy
// counted its 64 MiB as a mapping from Map (Stats.MetaSys went negative).
func TestHeapsComeAndGoAccounted(t *testing.T) {
	if err := Mallopt(tune.HeapCache, 0); err != nil {
		t.Fatal(err)
	}
	defer Mallopt(tune.HeapCache, 64<<20)
	NewHeap().Destroy()
	figures := func() [4]int64 {
		account.mu.Lock()
		n := len(account.reservations)
		account.mu.Unlock()
		return [4]int64{account.mapBytes.Load(), account.heapBytes.Load(), account.mappings.Load(), int64(n)}
	}
	before := figures()
	var wg sync.WaitGroup
	var heaps atomic.Int64
	deadline := time.Now().Add(300 * time.Millisecond)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				h := NewHeap()
				*(*byte)(h.Malloc(100)) = 1
				h.Destroy()
				heaps.Add(1)
			}
		}()
	}
	wg.Wait()
	if after := figures(); after != before {
		t.Errorf("after %d heaps made and destroyed on 4 goroutines: mapped bytes, committed heap bytes, mappings, reservations %v, before %v",
			heaps.Load(), after, before)
	}
}

// TestPrivateReallocAddressReuse: goroutines grow mapped chunks of their
// heaps with Realloc (mremap moves them, freeing the old address) while
// others map chunks of the same size in their heaps and free them through
// alloc.Free, which finds a mapped chunk's heap in privMapped. Realloc took
// the old address out of privMapped after the arena had given it back, so
// when another heap's new chunk got the address in between, its entry went
// and alloc.Free refused the live block ("free(): invalid pointer"): about
// one refusal per 4 seconds of this load. The test is statistical: its 2
// seconds caught that in 2 runs of 4 (OFFHEAP_LONG=1: 30 seconds).
func TestPrivateReallocAddressReuse(t *testing.T) {
	if runInChild(t, "OFFHEAP=mmap_threshold=128k") {
		return
	}
	d := 2 * time.Second
	if os.Getenv("OFFHEAP_LONG") == "1" {
		d = 30 * time.Second
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var moves, frees, refused atomic.Int64
	for range 2 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			h := NewHeap()
			defer h.Destroy()
			for !stop.Load() {
				p := h.Realloc(h.Malloc(256<<10), 8<<20)
				*(*byte)(p) = 1
				h.Free(p)
				moves.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			h := NewHeap()
			defer h.Destroy()
			for !stop.Load() {
				p := h.Malloc(256 << 10)
				func() {
					defer func() {
						if r := recover(); r != nil {
							refused.Add(1)
							h.Free(p)
						}
					}()
					Free(p)
				}()
				frees.Add(1)
			}
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d mapped chunks moved by Realloc, %d freed by alloc.Free, %d refused", moves.Load(), frees.Load(), refused.Load())
	if refused.Load() != 0 || moves.Load() == 0 || frees.Load() == 0 {
		t.Fatalf("alloc.Free refused %d live mapped chunks of private heaps (%d moves, %d frees)", refused.Load(), moves.Load(), frees.Load())
	}
}
