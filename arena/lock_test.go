package arena_test

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offheap/offheap/arena"
)

// TestLockExclusion checks Arena.Lock's mutual exclusion on both of its
// paths: short waits (retrying) and a holder that keeps the lock far past
// the retry bound (the waiter then sleeps on the mutex).
func TestLockExclusion(t *testing.T) {
	h, _ := newHeap(t, 1<<30, arena.DefaultParams())
	a := h.Arena(0)
	for _, hold := range []time.Duration{0, 5 * time.Millisecond} {
		var inside, entered atomic.Int32
		var wg sync.WaitGroup
		for g := range 4 * runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for i := range 200 {
					a.Lock()
					if n := inside.Add(1); n != 1 {
						t.Errorf("hold %v: goroutine %d round %d: %d goroutines inside the lock", hold, g, i, n)
					}
					entered.Add(1)
					if hold > 0 && i%50 == 0 {
						time.Sleep(hold)
					}
					inside.Add(-1)
					a.Unlock()
				}
			})
		}
		wg.Wait()
		if got, want := entered.Load(), int32(4*runtime.GOMAXPROCS(0)*200); got != want {
			t.Fatalf("hold %v: %d entries, want %d", hold, got, want)
		}
	}
	if !a.TryLock() {
		t.Fatal("the lock is still held after every goroutine unlocked")
	}
	a.Unlock()
}

// TestNewArenaUpTo: goroutines racing to add arenas under a limit create
// exactly as many as the limit allows; the others get ErrArenaLimit.
func TestNewArenaUpTo(t *testing.T) {
	h, _ := newHeap(t, 1<<30, arena.DefaultParams())
	const limit = 3
	var made, refused atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			switch a, err := h.NewArenaUpTo(limit); {
			case err == nil && a != nil:
				made.Add(1)
			case errors.Is(err, arena.ErrArenaLimit):
				refused.Add(1)
			default:
				t.Errorf("NewArenaUpTo(%d) = %v, %v", limit, a, err)
			}
		})
	}
	wg.Wait()
	if n := h.NumArenas(); n != limit || made.Load() != limit-1 || refused.Load() != 16-(limit-1) {
		t.Fatalf("%d arenas, %d made, %d refused; want %d, %d, %d", n, made.Load(), refused.Load(), limit, limit-1, 16-(limit-1))
	}
	mustCheck(t, h)
}
