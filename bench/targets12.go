package bench

import (
	"fmt"
	"math"
	"strings"
)

// Issue 12's targets that a report of the bench can judge, each against
// figures measured in the same run (target 3, the idle release, and target
// 4, huge pages, are tests: alloc's TestDecayIdleRelease and
// TestHugeTLBFaults):
//
//  1. malloc-simple/4096/1600/decay: at most 1.3x the same workload with
//     trimming turned off (/notrim) and at most 2x jemalloc-native's
//     malloc-simple/4096/1600; rptest/decay and xmalloc-test/decay no
//     slower than their /notrim (noSlowerP).
//  2. large/dynamic/decay: at most 3x mimalloc-native's large/dynamic,
//     and fewer than 5 memory system calls per 1,000 operations.

// noSlowerP is the significance level of "no slower": a workload is
// slower than another when its median is larger and the Mann-Whitney U
// test (slowerP) gives a p-value below it. Two settings that run the same
// code differ by a percent or two between child processes here, either
// way (rptest/decay against /notrim, whose 100 ms samples never reach the
// 1 s decay: medians 1.2% apart, p = 0.10, in 20 samples each), which a
// bare comparison of medians would call a loss half the time.
const noSlowerP = 0.05

// issue12Variant reports whether workload name is one of issue 12's
// settings variants of a workload (decay, trimming off, huge pages): issue
// 12's targets judge them, issue 11's target 7 does not.
func issue12Variant(name string) bool {
	for _, s := range []string{"/decay", "/notrim", "/hugetlb"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Targets12 checks issue 12's targets 1 and 2 on the medians of the
// report. A target whose figures the report lacks is n/a.
func (r *Report) Targets12() []Target {
	var ts []Target
	add := func(text string, v, limit float64) {
		t := Target{Text: text}
		if !math.IsNaN(v) {
			ok := v <= limit
			t.Met = &ok
		}
		ts = append(ts, t)
	}
	off := func(w string) float64 { return r.ns("offheap", w) }
	const simple = "malloc-simple/4096/1600"
	d, n := off(simple+"/decay"), off(simple+"/notrim")
	add(fmt.Sprintf("1. %s/decay: %s %s/notrim (%s ns vs %s ns), at most 1.3x", simple, fmtRatio(d/n), simple, fmtNs(d), fmtNs(n)), d/n, 1.3)
	je := r.ns("jemalloc-native", simple)
	add(fmt.Sprintf("1. %s/decay: %s jemalloc-native's %s (%s ns vs %s ns), at most 2x", simple, fmtRatio(d/je), simple, fmtNs(d), fmtNs(je)), d/je, 2)
	for _, w := range []string{"rptest", "xmalloc-test"} {
		d, n := off(w+"/decay"), off(w+"/notrim")
		p := slowerP(r.samplesNs("offheap", w+"/decay"), r.samplesNs("offheap", w+"/notrim"))
		t := Target{Text: fmt.Sprintf("1. %s/decay: %s %s/notrim (%s ns vs %s ns; one-sided U test that it is slower: p = %.2f), no slower (median at most 1x, or p at least %.2f)",
			w, fmtRatio(d/n), w, fmtNs(d), fmtNs(n), p, noSlowerP)}
		if v := d / n; !math.IsNaN(v) && !math.IsNaN(p) {
			ok := v <= 1 || p >= noSlowerP
			t.Met = &ok
		}
		ts = append(ts, t)
	}
	const large = "large/dynamic"
	ld, mi := off(large+"/decay"), r.ns("mimalloc-native", large)
	add(fmt.Sprintf("2. %s/decay: %s mimalloc-native's %s (%s ns vs %s ns), at most 3x", large, fmtRatio(ld/mi), large, fmtNs(ld), fmtNs(mi)), ld/mi, 3)
	sys := math.NaN()
	if x := r.Result("offheap", large+"/decay"); x != nil {
		if s := x.Summary(); s.SyscallsPerKop >= 0 {
			sys = s.SyscallsPerKop
		}
	}
	t := Target{Text: fmt.Sprintf("2. %s/decay: %.2f memory system calls per 1,000 operations, below 5", large, sys)}
	if !math.IsNaN(sys) {
		ok := sys < 5
		t.Met = &ok
	}
	return append(ts, t)
}
