package alloc

import (
	"runtime"
	"testing"
)

// TestHomeArenaPerGoroutine: the first P to allocate takes the main arena;
// a P whose first allocation comes from the goroutine that refilled from
// the main arena last (a goroutine that migrated) takes the main arena
// too; a P whose first allocation comes from another goroutine takes an
// arena of its own (glibc's arena per new thread), where curG knows
// goroutines apart (pidFast), and the main arena elsewhere. The Ps are
// stand-ins (ids no P of this process has), so that the scheduler's
// placement does not decide the outcome.
func TestHomeArenaPerGoroutine(t *testing.T) {
	if runInChild(t) {
		return
	}
	runtime.GOMAXPROCS(2)
	p := Malloc(64) // the first allocation: this P's cache, on the main arena
	defer Free(p)
	if got := myCache().arena.Load().Index(); got != 0 {
		t.Fatalf("the first P to allocate refills from arena %d, want the main arena", got)
	}
	if arenaMax.Load() < 2 {
		t.Fatalf("arena_max %d: the test needs two arenas at least", arenaMax.Load())
	}
	const migrated, other = maxCachedProcs - 1, maxCachedProcs - 2
	if a := homeArena(migrated); a.Index() != 0 {
		t.Fatalf("a P first used by the main arena's last refiller got arena %d, want the main arena", a.Index())
	}
	done := make(chan int)
	go func() { done <- homeArena(other).Index() }()
	got := <-done
	if pidFast && got == 0 {
		t.Fatal("a P first used by another goroutine got the main arena, want one of its own")
	}
	if !pidFast && got != 0 {
		t.Fatalf("without curG a new P got arena %d, want the main arena", got)
	}
	if got != 0 && arenaStates[got].users.Load() != 1 {
		t.Fatalf("arena %d counts %d users, want 1", got, arenaStates[got].users.Load())
	}
	mustCheckHeap(t, "after the homes")
}
