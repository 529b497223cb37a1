package replay_test

import (
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/internal/replay"
)

var seed = flag.Uint64("seed", 0, "seed of the recorded workloads (0: from the clock)")

func TestMain(m *testing.M) {
	replay.MaybeChild() // the replays' children are this test binary
	flag.Parse()
	os.Exit(m.Run())
}

func testSeed(t *testing.T) uint64 {
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed %d)", s, s)
	return s
}

// recordTrace records a random workload of n calls (small and mid blocks,
// some above the mmap threshold, reallocs, aligned blocks) with
// alloc.StartTrace and returns the trace file.
func recordTrace(t *testing.T, seed uint64, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "workload.trace")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := alloc.StartTrace(f); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 6))
	size := func() int {
		switch k := rng.IntN(100); {
		case k < 70:
			return 1 + rng.IntN(512)
		case k < 95:
			return 1 + rng.IntN(16<<10)
		}
		return 128<<10 + rng.IntN(512<<10)
	}
	var live []unsafe.Pointer
	for i := 0; i < n; i++ {
		switch k := rng.IntN(10); {
		case k < 3 || len(live) == 0:
			live = append(live, alloc.Malloc(size()))
		case k == 3:
			live = append(live, alloc.Calloc(1+rng.IntN(4), size()/4+1))
		case k == 4:
			live = append(live, alloc.AlignedAlloc(64<<rng.IntN(6), size()))
		case k == 5:
			j := rng.IntN(len(live))
			live[j] = alloc.Realloc(live[j], size())
		default:
			j := rng.IntN(len(live))
			alloc.Free(live[j])
			live[j] = live[len(live)-1]
			live = live[:len(live)-1]
		}
	}
	for _, p := range live[:len(live)/2] { // the rest stays live at the end
		alloc.Free(p)
	}
	if err := alloc.StopTrace(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, p := range live[len(live)/2:] {
		alloc.Free(p)
	}
	return path
}

// TestReplayDeterministic is issue 6's acceptance 4: a recorded trace
// replays to identical Mallinfo2 figures (and system calls) in a second
// child process with the same settings.
func TestReplayDeterministic(t *testing.T) {
	path := recordTrace(t, testSeed(t), 10000)
	for _, settings := range []string{"", "mmap_threshold=256KiB,top_pad=64KiB"} {
		opt := replay.Options{Offheap: settings, Exe: os.Args[0], CleanEnv: true}
		r1, err := replay.RunTarget(path, "offheap", opt)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := replay.RunTarget(path, "offheap", opt)
		if err != nil {
			t.Fatal(err)
		}
		if r1.Mallinfo == nil || r2.Mallinfo == nil {
			t.Fatalf("%q: no Mallinfo2 in the offheap results", settings)
		}
		t.Logf("%q: %d calls, %d syscalls, %+v", settings, r1.Ops, r1.Syscalls, *r1.Mallinfo)
		if *r1.Mallinfo != *r2.Mallinfo {
			t.Errorf("%q: Mallinfo2 differs between two replays:\n%+v\n%+v", settings, *r1.Mallinfo, *r2.Mallinfo)
		}
		if r1.Syscalls != r2.Syscalls || r1.Failed != 0 || r1.Ops == 0 {
			t.Errorf("%q: syscalls %d then %d, %d failed, %d calls", settings, r1.Syscalls, r2.Syscalls, r1.Failed, r1.Ops)
		}
		if r1.Mallinfo.Arena == 0 || r1.Mallinfo.Uordblks == 0 {
			t.Errorf("%q: Mallinfo2 %+v: nothing in use after a replay that leaves blocks live", settings, *r1.Mallinfo)
		}
	}
}

// TestReplayBadTrace: a corrupt or truncated trace fails with an error
// naming the offset, in the parent's Load and in a child's replay alike.
func TestReplayBadTrace(t *testing.T) {
	path := recordTrace(t, testSeed(t), 3000)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0x55
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)-len(data)/3],
		"corrupt":   flipped,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, bad, 0o644)
		if _, err := replay.Load(p, false); err == nil || !strings.Contains(err.Error(), "offset ") {
			t.Errorf("%s: Load: %v, want an error naming the offset", name, err)
		}
		_, err := replay.RunTarget(p, "offheap", replay.Options{Exe: os.Args[0]})
		if err == nil || !strings.Contains(err.Error(), "offset ") {
			t.Errorf("%s: replay: %v, want an error naming the offset", name, err)
		} else {
			t.Logf("%s: %v", name, firstLine(err.Error()))
		}
	}
}

func firstLine(s string) string {
	if i := strings.LastIndex(s, "trace: offset"); i >= 0 {
		s = s[i:]
	}
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// TestReplayTargets replays a small trace against Go's heap and (unless
// -short, or without a go command and a C compiler) glibc, counting their
// system calls under ptrace.
func TestReplayTargets(t *testing.T) {
	path := recordTrace(t, testSeed(t), 5000)
	targets := []string{"go", "glibc"}
	if testing.Short() {
		targets = targets[:1]
	}
	for _, target := range targets {
		r, err := replay.RunTarget(path, target, replay.Options{Exe: os.Args[0], Syscalls: true})
		if errors.Is(err, replay.ErrUnavailable) {
			t.Logf("%s: %v", target, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		t.Logf("%s: %+v", target, *r)
		if r.Ops == 0 || r.Failed != 0 || r.PeakRSS <= 0 || r.EndRSS <= 0 {
			t.Errorf("%s: %+v", target, *r)
		}
		if r.Syscalls < 0 && !strings.Contains(r.Note, "not counted") {
			t.Errorf("%s: system calls unknown without a note", target)
		}
	}
}
