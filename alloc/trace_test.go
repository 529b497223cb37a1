package alloc_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	rttrace "runtime/trace"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/alloc/tracefmt"
)

var traceSeed = flag.Uint64("trace-seed", 0, "seed of TestTraceConcurrent (0: from the clock)")

// syncBuffer is a bytes.Buffer the tracer's goroutine writes and the test
// reads after StopTrace.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func readTrace(t *testing.T, data []byte) ([]tracefmt.Event, tracefmt.Info) {
	t.Helper()
	r, err := tracefmt.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading the trace: %v", err)
	}
	var evs []tracefmt.Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the trace: %v", err)
		}
		evs = append(evs, e)
	}
	return evs, r.Info()
}

// TestTraceSequence records a known sequence of calls on one goroutine and
// reads it back: the same operations, sizes and blocks, in order.
func TestTraceSequence(t *testing.T) {
	pre := alloc.Malloc(100) // allocated before the trace: its free is dropped
	var buf syncBuffer
	if err := alloc.StartTrace(&buf); err != nil {
		t.Fatal(err)
	}
	if err := alloc.StartTrace(io.Discard); err == nil {
		t.Error("a second StartTrace succeeded")
	}
	a := alloc.Malloc(24)
	b := alloc.Calloc(10, 300)
	c := alloc.AlignedAlloc(4096, 5000)
	d := alloc.Malloc(200 << 10) // mapped
	a = alloc.Realloc(a, 5000)
	alloc.Free(b)
	e := alloc.AlignedAlloc(8, 40) // recorded as a Malloc
	alloc.Free(pre)
	alloc.Free(nil)              // not recorded
	f := alloc.Realloc(nil, 77)  // recorded as a Malloc
	alloc.Realloc(f, 0)          // recorded as a Free
	if alloc.Malloc(-1) != nil { // failed: not recorded
		t.Error("Malloc(-1) succeeded")
	}
	for _, p := range []unsafe.Pointer{a, c, d, e} {
		alloc.Free(p)
	}
	if err := alloc.StopTrace(); err != nil {
		t.Fatal(err)
	}
	if err := alloc.StopTrace(); err == nil {
		t.Error("a second StopTrace succeeded")
	}

	evs, info := readTrace(t, buf.Bytes())
	want := []string{
		"malloc(24) = #1",
		"calloc(10, 300) = #2",
		"aligned_alloc(4096, 5000) = #3",
		"malloc(204800) = #4",
		"realloc(#1, 5000) = #5",
		"free(#2)",
		"malloc(40) = #6",
		"malloc(77) = #7",
		"free(#7)",
		"free(#5)",
		"free(#3)",
		"free(#4)",
		"free(#6)",
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.String())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("trace:\n got %q\nwant %q", got, want)
	}
	if !info.Ended || info.Dropped != 1 || !info.Timestamps {
		t.Errorf("trace info %+v: want ended, 1 dropped (the pre-trace block), timestamps", info)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq <= evs[i-1].Seq || evs[i].Time < evs[i-1].Time {
			t.Errorf("event %d: seq %d time %d after seq %d time %d", i, evs[i].Seq, evs[i].Time, evs[i-1].Seq, evs[i-1].Time)
		}
	}
}

// TestTraceConcurrent records goroutines that allocate, reallocate and
// free (also each other's blocks, through a channel) and checks that the
// trace is consistent (the reader checks every free and realloc against
// the live blocks) and holds every call.
func TestTraceConcurrent(t *testing.T) {
	seed := *traceSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -trace-seed %d)", seed, seed)
	var buf syncBuffer
	if err := alloc.StartTrace(&buf); err != nil {
		t.Fatal(err)
	}
	const workers, ops = 4, 10000
	var counts [workers][6]int
	handoff := make(chan unsafe.Pointer, 64)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var live []unsafe.Pointer
			for i := 0; i < ops; i++ {
				switch k := rng.IntN(10); {
				case k < 4 || len(live) == 0:
					live = append(live, alloc.Malloc(1+rng.IntN(3000)))
					counts[w][tracefmt.Malloc]++
				case k == 4:
					live = append(live, alloc.Calloc(1+rng.IntN(8), 1+rng.IntN(500)))
					counts[w][tracefmt.Calloc]++
				case k == 5:
					j := rng.IntN(len(live))
					live[j] = alloc.Realloc(live[j], 1+rng.IntN(20000))
					counts[w][tracefmt.Realloc]++
				case k == 6:
					j := rng.IntN(len(live))
					select {
					case handoff <- live[j]: // another worker frees it
						live[j] = live[len(live)-1]
						live = live[:len(live)-1]
					default:
					}
				case k == 7:
					select {
					case p := <-handoff:
						alloc.Free(p)
						counts[w][tracefmt.Free]++
					default:
					}
				default:
					j := rng.IntN(len(live))
					alloc.Free(live[j])
					counts[w][tracefmt.Free]++
					live[j] = live[len(live)-1]
					live = live[:len(live)-1]
				}
			}
			for _, p := range live {
				alloc.Free(p)
				counts[w][tracefmt.Free]++
			}
		}(w)
	}
	wg.Wait()
	close(handoff)
	for p := range handoff {
		alloc.Free(p)
		counts[0][tracefmt.Free]++
	}
	if err := alloc.StopTrace(); err != nil {
		t.Fatal(err)
	}
	evs, info := readTrace(t, buf.Bytes())
	var want, got [6]int
	for w := range counts {
		for op, n := range counts[w] {
			want[op] += n
		}
	}
	for _, e := range evs {
		got[e.Op]++
	}
	if got != want || info.Dropped != 0 {
		t.Errorf("trace holds %v calls by op (dropped %d), the workers made %v", got, info.Dropped, want)
	}
	t.Logf("%d events, %d bytes (%.1f bytes per event)", len(evs), len(buf.Bytes()), float64(len(buf.Bytes()))/float64(len(evs)))
}

// TestTraceEnv starts a child with OFFHEAP=trace=path: the trace is
// written without any call, from the very first allocation, and the
// child's StopTrace ends it, in debug mode too; a child that exits without
// StopTrace leaves a trace the reader reads as unterminated.
func TestTraceEnv(t *testing.T) {
	if os.Getenv("OFFHEAP_TEST_TRACE_CHILD") != "" {
		for i := 0; i < 1000; i++ {
			alloc.Free(alloc.Malloc(i))
		}
		if os.Getenv("OFFHEAP_TEST_TRACE_CHILD") != "exit" {
			if err := alloc.StopTrace(); err != nil {
				fmt.Println("StopTrace:", err)
				os.Exit(1)
			}
		} else {
			time.Sleep(200 * time.Millisecond) // a few writer rounds
		}
		os.Exit(0)
	}
	for _, mode := range []string{"stop", "debug", "exit"} {
		path := filepath.Join(t.TempDir(), "trace")
		cmd := exec.Command(os.Args[0], "-test.run=^TestTraceEnv$")
		env := "OFFHEAP=trace=" + path
		if mode == "debug" {
			env += ",debug=100" // every call through the debug paths
		}
		cmd.Env = append(os.Environ(), "OFFHEAP_TEST_TRACE_CHILD="+mode, env)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child (%s): %v\n%s", mode, err, out)
		}
		evs, info, err := tracefmt.ReadAll(path, false)
		switch mode {
		case "stop", "debug":
			if err != nil || len(evs) != 2000 || !info.Ended || info.Dropped != 0 {
				t.Errorf("child that stopped (%s): %d events, %d dropped, ended %v, %v; want 2000, a whole trace", mode, len(evs), info.Dropped, info.Ended, err)
			}
		case "exit":
			if !errors.Is(err, tracefmt.ErrUnterminated) {
				t.Errorf("child that exited: error %v, want ErrUnterminated", err)
			}
			evs, info, err = tracefmt.ReadAll(path, true)
			if err != nil || len(evs) != 2000 || info.Ended {
				t.Errorf("child that exited, read partially: %d events, ended %v, %v; want 2000", len(evs), info.Ended, err)
			}
		}
	}
}

// BenchmarkPairTraced is BenchmarkPair's 64-byte pair with tracing on,
// to io.Discard: the cost of recording two calls.
func BenchmarkPairTraced(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			if on {
				if err := alloc.StartTrace(io.Discard); err != nil {
					b.Fatal(err)
				}
				defer alloc.StopTrace()
			}
			for b.Loop() {
				p := alloc.Malloc(64)
				alloc.Free(p)
			}
		})
	}
}

// TestRuntimeTraceEvents: with runtime/trace running, a mapping offheap
// makes appears in the execution trace as a log message.
func TestRuntimeTraceEvents(t *testing.T) {
	var buf bytes.Buffer
	if err := rttrace.Start(&buf); err != nil {
		t.Skipf("runtime/trace: %v", err)
	}
	p := alloc.Malloc(40 << 20) // above any threshold: a mapping of its own
	alloc.Free(p)
	rttrace.Stop()
	for _, want := range []string{"offheap", "map arena=-1 size=", "unmap arena=-1 size="} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Errorf("the execution trace holds no %q", want)
		}
	}
}
