package alloc_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/alloc/tracefmt"
)

// readHeapTrace reads a trace, checking it, and returns its events as
// strings (a destroy followed by the blocks it ended) and its info.
func readHeapTrace(t *testing.T, data []byte) ([]string, []tracefmt.Event, tracefmt.Info) {
	t.Helper()
	r, err := tracefmt.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading the trace: %v", err)
	}
	var strs []string
	var evs []tracefmt.Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			return strs, evs, r.Info()
		}
		if err != nil {
			t.Fatalf("reading the trace: %v", err)
		}
		s := e.String()
		if e.Op == tracefmt.HeapDestroy {
			s += fmt.Sprintf(" ends %v", r.Ended())
		}
		strs = append(strs, s)
		evs = append(evs, e)
	}
}

// TestTraceHeaps records a known sequence of calls in private heaps on one
// goroutine: their creation (a heap live when the trace starts appears
// created at its start), the allocations in them, frees through the heap
// and through alloc.Free, reallocs through both, and their destruction,
// which ends their live blocks.
func TestTraceHeaps(t *testing.T) {
	pre := alloc.NewHeap() // created before the trace
	pb := pre.Malloc(100)  // allocated before the trace: its free is dropped
	pr := pre.Malloc(10)   // and its realloc becomes a malloc
	var buf syncBuffer
	if err := alloc.StartTrace(&buf); err != nil {
		t.Fatal(err)
	}
	h := alloc.NewHeap()
	a := h.Malloc(24)
	b := h.Calloc(10, 30)
	c := h.Malloc(300 << 10) // mapped
	a = h.Realloc(a, 5000)
	d := alloc.Malloc(64)
	e := pre.Malloc(50)
	alloc.Free(b)
	c = alloc.Realloc(c, 600<<10)
	pre.Free(pb)
	pr = pre.Realloc(pr, 4000)
	h.Destroy() // a and c die with it
	h2 := alloc.NewHeap()
	f := h2.Malloc(24) // at a's address, likely: h2 reuses h's memory
	f = h2.Realloc(f, 0)
	g := h2.Malloc(40)
	pre.Free(e)
	h2.Destroy()
	alloc.Free(d)
	if err := alloc.StopTrace(); err != nil {
		t.Fatal(err)
	}
	pre.Free(pr)
	pre.Destroy() // after the trace: not recorded
	_, _, _ = c, f, g

	got, _, info := readHeapTrace(t, buf.Bytes())
	hp, h1, h2n := pre.ID(), h.ID(), h2.ID()
	want := []string{
		fmt.Sprintf("heap_create(%d)", hp),
		fmt.Sprintf("heap_create(%d)", h1),
		fmt.Sprintf("malloc(24) = #1 in heap %d", h1),
		fmt.Sprintf("calloc(10, 30) = #2 in heap %d", h1),
		fmt.Sprintf("malloc(307200) = #3 in heap %d", h1),
		fmt.Sprintf("realloc(#1, 5000) = #4 in heap %d", h1),
		"malloc(64) = #5",
		fmt.Sprintf("malloc(50) = #6 in heap %d", hp),
		"free(#2)",
		fmt.Sprintf("realloc(#3, 614400) = #7 in heap %d", h1),
		fmt.Sprintf("malloc(4000) = #8 in heap %d", hp),
		fmt.Sprintf("heap_destroy(%d) ends [4 7]", h1),
		fmt.Sprintf("heap_create(%d)", h2n),
		fmt.Sprintf("malloc(24) = #9 in heap %d", h2n),
		"free(#9)",
		fmt.Sprintf("malloc(40) = #10 in heap %d", h2n),
		"free(#6)",
		fmt.Sprintf("heap_destroy(%d) ends [10]", h2n),
		"free(#5)",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("trace:\n got %q\nwant %q", got, want)
	}
	if !info.Ended || info.Dropped != 2 || info.Heaps != 3 || info.Version != tracefmt.Version {
		t.Errorf("trace info %+v: want ended, 2 dropped (the pre-trace block's free and realloc), 3 heaps", info)
	}
}

// TestTraceHeapsConcurrent: goroutines create private heaps, allocate,
// reallocate and free in them (through the heap and through alloc.Free)
// and in the process heap, and destroy the heaps with blocks live, while
// the destroyed heaps' memory is taken by the next heaps. The trace reads
// back (the reader checks every free, realloc and allocation against the
// live blocks and heaps) and holds every call.
func TestTraceHeapsConcurrent(t *testing.T) {
	seed := *traceSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -trace-seed %d)", seed, seed)
	var buf syncBuffer
	if err := alloc.StartTrace(&buf); err != nil {
		t.Fatal(err)
	}
	const workers, rounds, ops = 4, 30, 300
	var counts [workers][tracefmt.NumOps]int
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var global []unsafe.Pointer
			for r := 0; r < rounds; r++ {
				h := alloc.NewHeap()
				counts[w][tracefmt.HeapCreate]++
				var live []unsafe.Pointer
				for i := 0; i < ops; i++ {
					size := 1 + rng.IntN(2000)
					if rng.IntN(50) == 0 {
						size = 200<<10 + rng.IntN(100<<10) // mapped
					}
					switch k := rng.IntN(10); {
					case k < 4 || len(live) == 0:
						live = append(live, h.Malloc(size))
						counts[w][tracefmt.Malloc]++
					case k == 4:
						live = append(live, h.Calloc(1+rng.IntN(4), size/4+1))
						counts[w][tracefmt.Calloc]++
					case k == 5:
						j := rng.IntN(len(live))
						if rng.IntN(2) == 0 {
							live[j] = h.Realloc(live[j], size)
						} else {
							live[j] = alloc.Realloc(live[j], size)
						}
						counts[w][tracefmt.Realloc]++
					case k == 6:
						global = append(global, alloc.Malloc(size))
						counts[w][tracefmt.Malloc]++
					case k == 7 && len(global) > 0:
						alloc.Free(global[len(global)-1])
						global = global[:len(global)-1]
						counts[w][tracefmt.Free]++
					default:
						j := rng.IntN(len(live))
						if rng.IntN(2) == 0 {
							h.Free(live[j])
						} else {
							alloc.Free(live[j])
						}
						live[j] = live[len(live)-1]
						live = live[:len(live)-1]
						counts[w][tracefmt.Free]++
					}
				}
				h.Destroy() // with the blocks of live
				counts[w][tracefmt.HeapDestroy]++
			}
			for _, p := range global {
				alloc.Free(p)
				counts[w][tracefmt.Free]++
			}
		}(w)
	}
	wg.Wait()
	if err := alloc.StopTrace(); err != nil {
		t.Fatal(err)
	}
	_, evs, info := readHeapTrace(t, buf.Bytes())
	var want, got [tracefmt.NumOps]int
	for w := range counts {
		for op, n := range counts[w] {
			want[op] += n
		}
	}
	for _, e := range evs {
		got[e.Op]++
	}
	if got != want || info.Dropped != 0 || info.Heaps != workers*rounds {
		t.Errorf("trace holds %v calls by op (dropped %d, %d heaps), the workers made %v", got, info.Dropped, info.Heaps, want)
	}
	t.Logf("%d events, %d bytes", len(evs), len(buf.Bytes()))
}
