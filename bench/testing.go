package bench

import (
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// Bench runs workload w on peer p as a Go benchmark: b.N operations, on
// one goroutine, on two for ProdCons, or on GOMAXPROCS goroutines for a
// parallel workload (one worker each, made before the timer starts). Besides ns/op it reports ns/pair (the same figure: an operation
// is a pair), allocs/s, minflt/kop and, for a peer that counts them,
// syscalls/kop (per 1,000 operations).
func Bench(b *testing.B, p Peer, w *Workload) {
	n := 1
	if w.Parallel {
		n = runtime.GOMAXPROCS(0)
	}
	ws := make([]Worker, 0, n)
	defer func() {
		for _, wk := range ws {
			wk.Close()
		}
	}()
	for i := 0; i < n; i++ {
		wk, err := p.NewWorker(w, i)
		if err != nil {
			b.Skip(err)
		}
		ws = append(ws, wk)
	}
	before := readCounters(&p)
	b.ResetTimer()
	// A parallel workload's goroutines take b.N's operations from a shared
	// counter a grain at a time, as the bench command's runs do
	// (runWorkers). b.RunParallel's PB.Next sized its grain from the
	// previous run: after the one-operation run that -benchtime Nx starts
	// with, two operations, and the two goroutines then spent most of
	// their time on the counter's cache line (65% of random-live-par's CPU
	// time in PB.Next at -benchtime 60000000x).
	runWorkers(ws, b.N)
	b.StopTimer()
	s := diff(&p, before, readCounters(&p), b.N)
	s.NsPerOp = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	s.Seconds = b.Elapsed().Seconds()
	b.ReportMetric(s.NsPerOp, "ns/pair")
	b.ReportMetric(s.AllocsPerSecond(), "allocs/s")
	b.ReportMetric(float64(s.MinorFaults)*1000/float64(b.N), "minflt/kop")
	if s.Syscalls >= 0 {
		b.ReportMetric(float64(s.Syscalls)*1000/float64(b.N), "syscalls/kop")
	}
}

// BenchKind runs, as sub-benchmarks "<rest>/<peer>", every workload whose
// name is kind or starts with kind+"/" (so BenchKind(b, "pair", ...) gives
// one sub-benchmark per size, and "pair" does not match "pair-par"), on
// each of the peers that it runs on.
func BenchKind(b *testing.B, kind string, peers ...Peer) {
	for _, w := range Workloads() {
		rest, ok := strings.CutPrefix(w.Name, kind)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		rest = strings.TrimPrefix(rest, "/")
		for _, p := range peers {
			if !w.RunsOn(p.Name) {
				continue
			}
			name := p.Name
			if rest != "" {
				name = rest + "/" + p.Name
			}
			b.Run(name, func(b *testing.B) { Bench(b, p, w) })
		}
	}
}

// BenchFirst runs, as a Go benchmark, b.N fresh processes from newCmd, each
// timing a first call and writing its sample (FirstChild, or the C program
// of BuildFirstProgram; see RunFirst), and reports the median as
// us/first-malloc and the slowest as max-us/first-malloc. ns/op is a whole
// process, start to exit.
func BenchFirst(b *testing.B, newCmd func() *exec.Cmd) {
	var ns []float64
	for b.Loop() {
		s, err := RunFirst(newCmd())
		if err != nil {
			b.Fatal(err)
		}
		ns = append(ns, s.NsPerOp)
	}
	b.ReportMetric(median(ns)/1e3, "us/first-malloc")
	b.ReportMetric(slices.Max(ns)/1e3, "max-us/first-malloc")
}
