package bench_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offheap/offheap/bench"
)

// The test binary doubles as a fake child for the runner's tests: with
// BENCH_FAKE_CHILD set it speaks ChildMain's protocol for peers fake-a and
// fake-b, dies in the job named by BENCH_FAKE_CRASH ("peer=workload"),
// hangs in the one named by BENCH_FAKE_HANG, and with BENCH_FAKE_CHILD=dead
// dies before measuring anything. With BENCH_FIRST_MALLOC=peer it times
// that peer's first Malloc(16) (bench.FirstChild) and exits.
func TestMain(m *testing.M) {
	if peer := os.Getenv("BENCH_FIRST_MALLOC"); peer != "" {
		os.Exit(firstChild(peer))
	}
	if mode := os.Getenv("BENCH_FAKE_CHILD"); mode != "" {
		os.Exit(fakeChild(mode))
	}
	os.Exit(m.Run())
}

func fakeChild(mode string) int {
	switch mode {
	case "dead":
		fmt.Fprintln(os.Stderr, "fake child: cannot start")
		return 1
	case "childmain":
		// The real ChildMain, with fake-a's allocator panicking in
		// random-live's first trial run (after the 1,000 blocks of the
		// live set).
		var calls atomic.Int64
		failing := bench.Peer{Name: "fake-a", About: "about fake-a",
			NewWorker: func(w *bench.Workload, i int) (bench.Worker, error) {
				if w.Name == "random-live" {
					return bench.NewGoWorker(failingAlloc{calls: &calls, limit: 1050}, w, i)
				}
				return bench.NewGoWorker(new(bench.GoHeap), w, i)
			}}
		return bench.ChildMain(os.Args[1:], []bench.Peer{failing, bench.GoPeer("fake-b", "about fake-b",
			func() bench.Allocator { return new(bench.GoHeap) }, nil)}, nil)
	}
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	fs.Duration("benchtime", 0, "")
	fs.Duration("gctime", 0, "")
	fs.Int("threads", 0, "")
	fs.String("gc-entries", "", "")
	fs.String("gc-values", "", "")
	jobs := fs.String("jobs", "", "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	for _, p := range []string{"fake-a", "fake-b"} {
		out.Encode(map[string]any{"peer": p, "about": "about " + p})
	}
	for _, j := range strings.Split(*jobs, ",") {
		p, w, _ := strings.Cut(j, "=")
		out.Encode(map[string]any{"peer": p, "workload": w, "start": true})
		switch j {
		case os.Getenv("BENCH_FAKE_CRASH"):
			fmt.Fprintln(os.Stderr, "unexpected fault address 0x7f01e862d6c6\nfatal error: fault\n[signal SIGSEGV: segmentation violation]\n\ngoroutine 1 [running]:")
			return 2
		case os.Getenv("BENCH_FAKE_HANG"):
			time.Sleep(time.Hour)
		}
		out.Encode(map[string]any{"peer": p, "workload": w, "sample": bench.Sample{Ops: 1000, Seconds: 1e-5, NsPerOp: 10}})
	}
	return 0
}

func fakeRun(t *testing.T, env []string, count int, timeout time.Duration) (*bench.Report, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	// Under -race a binary sleeps a second at exit (GORACE's
	// atexit_sleep_ms), which TestChildHang's 1 s timeout would take for
	// a hang.
	env = append(env, "GORACE=atexit_sleep_ms=0")
	return bench.RunChild(exe, env, []string{"fake-a", "fake-b"}, []string{"pair/64", "random-live"}, count,
		bench.Options{BenchTime: time.Millisecond, ChildTimeout: timeout})
}

// TestChildCrash: a child that dies in a job loses that job alone, with
// the fatal error as the reason; the other jobs are measured every
// repetition and the dead job is not run again.
func TestChildCrash(t *testing.T) {
	r, err := fakeRun(t, []string{"BENCH_FAKE_CHILD=1", "BENCH_FAKE_CRASH=fake-a=random-live"}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := r.Failed("fake-a", "random-live")
	if f == nil || !strings.Contains(f.Error, "fatal error: fault") || len(r.Failures) != 1 {
		t.Fatalf("failures %+v, want fake-a random-live's fatal error", r.Failures)
	}
	for _, j := range [][2]string{{"fake-a", "pair/64"}, {"fake-b", "pair/64"}, {"fake-b", "random-live"}} {
		if x := r.Result(j[0], j[1]); x == nil || len(x.Samples) != 2 {
			t.Errorf("%v: %+v, want 2 samples", j, x)
		}
	}
	if r.Result("fake-a", "random-live") != nil {
		t.Error("the crashed job has samples")
	}
	if len(r.Peers) != 2 || r.Peers[1].About != "about fake-b" {
		t.Errorf("peers %+v", r.Peers)
	}
}

// TestChildHang: a child that hangs is killed after the timeout, and the
// job it hung in fails with that reason.
func TestChildHang(t *testing.T) {
	r, err := fakeRun(t, []string{"BENCH_FAKE_CHILD=1", "BENCH_FAKE_HANG=fake-b=pair/64"}, 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Failed("fake-b", "pair/64"); f == nil || !strings.Contains(f.Error, "killed after 1s") {
		t.Fatalf("failures %+v, want fake-b pair/64 killed", r.Failures)
	}
	if x := r.Result("fake-b", "random-live"); x == nil || len(x.Samples) != 1 {
		t.Errorf("the job after the hang: %+v", x)
	}
}

// TestChildMainStopsAfterFailure: ChildMain reports a panic in an
// allocator and stops; the runner starts it again on the jobs left.
func TestChildMainStopsAfterFailure(t *testing.T) {
	r, err := fakeRun(t, []string{"BENCH_FAKE_CHILD=childmain"}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Failed("fake-a", "random-live"); f == nil || !strings.Contains(f.Error, "panic: failingAlloc: malloc") || len(r.Failures) != 1 {
		t.Fatalf("failures %+v, want fake-a random-live's panic", r.Failures)
	}
	for _, j := range [][2]string{{"fake-a", "pair/64"}, {"fake-b", "pair/64"}, {"fake-b", "random-live"}} {
		if x := r.Result(j[0], j[1]); x == nil || len(x.Samples) != 2 {
			t.Errorf("%v: %+v, want 2 samples", j, x)
		}
	}
}

// TestChildDead: a child that measures nothing is an error (Run skips its
// peers with it).
func TestChildDead(t *testing.T) {
	_, err := fakeRun(t, []string{"BENCH_FAKE_CHILD=dead"}, 1, 0)
	if err == nil || !strings.Contains(err.Error(), "cannot start") {
		t.Fatalf("error %v, want the child's own message", err)
	}
}
