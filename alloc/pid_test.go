package alloc

import (
	"runtime"
	"sync"
	"testing"
)

// TestGetPid checks getPid against procPin on every P, under GOMAXPROCS
// values that change while goroutines run, and that start-up found them
// in agreement (or the fast paths are off).
func TestGetPid(t *testing.T) {
	theHeap()
	if fastOff.Load()&fastBadPid != 0 {
		t.Fatalf("checkPid found getPid wrong at start-up (pidFast %v): the fast paths are off", pidFast)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4, 8, 3} {
		runtime.GOMAXPROCS(procs)
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[int]bool{}
		for g := 0; g < 4*procs; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 2000; i++ {
					pid := runtimeProcPin()
					got := getPid()
					runtimeProcUnpin()
					if got != pid {
						t.Errorf("GOMAXPROCS %d: getPid() = %d, procPin() = %d", procs, got, pid)
						return
					}
					if i%500 == 0 {
						mu.Lock()
						seen[pid] = true
						mu.Unlock()
						runtime.Gosched()
					}
				}
			}()
		}
		wg.Wait()
		for pid := range seen {
			if pid >= procs {
				t.Errorf("GOMAXPROCS %d: saw P %d", procs, pid)
			}
		}
	}
}
