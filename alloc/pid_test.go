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

// TestCurG: curG tells goroutines apart (on amd64 with go1.26; 0
// elsewhere, where homeArena does without it) and is the same for one
// goroutine wherever it runs.
func TestCurG(t *testing.T) {
	if !pidFast {
		if g := curG(); g != 0 {
			t.Fatalf("curG() = %#x without pidFast, want 0", g)
		}
		return
	}
	me := curG()
	if me == 0 {
		t.Fatal("curG() = 0")
	}
	var started, wg sync.WaitGroup
	release := make(chan struct{})
	others := make([]uintptr, 8)
	for i := range others {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := curG()
			others[i] = g
			started.Done()
			<-release // alive until every one has its g
			if again := curG(); again != g {
				t.Errorf("curG changed from %#x to %#x within one goroutine", g, again)
			}
		}()
	}
	started.Wait()
	close(release)
	wg.Wait()
	seen := map[uintptr]bool{me: true}
	for _, g := range others {
		if seen[g] {
			t.Fatalf("curG() = %#x for two goroutines alive at once", g)
		}
		seen[g] = true
	}
	runtime.Gosched()
	if again := curG(); again != me {
		t.Fatalf("curG() = %#x after Gosched, %#x before", again, me)
	}
}
