package replay_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offheap/offheap/alloc/tracefmt"
	"github.com/offheap/offheap/internal/replay"
)

// writeTrace writes a binary trace of n blocks of lo..hi bytes, each freed
// when window newer ones exist: blocks freed and allocated again and again.
func writeTrace(t *testing.T, rng *rand.Rand, n, window, lo, hi int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "churn.trace")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := tracefmt.NewWriter(f, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var live []uint64
	seq := uint64(0)
	write := func(e tracefmt.Event) {
		seq++
		e.Seq = seq
		if err := w.Write(&e); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		if len(live) == window {
			write(tracefmt.Event{Op: tracefmt.Free, ID: live[0]})
			live = live[1:]
		}
		id := w.NextID()
		write(tracefmt.Event{Op: tracefmt.Malloc, ID: id, Size: uint64(lo + rng.IntN(hi-lo+1))})
		live = append(live, id)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// TestTuneLargeChurn is issue 6's acceptance 6: on a trace of many 200-300
// KiB blocks freed and allocated again, with the baseline's mmap threshold
// pinned at 128 KiB (as any explicit setting of it, the trim threshold,
// the top pad or mmap_max pins it, in glibc and in offheap), tune
// recommends settings that remove nearly all mmap/munmap calls, and says
// by how much. The replays touch the blocks, as a program would: without
// touching, a block served by its own mapping faults nothing, while the
// heap's growth is faulted in by populate, and a threshold below the
// blocks (some of them mapped) won by a few faults in one run of three.
func TestTuneLargeChurn(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	const blocks = 1500
	path := writeTrace(t, rng, blocks, 4, 200<<10, 300<<10)
	a, err := replay.Tune(path, replay.TuneOptions{
		Grid: replay.Grid{
			MmapThreshold: []int64{replay.Unset, 256 << 10, 1 << 20, 4 << 20},
			TrimThreshold: []int64{replay.Unset, 16 << 20},
		},
		Base:      "mmap_threshold=128KiB",
		RSSBudget: 256 << 20,
		Parallel:  2,
		Exe:       os.Args[0],
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a.Write(&out, true)
	t.Logf("\n%s", out.String())
	if a.Best == nil {
		t.Fatal("no recommendation")
	}
	mmaps := func(r replay.Result) int64 {
		return r.SyscallsBy["mmap"] + r.SyscallsBy["munmap"] + r.SyscallsBy["mremap"]
	}
	base, best := mmaps(a.Base.Result), mmaps(a.Best.Result)
	if base < 2*blocks-10 {
		t.Errorf("baseline: %d mmap/munmap calls for %d blocks above its threshold, want about %d", base, blocks, 2*blocks)
	}
	if best > base/50 {
		t.Errorf("recommended %q: %d mmap/munmap calls, baseline %d: want nearly all removed", a.Best.Result.Settings, best, base)
	}
	if a.Best.Result.Syscalls >= a.Base.Result.Syscalls {
		t.Errorf("recommended %q: %d system calls, baseline %d", a.Best.Result.Settings, a.Best.Result.Syscalls, a.Base.Result.Syscalls)
	}
	if c := a.Best.Config.MmapThreshold; c != replay.Unset && c < 300<<10 {
		t.Errorf("recommended mmap threshold %d is below the blocks' 300 KiB", c)
	}
	if !strings.Contains(out.String(), "recommended: ") || !strings.Contains(out.String(), "of them mmap/munmap/mremap") {
		t.Errorf("the advice does not state the recommendation and the reduction:\n%s", out.String())
	}
}

func TestGrid(t *testing.T) {
	v, err := replay.ParseList("default,128k,1MiB,4")
	if err != nil || len(v) != 4 || v[0] != replay.Unset || v[1] != 128<<10 || v[2] != 1<<20 || v[3] != 4 {
		t.Errorf("ParseList: %v, %v", v, err)
	}
	if _, err := replay.ParseList("12q"); err == nil {
		t.Error("ParseList accepted 12q")
	}
	g := replay.Grid{MmapThreshold: []int64{replay.Unset, 1 << 20}, ArenaMax: []int64{2}}
	cs := g.Configs()
	if len(cs) != 2 {
		t.Fatalf("%d configs, want 2", len(cs))
	}
	if got := cs[1].Offheap(); got != "mmap_threshold=1MiB,arena_max=2" {
		t.Errorf("Offheap() = %q", got)
	}
	if got := (replay.Config{replay.Unset, replay.Unset, replay.Unset, replay.Unset}).Offheap(); got != "" {
		t.Errorf("defaults: Offheap() = %q", got)
	}
}

// TestTuneExtras: on a trace whose heap grows and is trimmed again and
// again (rounds of 100-200 KiB blocks, below the mmap threshold, all freed
// at the end of each round), tune tries decay and huge pages on top of the
// grid's best, finds that decay removes nearly every system call, and
// recommends an extra that pays.
func TestTuneExtras(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rounds.trace")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := tracefmt.NewWriter(f, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	write := func(e tracefmt.Event) {
		seq++
		e.Seq = seq
		if err := w.Write(&e); err != nil {
			t.Fatal(err)
		}
	}
	const rounds, perRound = 40, 40
	for r := 0; r < rounds; r++ {
		var ids []uint64
		for i := 0; i < perRound; i++ {
			id := w.NextID()
			write(tracefmt.Event{Op: tracefmt.Malloc, ID: id, Size: uint64(100<<10 + (i*7919)%(100<<10))})
			ids = append(ids, id)
		}
		for _, id := range ids {
			write(tracefmt.Event{Op: tracefmt.Free, ID: id})
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	a, err := replay.Tune(path, replay.TuneOptions{
		Grid:      replay.Grid{MmapThreshold: []int64{1 << 20}},
		RSSBudget: 512 << 20,
		Exe:       os.Args[0],
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a.Write(&out, true)
	t.Logf("\n%s", out.String())
	if len(a.Extras) != len(replay.DefaultExtras) {
		t.Fatalf("%d extras tried, want %d", len(a.Extras), len(replay.DefaultExtras))
	}
	grid := a.Trials[0]
	decay := a.Extras[0]
	if decay.Extra != "decay=1s" || decay.Result.Settings != "mmap_threshold=1MiB,decay=1s" {
		t.Fatalf("first extra %q (%q)", decay.Extra, decay.Result.Settings)
	}
	if grid.Result.Syscalls < 2*rounds || decay.Result.Syscalls*10 > grid.Result.Syscalls {
		t.Errorf("system calls: %d with the grid's best, %d with decay: want a tenth or fewer", grid.Result.Syscalls, decay.Result.Syscalls)
	}
	if a.Best == nil || a.Best.Extra == "" {
		t.Errorf("no extra recommended")
	}
	if !strings.Contains(out.String(), "decay=1s: cost ") {
		t.Errorf("the advice does not say what decay saves:\n%s", out.String())
	}
}
