package alloc

// What reaches a private heap from outside the goroutines that use it: the
// statistics, Mallopt and Trim, while heaps come and go.

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
