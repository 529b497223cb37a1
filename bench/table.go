package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Summary condenses the samples of a Result.
type Summary struct {
	Samples int     // how many
	NsPerOp float64 // median ns per pair
	MinNs   float64 // fastest sample
	MaxNs   float64 // slowest sample
	// AllocsPerSecond is pairs per second at the median.
	AllocsPerSecond float64
	// SyscallsPerKop is the allocator's memory system calls per 1,000
	// pairs over all samples together (-1: not counted for this peer).
	SyscallsPerKop float64
	// MinorFaultsPerKop is the process's minor faults per 1,000 pairs over
	// all samples together.
	MinorFaultsPerKop float64
	// GCCPU is the Go collector's CPU time over the wall time of all
	// samples (0.5: half a core busy collecting).
	GCCPU float64
	// CPUNsPerOp is the median of the samples' process CPU time per pair.
	CPUNsPerOp float64
	// PeakRSS, RSS and RSSAfter are the medians of the samples' peak
	// resident memory, resident memory at the end of the timed run, and
	// resident memory once everything was freed (bytes; -1 unknown).
	PeakRSS, RSS, RSSAfter float64
	// SyscallsTraced says SyscallsPerKop comes from the ptrace pass (every
	// thread's calls), not from offheap's own counters.
	SyscallsTraced bool
}

// Summary returns the median and totals of the result's samples.
func (x *Result) Summary() Summary {
	var s Summary
	s.Samples = len(x.Samples)
	s.SyscallsPerKop = -1
	if s.Samples == 0 {
		s.NsPerOp, s.PeakRSS, s.RSS, s.RSSAfter = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		if t := x.Traced; t != nil && t.TracedSyscalls >= 0 && t.Ops > 0 {
			s.SyscallsPerKop = float64(t.TracedSyscalls) * 1000 / float64(t.Ops)
			s.SyscallsTraced = true
		}
		return s
	}
	ns := make([]float64, 0, s.Samples)
	cpu := make([]float64, 0, s.Samples)
	var peak, rss, after []float64
	var ops, sys, flt int64
	var secs, gc float64
	counted := true
	for _, v := range x.Samples {
		ns = append(ns, v.NsPerOp)
		if v.Ops > 0 {
			cpu = append(cpu, v.CPUSeconds*1e9/float64(v.Ops))
		}
		peak = append(peak, float64(v.MaxRSS))
		rss = append(rss, float64(v.RSS))
		after = append(after, float64(v.RSSAfter))
		ops += v.Ops
		secs += v.Seconds
		flt += v.MinorFaults
		gc += v.GCCPUSeconds
		if v.Syscalls < 0 {
			counted = false
		}
		sys += v.Syscalls
	}
	s.NsPerOp = median(ns)
	s.CPUNsPerOp = median(cpu)
	s.MinNs, s.MaxNs = slices.Min(ns), slices.Max(ns)
	if s.NsPerOp > 0 {
		s.AllocsPerSecond = 1e9 / s.NsPerOp
	}
	s.SyscallsPerKop = -1
	if ops > 0 {
		if counted {
			s.SyscallsPerKop = float64(sys) * 1000 / float64(ops)
		}
		s.MinorFaultsPerKop = float64(flt) * 1000 / float64(ops)
	}
	if secs > 0 {
		s.GCCPU = gc / secs
	}
	s.PeakRSS, s.RSS, s.RSSAfter = median(peak), median(rss), median(after)
	if t := x.Traced; t != nil && t.TracedSyscalls >= 0 && t.Ops > 0 {
		s.SyscallsPerKop = float64(t.TracedSyscalls) * 1000 / float64(t.Ops)
		s.SyscallsTraced = true
	}
	return s
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ns returns the median ns per pair of workload on peer, or NaN.
func (r *Report) ns(peer, workload string) float64 {
	x := r.Result(peer, workload)
	if x == nil || len(x.Samples) == 0 {
		return math.NaN()
	}
	return x.Summary().NsPerOp
}

// samplesNs returns the time per operation of every sample of workload on
// peer, or nil.
func (r *Report) samplesNs(peer, workload string) []float64 {
	x := r.Result(peer, workload)
	if x == nil {
		return nil
	}
	out := make([]float64, len(x.Samples))
	for i, s := range x.Samples {
		out[i] = s.NsPerOp
	}
	return out
}

// peerOrder returns the peers of the report in PeerNames order, unknown
// names last.
func (r *Report) peerOrder() []string {
	var out []string
	for _, n := range PeerNames() {
		for _, p := range r.Peers {
			if p.Name == n {
				out = append(out, n)
			}
		}
	}
	for _, p := range r.Peers {
		if !slices.Contains(out, p.Name) {
			out = append(out, p.Name)
		}
	}
	return out
}

// WriteTable writes the report for people: a header with the machine,
// the date, the command and how long it took; the time per operation of
// every workload on every peer with each peer's ratio to offheap; the
// peak and final resident memory; the memory system calls and minor
// faults per 1,000 operations; the GC-pressure figures; where offheap
// stands against the fastest peer; the peers, what was skipped and why,
// the failures, issue 3's targets when its workloads ran, and issue 11's,
// 12's and 14's when the report has a figure for one (Targets11,
// Targets12, Targets14). The tables are Markdown, aligned for a terminal.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%s · %s · %s · GOMAXPROCS=%d · GOGC=%s", r.Date.Format("2006-01-02 15:04 MST"), r.Machine, r.GoVersion, r.GOMAXPROCS, r.GOGC)
	fmt.Fprintln(w)
	if r.LoadBefore != "" {
		fmt.Fprintf(w, "load average before and after: %s / %s (other programs on the machine inflate wall times)\n", r.LoadBefore, r.LoadAfter)
	}
	if r.Command != "" {
		fmt.Fprintf(w, "command: %s", r.Command)
		if r.Seconds > 0 {
			fmt.Fprintf(w, " (%s, building the peers included)", fmtDuration(time.Duration(r.Seconds*float64(time.Second))))
		}
		fmt.Fprintln(w)
	}
	threads := ""
	if r.Threads > 0 {
		threads = fmt.Sprintf("; multi-threaded workloads on %d threads", r.Threads)
	}
	gc := ""
	if r.GCTime != "" {
		gc = fmt.Sprintf(" (GC pressure: one run, %s of requests)", r.GCTime)
	}
	fmt.Fprintf(w, "Median of %d samples of %s%s%s.\n\n", r.Count, r.BenchTime, gc, threads)

	peers := r.peerOrder()
	fmt.Fprintln(w, "Time per operation (ns; an operation is a malloc and its free, a request for gc-cache, a replacement for churn, the process's first malloc for first-malloc); (x) = peer / offheap, above 1 offheap is faster:")
	fmt.Fprintln(w)
	r.writePeerTable(w, peers, func(s Summary) float64 { return s.NsPerOp }, fmtNs, true)

	fmt.Fprintln(w, "\nPeak resident memory (MiB, the whole process, set-up included); (x) = peer / offheap:")
	fmt.Fprintln(w)
	r.writePeerTable(w, peers, func(s Summary) float64 { return mib(s.PeakRSS) }, fmtMiB, true)

	fmt.Fprintln(w, "\nResident memory at the end of the timed run / after every block was freed (MiB):")
	fmt.Fprintln(w)
	r.writePeerTable(w, peers, func(s Summary) float64 { return mib(s.RSS) }, fmtMiB, false, func(s Summary) string {
		return fmtMiB(mib(s.RSS)) + " / " + fmtMiB(mib(s.RSSAfter))
	})

	fmt.Fprintf(w, "\nMemory system calls per 1,000 operations (%s):\n\n", r.SyscallNote)
	r.writePeerTable(w, peers, func(s Summary) float64 { return s.SyscallsPerKop }, fmtCount, false)

	fmt.Fprintln(w, "\nMinor page faults per 1,000 operations (the whole process, getrusage):")
	fmt.Fprintln(w)
	r.writePeerTable(w, peers, func(s Summary) float64 { return s.MinorFaultsPerKop }, fmtCount, false)

	r.writeGC(w)
	r.writeStanding(w, peers)

	fmt.Fprintln(w, "\nPeers:")
	for _, p := range peers {
		for _, pi := range r.Peers {
			if pi.Name == p {
				fmt.Fprintf(w, "  %-16s %s\n", p, pi.About)
			}
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "  %-16s skipped: %s\n", s.Peer, s.Reason)
	}

	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "\nFailures (FAILED, or * after the samples taken before; the workload was not run again on that peer):")
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  %s\n", f.Error)
		}
	}

	if slices.ContainsFunc(r.Workloads, func(wi WorkInfo) bool { return wi.Source == "issue 3" }) {
		ts := r.Targets()
		fmt.Fprintln(w, "\nTargets (issue 3):")
		for _, t := range ts {
			fmt.Fprintf(w, "  %-4s %s\n", t.Status(), t.Text)
		}
	}
	if ts := r.Targets11(); slices.ContainsFunc(ts, func(t Target) bool { return t.Met != nil }) {
		fmt.Fprintln(w, "\nTargets (issue 11; n/a: a figure it needs was not measured):")
		for _, t := range ts {
			fmt.Fprintf(w, "  %-4s %s\n", t.Status(), t.Text)
		}
	}
	if ts := r.Targets12(); slices.ContainsFunc(ts, func(t Target) bool { return t.Met != nil }) {
		fmt.Fprintln(w, "\nTargets (issue 12; n/a: a figure it needs was not measured):")
		for _, t := range ts {
			fmt.Fprintf(w, "  %-4s %s\n", t.Status(), t.Text)
		}
	}
	if ts := r.Targets14(); slices.ContainsFunc(ts, func(t Target) bool { return t.Met != nil }) {
		fmt.Fprintln(w, "\nTargets (issue 14; the others are alloc's benchmarks and tests):")
		for _, t := range ts {
			fmt.Fprintf(w, "  %-4s %s\n", t.Status(), t.Text)
		}
	}
	if t, ok := r.fileHeapTarget(); ok {
		fmt.Fprintf(w, "\nTarget (issue 15):\n  %-4s %s\n", t.Status(), t.Text)
	}
}

func mib(b float64) float64 {
	if b < 0 || math.IsNaN(b) {
		return math.NaN()
	}
	return b / (1 << 20)
}

func fmtMiB(v float64) string {
	switch {
	case math.IsNaN(v):
		return "?"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// writePeerTable writes one figure of every workload (rows) on every peer
// (columns): FAILED, - (not run), or the figure, with its ratio to
// offheap's when ratio is set, or the cell that cell writes.
func (r *Report) writePeerTable(w io.Writer, peers []string, figure func(Summary) float64, format func(float64) string, ratio bool, cell ...func(Summary) string) {
	rows := [][]string{append([]string{"workload"}, peers...)}
	for _, wi := range r.Workloads {
		row := []string{wi.Name}
		base := math.NaN()
		if x := r.Result("offheap", wi.Name); x != nil {
			base = figure(x.Summary())
		}
		for _, p := range peers {
			x := r.Result(p, wi.Name)
			failed := ""
			if r.Failed(p, wi.Name) != nil {
				failed = " *"
			}
			if x == nil {
				if failed != "" {
					row = append(row, "FAILED")
				} else {
					row = append(row, "-")
				}
				continue
			}
			s := x.Summary()
			v := figure(s)
			switch {
			case len(cell) > 0:
				row = append(row, cell[0](s)+failed)
			case math.IsNaN(v) || v < 0:
				row = append(row, "-"+failed)
			case !ratio || p == "offheap" || math.IsNaN(base) || base <= 0:
				row = append(row, format(v)+failed)
			default:
				row = append(row, fmt.Sprintf("%s (%s)%s", format(v), fmtRatio(v/base), failed))
			}
		}
		rows = append(rows, row)
	}
	writeMarkdown(w, rows)
}

// writeGC writes the GC-pressure table: one row per GC workload and peer.
func (r *Report) writeGC(w io.Writer) {
	rows := [][]string{{"workload", "peer", "load s", "GC CPU s load", "GC CPU s serve", "GC cycles load/serve", "requests/s", "p50 ns", "p99 ns", "p99.9 ns", "peak RSS MiB"}}
	for _, wi := range r.Workloads {
		if wi.Kind != "gc-cache" {
			continue
		}
		for _, p := range r.peerOrder() {
			x := r.Result(p, wi.Name)
			if x == nil || len(x.Samples) == 0 || x.Samples[0].GC == nil {
				continue
			}
			v, g := x.Samples[0], x.Samples[0].GC
			rows = append(rows, []string{wi.Name, p, fmt.Sprintf("%.2f", g.LoadSeconds),
				fmt.Sprintf("%.3f", g.LoadGCCPUSeconds), fmt.Sprintf("%.3f", g.ServeGCCPUSeconds),
				fmt.Sprintf("%d / %d", g.LoadGCCycles, g.ServeGCCycles), fmtRate(1e9 / v.NsPerOp),
				fmtNs(g.P50Ns), fmtNs(g.P99Ns), fmtNs(g.P999Ns), fmtMiB(mib(float64(v.MaxRSS)))})
		}
	}
	if len(rows) == 1 {
		return
	}
	fmt.Fprintln(w, "\nGC pressure (one run each; GC CPU from runtime/metrics, cycles in flight waited for):")
	fmt.Fprintln(w)
	writeMarkdown(w, rows)
	for _, wi := range r.Workloads {
		if wi.Kind != "gc-cache" {
			continue
		}
		g, o := r.Result("go-heap", wi.Name), r.Result("offheap", wi.Name)
		if g == nil || o == nil || len(g.Samples) == 0 || len(o.Samples) == 0 || g.Samples[0].GC == nil || o.Samples[0].GC == nil {
			continue
		}
		gs, os := g.Samples[0], o.Samples[0]
		cut := gs.GCCPUSeconds / math.Max(os.GCCPUSeconds, 1e-9)
		fmt.Fprintf(w, "%s: offheap cuts GC CPU %s (%.3f s vs %.3f s, load and serve); p99 %s ns vs %s ns (%s).\n",
			wi.Name, fmtRatio(cut), os.GCCPUSeconds, gs.GCCPUSeconds, fmtNs(os.GC.P99Ns), fmtNs(gs.GC.P99Ns),
			map[bool]string{true: "offheap lower", false: "offheap not lower"}[os.GC.P99Ns < gs.GC.P99Ns])
	}
}

// writeStanding writes, for every workload, the fastest peer and where
// offheap stands against it and against the peers a Go program can call.
func (r *Report) writeStanding(w io.Writer, peers []string) {
	rows := [][]string{{"workload", "fastest", "its ns", "offheap ns", "offheap / fastest", "best Go-callable", "offheap / it"}}
	for _, wi := range r.Workloads {
		base := r.ns("offheap", wi.Name)
		if math.IsNaN(base) {
			continue
		}
		fastest, fns := "", math.Inf(1)
		callable, cns := "", math.Inf(1)
		for _, p := range peers {
			v := r.ns(p, wi.Name)
			if math.IsNaN(v) {
				continue
			}
			if v < fns {
				fastest, fns = p, v
			}
			if !strings.HasSuffix(p, "-native") && p != "offheap" && p != FileheapPeer && v < cns {
				callable, cns = p, v
			}
		}
		row := []string{wi.Name, fastest, fmtNs(fns), fmtNs(base), fmtRatio(base / fns)}
		if callable != "" {
			row = append(row, callable, fmtRatio(base/cns))
		} else {
			row = append(row, "-", "-")
		}
		rows = append(rows, row)
	}
	if len(rows) == 1 {
		return
	}
	fmt.Fprintln(w, "\nWhere offheap stands (time; above 1 the other is faster; Go-callable: Go's heap, modernc.org/memory, or a C allocator through cgo):")
	fmt.Fprintln(w)
	writeMarkdown(w, rows)
}

func fmtNs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "?"
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) {
		return "?x"
	}
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0fx", x)
	case x < 0.01:
		return fmt.Sprintf("%.2gx", x) // 0.0021x, not 0.00x
	}
	return fmt.Sprintf("%.2fx", x)
}

func fmtRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtCount(v float64) string {
	switch {
	case v < 0 || math.IsNaN(v):
		return "-"
	case v == 0:
		return "0"
	case v < 0.01:
		return fmt.Sprintf("%.1e", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// writeMarkdown writes rows as a Markdown table with padded columns; the
// first row is the header, the first column left-aligned, the rest right.
func writeMarkdown(w io.Writer, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	line := func(row []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len(c))
			if i == 0 {
				b.WriteString(" " + c + pad + " |")
			} else {
				b.WriteString(" " + pad + c + " |")
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(rows[0])
	sep := make([]string, len(width))
	for i, n := range width {
		if i == 0 {
			sep[i] = strings.Repeat("-", n)
		} else {
			sep[i] = strings.Repeat("-", n-1) + ":"
		}
	}
	fmt.Fprintln(w, "| "+strings.Join(sep, " | ")+" |")
	for _, row := range rows[1:] {
		line(row)
	}
}

// Target is one of issue 3's goals checked against a report.
type Target struct {
	Text string // what is compared, with the figures
	// Met is nil when the report lacks a figure the target needs.
	Met *bool
}

// Status is "MET", "MISS" or "n/a".
func (t Target) Status() string {
	switch {
	case t.Met == nil:
		return "n/a"
	case *t.Met:
		return "MET"
	}
	return "MISS"
}

// Targets checks issue 3's targets on the medians of the report.
func (r *Report) Targets() []Target {
	var ts []Target
	check := func(text string, value, limit float64, atMost bool) {
		t := Target{Text: text}
		if !math.IsNaN(value) && !math.IsNaN(limit) {
			ok := value <= limit
			if !atMost {
				ok = value >= limit
			}
			t.Met = &ok
		}
		ts = append(ts, t)
	}
	off := func(w string) float64 { return r.ns("offheap", w) }

	p64, cgo64 := off("pair/64"), r.ns("glibc-cgo", "pair/64")
	check(fmt.Sprintf("pair/64 on one goroutine: %s ns, at most 8 ns", fmtNs(p64)), p64, 8, true)
	check(fmt.Sprintf("pair/64: %s glibc through cgo (%s ns vs %s ns), at most 0.2x", fmtRatio(p64/cgo64), fmtNs(p64), fmtNs(cgo64)), p64/cgo64, 0.2, true)
	rl, rlNative := off("random-live"), r.ns("glibc-native", "random-live")
	check(fmt.Sprintf("random-live: %s native glibc (%s ns vs %s ns), at most 1.5x", fmtRatio(rl/rlNative), fmtNs(rl), fmtNs(rlNative)), rl/rlNative, 1.5, true)
	p4k, cgo4k := off("pair/4096"), r.ns("glibc-cgo", "pair/4096")
	check(fmt.Sprintf("pair/4096: %s glibc through cgo (%s ns vs %s ns), at most 0.5x", fmtRatio(p4k/cgo4k), fmtNs(p4k), fmtNs(cgo4k)), p4k/cgo4k, 0.5, true)
	for _, w := range []string{"pair/64", "random-live", "thread-shape"} {
		par := strings.Replace(w, "/", "-par/", 1)
		if !strings.Contains(w, "/") {
			par = w + "-par"
		}
		speedup := off(w) / off(par)
		if r.GOMAXPROCS < 2 {
			speedup = math.NaN() // one P: nothing to scale to
		}
		check(fmt.Sprintf("%s: %d goroutines give %s the throughput of one, at least 1.8x", w, r.GOMAXPROCS, fmtRatio(speedup)), speedup, 1.8, false)
	}
	pc := off("prodcons/64")
	check(fmt.Sprintf("prodcons/64: %s the same-goroutine pair/64 (%s ns vs %s ns), at most 2x", fmtRatio(pc/p64), fmtNs(pc), fmtNs(p64)), pc/p64, 2, true)

	worst, worstName := math.NaN(), ""
	for _, wi := range r.Workloads {
		if wi.Name == FirstMalloc {
			continue // set-up, not a steady state
		}
		if x := r.Result("offheap", wi.Name); x != nil {
			if s := x.Summary(); s.SyscallsPerKop >= 0 && (math.IsNaN(worst) || s.SyscallsPerKop > worst) {
				worst, worstName = s.SyscallsPerKop, wi.Name
			}
		}
	}
	check(fmt.Sprintf("system calls per 1,000 pairs in steady state: at most %s (%s), want 0", fmtCount(worst), worstName), worst, 0, true)
	return ts
}
