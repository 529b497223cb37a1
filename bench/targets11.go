package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Issue 11's targets that a report of the bench can judge (the others are
// replays of traces and the absence of regressions), each against the
// peers measured in the same run:
//
//  1. pair/64: at most 1.2x glibc-native and at most 0.6x modernc-memory.
//  2. random-live: at most 1.0x glibc-native and at most 0.6x
//     modernc-memory.
//  3. random-live-par, pair-par/64 and thread-shape-par: at least 1.8x the
//     one-P throughput in every sample, on two Ps (each sample of the
//     parallel workload against the median of the one-P one); no sample
//     below 1.6x in 20 fresh processes (a run of 20 repetitions or more:
//     the bench measures every sample in a process of its own).
//  4. xmalloc-test and prodcons/64: no slower than Go's heap and than
//     glibc-native.
//  5. churn: at most Go's heap's time per replacement, GC included, and at
//     most glibc-cgo's.
//  7. Every workload of the default set: at least as fast as the fastest
//     Go-callable peer (Go's heap, modernc-memory, any allocator through
//     cgo) and at most 1.5x glibc-native; malloc-simple/4096/1600 is
//     exempt (the trim policy), and so is first-malloc, which target 8
//     judges (Go's heap is set up before main, and a C allocator through
//     cgo by the cgo runtime's own mallocs), and so are issue 12's
//     settings variants (decay, trimming off, huge pages: Targets12).
//  8. The first malloc of a process: at most 50 us.

// freshProcesses is how many samples (each from a process of its own) make
// target 3's second test: no sample below 1.6x in 20 fresh processes.
const freshProcesses = 20

// target7Exempt are the default workloads target 7 does not judge.
var target7Exempt = []string{"malloc-simple/4096/1600", FirstMalloc}

// Targets11 checks issue 11's targets on the medians of the report (target
// 3 on every sample). A target whose figures the report lacks is n/a.
func (r *Report) Targets11() []Target {
	var ts []Target
	add := func(text string, ok bool, known bool) {
		t := Target{Text: text}
		if known {
			t.Met = &ok
		}
		ts = append(ts, t)
	}
	off := func(w string) float64 { return r.ns("offheap", w) }
	ratio := func(w, peer string, limit float64, num int) {
		o, p := off(w), r.ns(peer, w)
		add(fmt.Sprintf("%d. %s: %s %s (%s ns vs %s ns), at most %.1fx", num, w, fmtRatio(o/p), peer, fmtNs(o), fmtNs(p), limit),
			o/p <= limit, !math.IsNaN(o/p))
	}
	ratio("pair/64", "glibc-native", 1.2, 1)
	ratio("pair/64", ModerncPeer, 0.6, 1)
	ratio("random-live", "glibc-native", 1.0, 2)
	ratio("random-live", ModerncPeer, 0.6, 2)

	for _, w := range []string{"random-live", "pair/64", "thread-shape"} {
		par := strings.Replace(w, "/", "-par/", 1)
		if !strings.Contains(w, "/") {
			par = w + "-par"
		}
		one, x := off(w), r.Result("offheap", par)
		worst := math.NaN()
		if x != nil && r.GOMAXPROCS >= 2 {
			for _, s := range x.Samples {
				if v := one / s.NsPerOp; math.IsNaN(worst) || v < worst {
					worst = v
				}
			}
		}
		n := 0
		if x != nil {
			n = len(x.Samples)
		}
		add(fmt.Sprintf("3. %s: the slowest of %d samples gives %s the one-P throughput on %d Ps, at least 1.8x", par, n, fmtRatio(worst), r.GOMAXPROCS),
			worst >= 1.8, !math.IsNaN(worst))
		if n >= freshProcesses {
			add(fmt.Sprintf("3. %s: no sample below 1.6x in %d fresh processes (slowest %s)", par, n, fmtRatio(worst)),
				worst >= 1.6, !math.IsNaN(worst))
		}
	}

	for _, w := range []string{"xmalloc-test", "prodcons/64"} {
		ratio(w, "go-heap", 1, 4)
		ratio(w, "glibc-native", 1, 4)
	}
	if c := r.churnWorkload(); c != "" {
		ratio(c, "go-heap", 1, 5)
		ratio(c, "glibc-cgo", 1, 5)
	} else {
		add("5. churn: not run", false, false)
	}

	defaults := map[string]bool{}
	for _, w := range WorkloadsFor(0) {
		defaults[w.Name] = w.Default
	}
	var misses []string
	judged := 0
	for _, wi := range r.Workloads {
		o := off(wi.Name)
		if !defaults[wi.Name] || slices.Contains(target7Exempt, wi.Name) || issue12Variant(wi.Name) || math.IsNaN(o) {
			continue
		}
		best, bestNs := "", math.Inf(1)
		for _, p := range r.peerOrder() {
			if v := r.ns(p, wi.Name); p != "offheap" && p != FileheapPeer && !strings.HasSuffix(p, "-native") && v < bestNs {
				best, bestNs = p, v
			}
		}
		native := r.ns("glibc-native", wi.Name)
		if best == "" && math.IsNaN(native) {
			continue
		}
		judged++
		if best != "" && o > bestNs {
			misses = append(misses, fmt.Sprintf("%s %s %s", wi.Name, fmtRatio(o/bestNs), best))
		}
		if o > 1.5*native {
			misses = append(misses, fmt.Sprintf("%s %s glibc-native", wi.Name, fmtRatio(o/native)))
		}
	}
	text := fmt.Sprintf("7. every default workload (%d judged): offheap at least as fast as the fastest Go-callable peer and at most 1.5x glibc-native", judged)
	if len(misses) > 0 {
		text += "; missed: " + strings.Join(misses, ", ")
	}
	add(text, len(misses) == 0, judged > 0)

	first := off(FirstMalloc)
	add(fmt.Sprintf("8. first-malloc: the first Malloc(16) of a process took %s us (median), at most 50 us", fmtNs(first/1e3)),
		first <= 50e3, !math.IsNaN(first))
	return ts
}

// churnWorkload returns the name of the report's churn workload, or "".
func (r *Report) churnWorkload() string {
	for _, wi := range r.Workloads {
		if strings.HasPrefix(wi.Name, "churn/") {
			return wi.Name
		}
	}
	return ""
}
