package bench_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/offheap/offheap/bench"
)

// firstChild is TestMain's BENCH_FIRST_MALLOC mode: the first Malloc(16)
// of peer, timed in this fresh process. offheap's peer is made with GoPeer,
// not OffheapPeer, which would set the program break up first.
func firstChild(peer string) int {
	switch peer {
	case "offheap":
		return bench.FirstChild(bench.GoPeer("offheap", "", func() bench.Allocator { return bench.Offheap{} }, bench.OffheapSyscalls), 16)
	case "go-heap":
		return bench.FirstChild(bench.GoHeapPeer(), 16)
	}
	return 2
}

// runFirstChild starts this test binary as a first-call child of peer.
func runFirstChild(t *testing.T, peer string) (bench.Sample, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "BENCH_FIRST_MALLOC="+peer)
	return bench.RunFirst(cmd)
}

// TestFirstMalloc: a fresh process times its first Malloc(16) and reports
// one operation with a time between nothing and a second; for offheap its
// memory system calls are counted (the first call gets the heap's first
// memory); a child that fails is an error naming it.
func TestFirstMalloc(t *testing.T) {
	for _, peer := range []string{"offheap", "go-heap"} {
		s, err := runFirstChild(t, peer)
		if err != nil {
			t.Fatalf("%s: %v", peer, err)
		}
		if s.Ops != 1 || s.NsPerOp <= 0 || s.NsPerOp > 1e9 || s.Seconds != s.NsPerOp/1e9 || s.RSS <= 0 || s.MaxRSS <= 0 {
			t.Errorf("%s: sample %+v", peer, s)
		}
		if counted := s.Syscalls >= 0; counted != (peer == "offheap") {
			t.Errorf("%s: memory system calls %d: want them counted for offheap only", peer, s.Syscalls)
		}
		t.Logf("%s: first Malloc(16) %.1f us, %d memory system calls, %d minor faults", peer, s.NsPerOp/1e3, s.Syscalls, s.MinorFaults)
	}
	if _, err := runFirstChild(t, "nobody"); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("a failing child: %v", err)
	}
	w := &bench.Workload{Name: "first-malloc", Kind: bench.FirstCall, Size: 16}
	if _, err := bench.MeasureFirst(bench.Peer{Name: "x"}, w); err == nil {
		t.Error("a peer with neither an allocator nor a First function timed a first call")
	}
	// Through Measure (in this process, not a first call: a call like any
	// other).
	s, err := bench.Measure(bench.GoHeapPeer(), w, time.Millisecond)
	if err != nil || s.Ops != 1 {
		t.Errorf("Measure: %+v, %v", s, err)
	}
}

// TestFirstMallocNotFirst: ChildMain times a first call only as the first
// measurement of its process; later in the same process it is a failure
// saying why, and the other measurements go on. (fake-a cannot time a
// first call at all: it has no allocator of its own; after its failure the
// runner starts the child again, where fake-b's comes first.)
func TestFirstMallocNotFirst(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	run := func(workloads ...string) *bench.Report {
		r, err := bench.RunChild(exe, []string{"BENCH_FAKE_CHILD=childmain", "GORACE=atexit_sleep_ms=0"}, []string{"fake-a", "fake-b"},
			workloads, 1, bench.Options{BenchTime: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := run("pair/64", "first-malloc")
	for _, p := range []string{"fake-a", "fake-b"} {
		if f := r.Failed(p, "first-malloc"); f == nil || !strings.Contains(f.Error, "only as the first measurement of a process") {
			t.Errorf("%s: failures %+v, want first-malloc refused", p, r.Failures)
		}
		if x := r.Result(p, "pair/64"); x == nil || len(x.Samples) != 1 {
			t.Errorf("%s pair/64: %+v", p, x)
		}
	}
	r = run("first-malloc")
	if f := r.Failed("fake-a", "first-malloc"); f == nil || !strings.Contains(f.Error, "cannot time its first call") {
		t.Errorf("fake-a: failures %+v", r.Failures)
	}
	if x := r.Result("fake-b", "first-malloc"); x == nil || len(x.Samples) != 1 || x.Samples[0].Ops != 1 || len(r.Failures) != 1 {
		t.Errorf("fake-b first-malloc: %+v, failures %+v", x, r.Failures)
	}
}

// TestFirstProgram: the C program times glibc's first malloc in a fresh
// process, a few microseconds, with the heap untouched before it; the
// native peer runs it through FirstMallocEnv.
func TestFirstProgram(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no C compiler")
	}
	path := t.TempDir() + "/firstmalloc"
	if err := bench.BuildFirstProgram(bench.CLib{Name: "glibc"}, path); err != nil {
		t.Fatal(err)
	}
	t.Setenv(bench.FirstMallocEnv, path)
	s, err := bench.NativeFirst(16)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops != 1 || s.NsPerOp <= 0 || s.NsPerOp > 1e9 || s.MinorFaults < 0 || s.RSS <= 0 {
		t.Errorf("sample %+v", s)
	}
	t.Logf("glibc's first malloc(16): %.1f us, %d minor faults", s.NsPerOp/1e3, s.MinorFaults)
	t.Setenv(bench.FirstMallocEnv, "")
	if _, err := bench.NativeFirst(16); err == nil || !strings.Contains(err.Error(), bench.FirstMallocEnv) {
		t.Errorf("without the program: %v", err)
	}
}
