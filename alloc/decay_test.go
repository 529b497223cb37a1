package alloc_test

// Tests of decay and hugetlb (issue 12), each in a fresh child process:
// the environment is read once, at the first allocation, and the figures
// (resident memory, page faults, system calls) are the process's own.

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/tune"
)

// TestEnvDecayHugeTLB: decay and hugetlb from each source that has them
// (OFFHEAP, Mallopt, and for hugetlb GLIBC_TUNABLES, glibc's tunable), as
// the child sees them in force: a freed 1 MiB mapped chunk is kept (decay)
// or unmapped (none), and a 4 MiB block is mapped on a huge page boundary
// (hugetlb) or not. decay is offheap's own: GLIBC_TUNABLES does not know it.
// hugetlb=2 on a machine whose pool is empty falls back to 1 with one line
// on standard error.
func TestEnvDecayHugeTLB(t *testing.T) {
	thp := thpMode()
	for _, c := range []struct {
		name    string
		env     []string
		decay   time.Duration
		hugetlb int    // in force
		stderr  string // the one line names this, or "" for no line
	}{
		{"default", nil, 0, 0, ""},
		{"decay_OFFHEAP", []string{"OFFHEAP=decay=10s"}, 10 * time.Second, 0, ""},
		{"decay_OFFHEAP_ms", []string{"OFFHEAP=decay=750"}, 750 * time.Millisecond, 0, ""},
		{"decay_Mallopt", []string{"TEST_MALLOPT_DECAY=2500"}, 2500 * time.Millisecond, 0, ""},
		{"decay_Mallopt_over_OFFHEAP", []string{"OFFHEAP=decay=10s", "TEST_MALLOPT_DECAY=0"}, 0, 0, ""},
		{"decay_not_a_tunable", []string{"GLIBC_TUNABLES=glibc.malloc.decay=10"}, 0, 0, `unknown tunable "glibc.malloc.decay"`},
		{"decay_bad", []string{"OFFHEAP=decay=1.5s"}, 0, 0, `decay="1.5s"`},
		{"hugetlb_OFFHEAP", []string{"OFFHEAP=hugetlb=1"}, 0, 1, ""},
		{"hugetlb_TUNABLES", []string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}, 0, 1, ""},
		{"hugetlb_Mallopt", []string{"TEST_MALLOPT_HUGETLB=1"}, 0, 1, ""},
		{"hugetlb_OFFHEAP_over_TUNABLES", []string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=1", "OFFHEAP=hugetlb=0"}, 0, 0, ""},
		{"hugetlb_bad", []string{"OFFHEAP=hugetlb=3"}, 0, 0, `hugetlb="3"`},
		{"both", []string{"OFFHEAP=decay=1s,hugetlb=1"}, time.Second, 1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, child := inStatsChild(t, c.env...)
			if child {
				decayHugeChild(t)
				return
			}
			if got := out.results["decay"]; got != c.decay.String() {
				t.Errorf("decay in force %s, want %v", got, c.decay)
			}
			if got, want := out.results["kept"], strconv.FormatBool(c.decay > 0); got != want {
				t.Errorf("a freed 1 MiB chunk kept: %s, want %s", got, want)
			}
			if got := out.results["hugetlb"]; got != strconv.Itoa(c.hugetlb) {
				t.Errorf("hugetlb in force %s, want %d", got, c.hugetlb)
			}
			if c.hugetlb != 0 && thp != "never" {
				if got := out.results["aligned"]; got != "true" {
					t.Errorf("a 4 MiB block on a huge page boundary: %s", got)
				}
			}
			checkStderrLine(t, out.stderr, c.stderr)
		})
	}
}

// checkStderrLine wants no output for want "", else exactly one line
// holding want.
func checkStderrLine(t *testing.T, stderr, want string) {
	t.Helper()
	if want == "" {
		if stderr != "" {
			t.Errorf("stderr %q; want nothing", stderr)
		}
		return
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("stderr %q; want one line holding %s", stderr, want)
	}
}

func decayHugeChild(t *testing.T) {
	for _, m := range []struct {
		env string
		p   tune.Param
	}{{"TEST_MALLOPT_DECAY", tune.Decay}, {"TEST_MALLOPT_HUGETLB", tune.HugeTLB}} {
		if v := os.Getenv(m.env); v != "" {
			n, _ := strconv.Atoi(v)
			if err := alloc.Mallopt(m.p, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	var s0, s1 alloc.Stats
	big := alloc.Malloc(1 << 20)
	if !alloc.IsMapped(big) {
		t.Fatal("a 1 MiB request in a fresh process was not mapped")
	}
	alloc.ReadStats(&s0)
	alloc.Free(big)
	alloc.ReadStats(&s1)
	result("decay", s1.Decay.Decay)
	result("kept", s1.Decay.MappedKeptCount == 1 && s1.Syscalls.Munmap.Calls == s0.Syscalls.Munmap.Calls)
	result("hugetlb", s1.HugePages.Mode)
	p := alloc.Malloc(4 << 20)
	result("aligned", (uintptr(p)-16)%(2<<20) == 0)
	alloc.Free(p)
	if err := alloc.Check(); err != nil {
		t.Fatal(err)
	}
}

// thpMode returns the system's transparent huge page mode.
func thpMode() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.Index(s, "["); i >= 0 {
		if j := strings.Index(s[i:], "]"); j > 0 {
			return s[i+1 : i+j]
		}
	}
	return ""
}

// TestHugeTLBFallback: hugetlb=2 where the system's pool of huge pages is
// empty (as on this project's machines) falls back to transparent huge
// pages with one line on standard error, and allocation goes on: a block
// of a huge page or more is still mapped aligned, and Stats say why.
func TestHugeTLBFallback(t *testing.T) {
	out, child := inStatsChild(t, "OFFHEAP=hugetlb=2")
	if child {
		var s alloc.Stats
		p := alloc.Malloc(6 << 20)
		touch(p, 6<<20)
		alloc.ReadStats(&s)
		result("setting", s.HugePages.Setting)
		result("mode", s.HugePages.Mode)
		result("poolfree", s.HugePages.PoolFree)
		result("fallback", strconv.Quote(s.HugePages.Fallback))
		result("aligned", (uintptr(p)-16)%(2<<20) == 0)
		alloc.Free(p)
		if err := alloc.Check(); err != nil {
			t.Fatal(err)
		}
		return
	}
	if out.results["poolfree"] != "0" {
		t.Skipf("the hugetlb pool has %s free pages here: no fallback to test", out.results["poolfree"])
	}
	if out.results["setting"] != "2" || out.results["mode"] != "1" {
		t.Errorf("hugetlb set %s, in force %s; want 2 falling back to 1", out.results["setting"], out.results["mode"])
	}
	if fb, _ := strconv.Unquote(out.results["fallback"]); !strings.Contains(fb, "empty") {
		t.Errorf("Stats.HugePages.Fallback = %q", fb)
	}
	checkStderrLine(t, out.stderr, "hugetlb=2: the pool of")
	if !strings.Contains(out.stderr, "using transparent huge pages (hugetlb=1)") {
		t.Errorf("stderr %q does not say what offheap does instead", out.stderr)
	}
	if out.results["aligned"] != "true" {
		t.Error("the 6 MiB block is not on a huge page boundary")
	}
}

// rssNow returns the process's resident set (smaps_rollup, exact) after a
// full collection, so that the Go heap weighs the same at each reading.
func rssNow(t *testing.T) uint64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Rss:"); ok {
			f := strings.Fields(rest)
			v, _ := strconv.ParseUint(f[0], 10, 64)
			return v << 10
		}
	}
	t.Fatal("no Rss in smaps_rollup")
	return 0
}

// decayWorkload allocates about 120 MiB in blocks of 16 bytes to 4 MiB
// (heap and mapped chunks, two goroutines, so two arenas), writes every
// page, and frees everything.
func decayWorkload() {
	const n = 3000
	var ps [n]unsafe.Pointer
	var sizes [n]int
	var r uint32 = 12345
	for i := range ps {
		r = r*1103515245 + 12345
		switch x := int(r>>16) % 100; {
		case x < 2:
			sizes[i] = 1<<20 + int(r>>8)%(3<<20)
		case x < 20:
			sizes[i] = 16<<10 + int(r>>8)%(200<<10)
		default:
			sizes[i] = 16 + int(r>>8)%4000
		}
	}
	done := make(chan bool)
	for g := range 2 {
		go func() {
			for i := g; i < n; i += 2 {
				ps[i] = alloc.Malloc(sizes[i])
				touch(ps[i], sizes[i])
			}
			for i := g; i < n; i += 2 {
				alloc.Free(ps[i])
			}
			done <- true
		}()
	}
	<-done
	<-done
}

// TestDecayIdleRelease (target 3): with decay=500ms, after a workload
// frees everything and the program then makes no allocator call for 2 s,
// the resident set is back within 2 MiB of what it was before the
// workload, without Trim: the releaser did it, off its timer. Right after
// the frees the memory is still there (kept), which is the point of decay.
func TestDecayIdleRelease(t *testing.T) {
	out, child := inStatsChild(t, "OFFHEAP=decay=500ms", "GOMAXPROCS=2")
	if child {
		p := alloc.Malloc(64) // start the allocator: its tables are there before
		alloc.Free(p)
		var r alloc.Stats
		alloc.ReadResident(&r)
		result("ownbefore", r.RSS.Allocator)
		before := rssNow(t)
		decayWorkload()
		var s alloc.Stats
		alloc.ReadStats(&s)
		result("peak", s.SysPeak)
		result("kept", s.Decay.HeapKept+s.Decay.MappedKept)
		result("freed", rssNow(t)-before)
		time.Sleep(2 * time.Second) // no allocator call
		after := rssNow(t)
		result("before", before)
		result("after", after)
		alloc.ReadResident(&s)
		result("ownafter", s.RSS.Allocator)
		result("released", s.Decay.Released)
		result("next", s.Decay.NextPass.IsZero())
		if err := alloc.Check(); err != nil {
			t.Fatal(err)
		}
		return
	}
	get := func(k string) int64 { v, _ := strconv.ParseInt(out.results[k], 10, 64); return v }
	before, after := get("before"), get("after")
	t.Logf("RSS before %d KiB, just after the frees +%d KiB (kept %d KiB), 2 s later %d KiB (%+d KiB); offheap's own %d -> %d KiB; peak Sys %d MiB; released %d MiB",
		before>>10, get("freed")>>10, get("kept")>>10, after>>10, (after-before)>>10, get("ownbefore")>>10, get("ownafter")>>10, get("peak")>>20, get("released")>>20)
	// Under -race the detector's own memory moves the process's RSS by
	// more than offheap's does: the target is for ordinary builds, and
	// offheap's own resident memory (mincore) is held to it in both.
	tolerance := int64(2 << 20)
	if alloc.StatsRaceEnabled {
		tolerance = 4 << 20
	}
	if d := after - before; d > tolerance || d < -tolerance {
		t.Errorf("RSS 2 s after the workload: %+d KiB from before it; want within %d MiB", d>>10, tolerance>>20)
	}
	if d := get("ownafter") - get("ownbefore"); d > 2<<20 {
		t.Errorf("offheap's own resident memory 2 s after the workload: %+d KiB from before it; want at most 2 MiB", d>>10)
	}
	if get("kept") == 0 || get("freed") < 8<<20 {
		t.Errorf("right after the frees: %d KiB kept, RSS +%d KiB: decay kept nothing", get("kept")>>10, get("freed")>>10)
	}
	if get("released") == 0 {
		t.Error("the releaser released nothing")
	}
	if out.results["next"] != "true" {
		t.Error("the releaser is still armed with everything released")
	}
}

// TestDecayTrim: Trim gives back at once what decay keeps.
func TestDecayTrim(t *testing.T) {
	out, child := inStatsChild(t, "OFFHEAP=decay=1h")
	if child {
		before := rssNow(t)
		decayWorkload()
		var s alloc.Stats
		alloc.ReadStats(&s)
		result("kept", s.Decay.HeapKept+s.Decay.MappedKept)
		result("held", rssNow(t)-before)
		alloc.Trim(0)
		alloc.ReadStats(&s)
		result("keptafter", s.Decay.HeapKept+s.Decay.MappedKept)
		result("heldafter", int64(rssNow(t))-int64(before))
		if err := alloc.Check(); err != nil {
			t.Fatal(err)
		}
		return
	}
	get := func(k string) int64 { v, _ := strconv.ParseInt(out.results[k], 10, 64); return v }
	if get("kept") == 0 || get("held") < 8<<20 {
		t.Errorf("before Trim: %d KiB kept, RSS +%d KiB", get("kept")>>10, get("held")>>10)
	}
	// What is left is the process's own noise (the Go heap, and under -race
	// the detector's shadow memory): a few MiB, against tens kept before.
	if get("keptafter") != 0 || get("heldafter") > 4<<20 || get("heldafter")*4 > get("held") {
		t.Errorf("after Trim: %d KiB kept, RSS %+d KiB (%+d KiB before Trim)", get("keptafter")>>10, get("heldafter")>>10, get("held")>>10)
	}
}

// TestDecayCheck: Check verifies what decay keeps: a kept mapping written
// after its chunk was freed is found.
func TestDecayCheck(t *testing.T) {
	out, child := inStatsChild(t, "OFFHEAP=decay=1h")
	if child {
		p := alloc.Malloc(1 << 20)
		alloc.Free(p)
		if err := alloc.Check(); err != nil {
			t.Fatalf("Check with a kept mapping: %v", err)
		}
		*(*uintptr)(unsafe.Add(p, -8)) ^= 0x1000 // a use after free, into the kept header
		result("check", strconv.Quote(errString2(alloc.Check())))
		// Not reused: it is given back instead, and the heap goes on.
		q := alloc.Malloc(1 << 20)
		result("reused", q == p)
		alloc.Free(q)
		alloc.Trim(0)
		if err := alloc.Check(); err != nil {
			t.Fatalf("Check after Trim: %v", err)
		}
		return
	}
	if c, _ := strconv.Unquote(out.results["check"]); !strings.Contains(c, "kept mapping") || !strings.Contains(c, "header overwritten") {
		t.Errorf("Check on an overwritten kept mapping: %q", c)
	}
	if out.results["reused"] != "false" {
		t.Error("an overwritten kept mapping was reused")
	}
}

func errString2(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// minorFaults returns the process's minor page faults so far.
func minorFaults() uint64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return uint64(ru.Minflt)
}

// TestHugeTLBFaults (target 4): with hugetlb=1 where THP is madvise or
// always, writing every page of a fresh 64 MiB block takes at most 1/50 of
// the page faults it takes at hugetlb=0, and so does a heap grown to 64 MiB
// by 256 KiB blocks below the mmap threshold; ReadResident shows the huge
// pages.
func TestHugeTLBFaults(t *testing.T) {
	if m := thpMode(); m != "madvise" && m != "always" {
		t.Skipf("transparent huge pages are %q here", m)
	}
	faults := map[string]map[string]uint64{}
	for _, mode := range []string{"0", "1"} {
		t.Run("hugetlb="+mode, func(t *testing.T) {
			out, child := inStatsChild(t, "OFFHEAP=hugetlb="+mode+",mmap_threshold=1m")
			if child {
				hugeFaultsChild(t)
				return
			}
			faults[mode] = map[string]uint64{}
			for _, k := range []string{"block", "heap", "huge"} {
				faults[mode][k], _ = strconv.ParseUint(out.results[k], 10, 64)
			}
		})
	}
	if os.Getenv(statsChildEnv) != "" {
		return // a child ran one of the subtests
	}
	f0, f1 := faults["0"], faults["1"]
	if f0 == nil || f1 == nil {
		t.Fatal("a child failed")
	}
	t.Logf("64 MiB block: %d faults at hugetlb=0, %d at 1; heap of 256 KiB blocks: %d and %d; in huge pages at 1: %d MiB",
		f0["block"], f1["block"], f0["heap"], f1["heap"], f1["huge"]>>20)
	for _, k := range []string{"block", "heap"} {
		if f1[k]*50 > f0[k] {
			t.Errorf("%s: %d faults at hugetlb=1, more than 1/50 of %d", k, f1[k], f0[k])
		}
	}
	if f1["huge"] < 100<<20 || f0["huge"] != 0 {
		t.Errorf("memory in huge pages: %d MiB at hugetlb=1, %d at 0", f1["huge"]>>20, f0["huge"]>>20)
	}
}

func hugeFaultsChild(t *testing.T) {
	const size = 64 << 20
	// A fresh 64 MiB block.
	p := alloc.Malloc(size)
	f := minorFaults()
	touch(p, size)
	result("block", minorFaults()-f)
	// A heap grown by 256 KiB blocks to 64 MiB.
	var bs [256]unsafe.Pointer
	f = minorFaults()
	for i := range bs {
		bs[i] = alloc.Malloc(256 << 10)
		touch(bs[i], 256<<10)
	}
	result("heap", minorFaults()-f)
	for i := range bs {
		if alloc.IsMapped(bs[i]) {
			t.Fatal("a 256 KiB block was mapped below a 1 MiB threshold")
		}
	}
	var s alloc.Stats
	alloc.ReadResident(&s)
	result("huge", s.RSS.HugePages)
	for i := range bs {
		alloc.Free(bs[i])
	}
	alloc.Free(p)
	if err := alloc.Check(); err != nil {
		t.Fatal(err)
	}
}
