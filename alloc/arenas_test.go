package alloc_test

import (
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/tune"
)

// TestArenaMaxDefaultOnePerP checks the default arena limit: one arena per
// P, not glibc's 8 x cores (more arenas than running goroutines only add
// resident high-water marks, which the soak run showed growing), and that
// many goroutines contending for the arenas never create more.
func TestArenaMaxDefaultOnePerP(t *testing.T) {
	if runInChild(t) {
		return
	}
	procs := runtime.GOMAXPROCS(0)
	// The first allocation reads the settings.
	alloc.Free(alloc.Malloc(1))
	if got := alloc.ArenaLimit(); got != procs {
		t.Fatalf("default arena limit %d, want GOMAXPROCS %d", got, procs)
	}
	// 8 goroutines per P allocate blocks above the cache's largest class
	// (so every call takes an arena lock) and below the mmap threshold.
	const rounds = 2000
	var wg sync.WaitGroup
	for g := range 8 * procs {
		wg.Go(func() {
			var held [8]unsafe.Pointer
			for i := range rounds {
				j := i % len(held)
				alloc.Free(held[j])
				held[j] = alloc.Malloc(70<<10 + (g*rounds+i)%4096)
				if held[j] == nil {
					t.Errorf("goroutine %d: Malloc returned nil", g)
					return
				}
			}
			for _, p := range held {
				alloc.Free(p)
			}
		})
	}
	wg.Wait()
	n := alloc.NumArenas()
	t.Logf("GOMAXPROCS %d, %d goroutines: %d arenas", procs, 8*procs, n)
	if n > procs {
		t.Fatalf("%d arenas exist, more than the default limit of %d (GOMAXPROCS)", n, procs)
	}
	if err := alloc.Check(); err != nil {
		t.Fatal(err)
	}
	// An explicit M_ARENA_MAX is taken as given.
	if err := alloc.Mallopt(tune.ArenaMax, 3*procs); err != nil {
		t.Fatal(err)
	}
	if got := alloc.ArenaLimit(); got != 3*procs {
		t.Fatalf("arena limit %d after Mallopt(M_ARENA_MAX, %d)", got, 3*procs)
	}
}
