package replay_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/alloc/tracefmt"
	"github.com/offheap/offheap/internal/replay"
)

// heapWorkload is what recordHeapTrace did.
type heapWorkload struct {
	created, destroyed, liveAtEnd int
}

// recordHeapTrace records, with alloc.StartTrace, jobs that each build
// blocks in a private heap of their own (malloc, calloc, realloc, some
// mapped; some freed through the heap, some through alloc.Free) and
// destroy it with its blocks live, between calls in the process heap;
// the last two heaps stay live at the end of the trace.
func recordHeapTrace(t *testing.T, seed uint64, jobs, perJob int) (string, heapWorkload) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "heaps.trace")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := alloc.StartTrace(f); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	size := func() int {
		if rng.IntN(100) == 0 {
			return 128<<10 + rng.IntN(256<<10)
		}
		return 1 + rng.IntN(2000)
	}
	var w heapWorkload
	var global []unsafe.Pointer
	var kept []*alloc.Heap
	for j := 0; j < jobs; j++ {
		h := alloc.NewHeap()
		w.created++
		var live []unsafe.Pointer
		for i := 0; i < perJob; i++ {
			switch k := rng.IntN(10); {
			case k < 5 || len(live) == 0:
				live = append(live, h.Malloc(size()))
			case k == 5:
				live = append(live, h.Calloc(1+rng.IntN(4), size()/4+1))
			case k == 6:
				j := rng.IntN(len(live))
				live[j] = h.Realloc(live[j], size())
			case k == 7:
				global = append(global, alloc.Malloc(size()))
			case k == 8 && len(global) > 0:
				alloc.Free(global[len(global)-1])
				global = global[:len(global)-1]
			default:
				j := rng.IntN(len(live))
				if rng.IntN(2) == 0 {
					h.Free(live[j])
				} else {
					alloc.Free(live[j])
				}
				live[j] = live[len(live)-1]
				live = live[:len(live)-1]
			}
		}
		if j >= jobs-2 {
			kept = append(kept, h)
			continue
		}
		h.Destroy()
		w.destroyed++
	}
	w.liveAtEnd = len(kept)
	if err := alloc.StopTrace(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, h := range kept {
		h.Destroy()
	}
	for _, p := range global {
		alloc.Free(p)
	}
	return path, w
}

// TestReplayHeaps: a recorded trace of a program using private heaps
// replays on every target: offheap creates and destroys the heaps and
// allocates in them, Go's heap and glibc emulate the destroys (dropping,
// freeing the heaps' live blocks). Without a go command or a C compiler,
// or with -short, glibc is left out.
func TestReplayHeaps(t *testing.T) {
	path, w := recordHeapTrace(t, testSeed(t), 12, 400)
	tr, err := replay.Load(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Heaps != w.created || len(tr.Ended) == 0 || tr.Info.Version != tracefmt.Version {
		t.Fatalf("loaded %d heaps (created %d), %d blocks ended by destroys, version %d", tr.Heaps, w.created, len(tr.Ended), tr.Info.Version)
	}
	targets := []string{"offheap", "go", "glibc"}
	if testing.Short() {
		targets = targets[:2]
	}
	for _, target := range targets {
		r, err := replay.RunTarget(path, target, replay.Options{Exe: os.Args[0], CleanEnv: true})
		if errors.Is(err, replay.ErrUnavailable) {
			t.Logf("%s: %v", target, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		t.Logf("%s: %d calls, %v, %d faults, peak RSS %d", target, r.Ops, r.Elapsed, r.Faults, r.PeakRSS)
		if r.Ops != len(tr.Ops) || r.Failed != 0 {
			t.Errorf("%s: %d calls (want %d), %d failed", target, r.Ops, len(tr.Ops), r.Failed)
		}
		if target != "offheap" {
			continue
		}
		ph := r.PrivateHeaps
		if ph == nil {
			t.Fatalf("offheap: no private heap figures")
		}
		t.Logf("offheap: private heaps %+v", *ph)
		if ph.Created != uint64(w.created) || ph.Destroyed != uint64(w.destroyed) || ph.Live != w.liveAtEnd || ph.Inuse == 0 {
			t.Errorf("offheap: private heaps %+v; the program created %d, destroyed %d and left %d live, holding blocks", *ph, w.created, w.destroyed, w.liveAtEnd)
		}
	}
}

// TestReplayBadHeapTrace: bad heap events fail the load (and the replay)
// with the trace reader's error.
func TestReplayBadHeapTrace(t *testing.T) {
	for _, tc := range []struct{ trace, err string }{
		{"1 m 1 10\n1 d 2\n", "destruction of heap 2, which was never created"},
		{"1 h 2\n1 d 2\n1 m 1 10 @2\n", "malloc in heap 2, which was destroyed"},
		{"1 h 2\n1 m 1 10 @2\n1 d 2\n1 f 1\n", "block 1 is not live (its heap was destroyed)"},
	} {
		path := filepath.Join(t.TempDir(), "bad.trace")
		os.WriteFile(path, []byte(tc.trace), 0o644)
		if _, err := replay.Load(path, false); err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "offset ") {
			t.Errorf("%q: Load: %v, want an error naming the offset and %q", tc.trace, err, tc.err)
		}
		if _, err := replay.RunTarget(path, "go", replay.Options{Exe: os.Args[0]}); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: replay: %v, want %q", tc.trace, err, tc.err)
		}
	}
}

// TestStatsHeaps: trace-stats counts the private heaps, the allocations
// in them, the blocks freed one by one and those their destroys dropped.
func TestStatsHeaps(t *testing.T) {
	const trace = `1 h 5
1 m 1 100 @5
1 m 2 1000
1 c 3 10 10 @5
1 h 6
1 m 4 50 @6
1 r 1 5 300 @5
1 f 3
1 d 5
1 m 6 7 @6
1 m 7 8 @6
1 d 6
1 h 5
`
	path := filepath.Join(t.TempDir(), "t.trace")
	os.WriteFile(path, []byte(trace), 0o644)
	s, err := replay.ComputeStats(path, false)
	if err != nil {
		t.Fatal(err)
	}
	want := replay.HeapStats{
		Created: 3, Destroyed: 2, PeakLive: 2,
		Allocs:      replay.Bucket{Count: 6, Bytes: 100 + 100 + 50 + 300 + 7 + 8},
		Freed:       2, // #3 freed, #1 reallocated
		Dropped:     replay.Bucket{Count: 4, Bytes: 300 + 50 + 7 + 8},
		LargestDrop: replay.Bucket{Count: 3, Bytes: 50 + 7 + 8},
	}
	if s.Heaps != want {
		t.Errorf("heaps %+v, want %+v", s.Heaps, want)
	}
	if s.LiveAtEnd != (replay.Bucket{Count: 1, Bytes: 1000}) || s.ByOp[tracefmt.HeapCreate] != 3 || s.ByOp[tracefmt.HeapDestroy] != 2 {
		t.Errorf("live at the end %+v, by op %v", s.LiveAtEnd, s.ByOp)
	}
	var out strings.Builder
	s.Write(&out)
	if !strings.Contains(out.String(), "3 private heaps created, 2 destroyed (2 live at once at most): 6 allocations in them (565 B); 2 of their blocks freed one by one, 4 (365 B) dropped by destroys, at most 3 (65 B) by one") {
		t.Errorf("the summary lacks the heaps' line:\n%s", out.String())
	}
}
