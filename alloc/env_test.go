package alloc_test

// Tests of tuning from the environment (issue 4, acceptance 1) and of
// MALLOC_PERTURB_, each case in a fresh child process: the environment is
// read once, at the first allocation.

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/tune"
)

// TestEnvThreshold: each way of setting the mmap threshold to 64 KiB makes
// a fresh process map a 100 KiB request even after a 1 MiB block was
// mapped and freed; by default that free raises the threshold (dynamic
// threshold) and the 100 KiB request comes from the heap. Conflicting
// values follow the precedence OFFHEAP > GLIBC_TUNABLES > MALLOC_* , and
// Mallopt wins over all. A bad value leaves what the lower sources gave
// (the default if none) and writes exactly one line to standard error,
// which EnvProblems returns too.
func TestEnvThreshold(t *testing.T) {
	const dynamic = 1<<20 + 4096 // the 1 MiB block's mapping: where the dynamic threshold goes
	for _, c := range []struct {
		name      string
		env       []string
		mapped    bool   // the 100 KiB request is mapped
		threshold uint64 // then in force
		bad       string // the one line on stderr names this, or "" for no line
	}{
		{"default", nil, false, dynamic, ""},
		{"MALLOC", []string{"MALLOC_MMAP_THRESHOLD_=65536"}, true, 65536, ""},
		{"TUNABLES", []string{"GLIBC_TUNABLES=glibc.rtld.nns=2:glibc.malloc.mmap_threshold=65536"}, true, 65536, ""},
		{"OFFHEAP", []string{"OFFHEAP=mmap_threshold=64k"}, true, 65536, ""},
		{"TUNABLES_over_MALLOC", []string{"MALLOC_MMAP_THRESHOLD_=1048576", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536"}, true, 65536, ""},
		{"OFFHEAP_over_TUNABLES", []string{"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576", "OFFHEAP=mmap_threshold=64KiB"}, true, 65536, ""},
		{"OFFHEAP_over_both", []string{"MALLOC_MMAP_THRESHOLD_=65536", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536", "OFFHEAP=mmap_threshold=1m"}, false, 1 << 20, ""},
		{"Mallopt_over_OFFHEAP", []string{"OFFHEAP=mmap_threshold=1m", "TEST_MALLOPT_THRESHOLD=65536"}, true, 65536, ""},
		{"garbage_MALLOC", []string{"MALLOC_MMAP_THRESHOLD_=12q"}, false, dynamic, `MALLOC_MMAP_THRESHOLD_="12q"`},
		{"garbage_TUNABLES", []string{"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=-5"}, false, dynamic, `glibc.malloc.mmap_threshold="-5"`},
		{"garbage_OFFHEAP", []string{"OFFHEAP=mmap_threshold=lots"}, false, dynamic, `mmap_threshold="lots"`},
		{"garbage_keeps_lower", []string{"MALLOC_MMAP_THRESHOLD_=65536", "OFFHEAP=mmap_threshold=64kk"}, true, 65536, `mmap_threshold="64kk"`},
		{"unknown_key", []string{"OFFHEAP=mmap_treshold=64k"}, false, dynamic, `unknown key "mmap_treshold"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each case is a process of its own
			out, child := inStatsChild(t, c.env...)
			if child {
				thresholdChild(t)
				return
			}
			if got := out.results["mapped"]; got != strconv.FormatBool(c.mapped) {
				t.Errorf("100 KiB request mapped: %s, want %v", got, c.mapped)
			}
			if got := out.results["threshold"]; got != strconv.FormatUint(c.threshold, 10) {
				t.Errorf("mmap threshold %s, want %d", got, c.threshold)
			}
			// Any threshold set by the environment turns the dynamic one off.
			if got, want := out.results["dynamic"], strconv.FormatBool(c.threshold == dynamic); got != want {
				t.Errorf("dynamic threshold %s, want %s", got, want)
			}
			problem, _ := strconv.Unquote(out.results["problems"])
			if c.bad == "" {
				if out.stderr != "" || problem != "<nil>" {
					t.Errorf("stderr %q, EnvProblems %q; want nothing", out.stderr, problem)
				}
				return
			}
			lines := strings.Split(strings.TrimSuffix(out.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], c.bad) || !strings.Contains(lines[0], "accepted") && !strings.Contains(lines[0], "known keys") {
				t.Errorf("stderr %q; want one line naming %s and what is accepted", out.stderr, c.bad)
			}
			if !strings.Contains(lines[0], problem) {
				t.Errorf("EnvProblems %q is not the line on stderr %q", problem, lines[0])
			}
		})
	}
}

// thresholdChild maps and frees a 1 MiB block, then asks for 100 KiB as
// the first request the heap sees, and reports.
func thresholdChild(t *testing.T) {
	if v := os.Getenv("TEST_MALLOPT_THRESHOLD"); v != "" {
		n, _ := strconv.Atoi(v)
		if err := alloc.Mallopt(tune.MmapThreshold, n); err != nil {
			t.Fatal(err)
		}
	}
	big := alloc.Malloc(1 << 20)
	if !alloc.IsMapped(big) {
		t.Fatal("a 1 MiB request in a fresh process was not mapped")
	}
	alloc.Free(big)
	h0 := alloc.Mallinfo2().Hblks
	p := alloc.Malloc(100 << 10)
	mapped := alloc.Mallinfo2().Hblks > h0
	if mapped != alloc.IsMapped(p) {
		t.Errorf("Hblks and the pointer disagree on whether it is mapped")
	}
	var s alloc.Stats
	alloc.ReadStats(&s)
	result("mapped", mapped)
	result("threshold", s.Params.MmapThreshold)
	result("dynamic", s.Params.DynamicThreshold)
	result("problems", strconv.Quote(errString(alloc.EnvProblems())))
	alloc.Free(p)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	var te *tune.Error
	if !errors.As(err, &te) {
		return "not a *tune.Error: " + err.Error()
	}
	return err.Error()
}

// TestReadEnv: ReadEnv applies what the environment sets now, leaves what
// Mallopt set and what the environment does not name, turns the dynamic
// threshold off for an environment threshold, and returns the problems
// without printing them.
func TestReadEnv(t *testing.T) {
	out, child := inStatsChild(t)
	if !child {
		if out.stderr != "" {
			t.Errorf("stderr %q; ReadEnv prints nothing", out.stderr)
		}
		return
	}
	if err := alloc.Mallopt(tune.Perturb, 7); err != nil {
		t.Fatal(err)
	}
	before := alloc.HeapParams()
	if !before.DynamicThreshold {
		t.Fatal("the dynamic threshold is off at the start")
	}
	os.Setenv("OFFHEAP", "top_pad=64k,perturb=9,mmap_threshold=bogus")
	os.Setenv("MALLOC_ARENA_MAX", "x")
	err := alloc.ReadEnv()
	var te *tune.Error
	if err == nil || !errors.As(err, &te) || !strings.Contains(err.Error(), `"bogus"`) || !strings.Contains(err.Error(), "MALLOC_ARENA_MAX") {
		t.Errorf("ReadEnv() = %v; want the two problems", err)
	}
	p := alloc.HeapParams()
	if p.TopPad != 64<<10 || p.Perturb != 7 || p.MmapThreshold != before.MmapThreshold || p.DynamicThreshold {
		t.Errorf("after ReadEnv: %+v; want top_pad 64 KiB, perturb 7 (Mallopt's), the threshold unchanged and not dynamic", p)
	}
	if alloc.EnvProblems() != nil {
		t.Errorf("EnvProblems() = %v: the start had none", alloc.EnvProblems())
	}
}

// TestPerturb: MALLOC_PERTURB_=171 fills allocated memory with ^171 and
// freed memory with 171, on the cached path and the arena path; Calloc
// still returns zeros.
func TestPerturb(t *testing.T) {
	const b = 171
	if _, child := inStatsChild(t, "MALLOC_PERTURB_="+strconv.Itoa(b)); !child {
		return
	}
	if got := alloc.HeapParams().Perturb; got != b {
		t.Fatalf("perturb %d, want %d", got, b)
	}
	bytesAt := func(p unsafe.Pointer, n int) []byte { return unsafe.Slice((*byte)(p), n) }
	allIs := func(what string, s []byte, want byte) {
		t.Helper()
		for i, v := range s {
			if v != want {
				t.Errorf("%s: byte %d is %#x, want %#x", what, i, v, want)
				return
			}
		}
	}
	for _, n := range []int{100, 3000, 100 << 10} {
		p := alloc.Malloc(n)
		pin := alloc.Malloc(16) // keeps p off the top: it stays mapped after its free
		allIs("Malloc("+strconv.Itoa(n)+")", bytesAt(p, n), ^byte(b))
		alloc.Free(p)
		// The first words of a free chunk hold list links, its last word
		// the next chunk's prev_size.
		allIs("freed "+strconv.Itoa(n), bytesAt(p, n)[48:n-16], b)
		c := alloc.Calloc(1, n)
		allIs("Calloc", bytesAt(c, n), 0)
		alloc.Free(c)
		alloc.Free(pin)
	}
}
