package bench_test

import (
	"bytes"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offheap/offheap/bench"
)

// TestGCPressure runs the GC-pressure harness on a small cache on both
// peers: requests are served and timed, the figures are there, and the
// offheap cache frees every block it held.
func TestGCPressure(t *testing.T) {
	if err := bench.ParseGCConfig("0.02", "64-4096"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bench.ParseGCConfig("10", "64-256") })
	var w *bench.Workload
	for _, x := range bench.WorkloadsFor(2) {
		if x.Kind == bench.GCCache {
			w = x
		}
	}
	if w == nil || w.Name != "gc-cache/20000/64-4096" || w.GC.Entries != 20000 || w.Threads(8) != 2 {
		t.Fatalf("GC workload %+v", w)
	}
	var live atomic.Int64
	off := bench.GoPeer("offheap", "", func() bench.Allocator { return liveCount{bench.Offheap{}, &live} }, bench.OffheapSyscalls)
	for _, p := range []bench.Peer{off, bench.GoHeapPeer()} {
		s, err := bench.MeasureGC(p, w, 50*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		g := s.GC
		if g == nil || s.Ops < 100 || s.Seconds < 0.05 || s.NsPerOp <= 0 {
			t.Fatalf("%s: sample %+v", p.Name, s)
		}
		if !(g.P50Ns > 0 && g.P50Ns <= g.P99Ns && g.P99Ns <= g.P999Ns && g.P999Ns <= g.MaxNs) {
			t.Errorf("%s: quantiles %+v out of order", p.Name, g)
		}
		if g.Entries != 20000 || g.LoadSeconds <= 0 || g.LoadGCCPUSeconds < 0 || g.ServeGCCPUSeconds < 0 ||
			math.Abs(g.LoadGCCPUSeconds+g.ServeGCCPUSeconds-s.GCCPUSeconds) > 1e-9 {
			t.Errorf("%s: figures %+v, GC CPU %v", p.Name, g, s.GCCPUSeconds)
		}
		if s.MaxRSS <= 0 || s.RSSAfter <= 0 {
			t.Errorf("%s: peak RSS %d, after %d", p.Name, s.MaxRSS, s.RSSAfter)
		}
		t.Logf("%s: %.0f ns/request, p50 %.0f p99 %.0f, GC CPU %.4f s", p.Name, s.NsPerOp, g.P50Ns, g.P99Ns, s.GCCPUSeconds)
	}
	if n := live.Load(); n != 0 {
		t.Errorf("the offheap cache left %d blocks", n)
	}
	// A C peer has no Go allocator to hold the cache.
	if _, err := bench.MeasureGC(bench.Peer{Name: "x"}, w, time.Millisecond); err == nil {
		t.Error("a peer without an allocator held the cache")
	}
}

// TestParseGCConfig: sizes in millions and ranges, and bad ones.
func TestParseGCConfig(t *testing.T) {
	t.Cleanup(func() { bench.ParseGCConfig("10", "64-256") })
	if err := bench.ParseGCConfig("1,10,20", "64-4096"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range bench.GCSpecs() {
		names = append(names, g.Name())
	}
	if got := strings.Join(names, " "); got != "gc-cache/1M/64-4096 gc-cache/10M/64-4096 gc-cache/20M/64-4096" {
		t.Errorf("names %s", got)
	}
	for _, bad := range [][2]string{{"0", "64-256"}, {"x", "64-256"}, {"1", "256-64"}, {"1", "64"}, {"1", "0-8"}} {
		if err := bench.ParseGCConfig(bad[0], bad[1]); err == nil {
			t.Errorf("ParseGCConfig(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// TestLatencyHistogram: quantiles of known latencies land within the
// histogram's 6% buckets.
func TestLatencyHistogram(t *testing.T) {
	var ns []int64
	for i := int64(1); i <= 10000; i++ {
		ns = append(ns, i*10) // 10 ns .. 100 us, uniform
	}
	q := bench.HistQuantiles(ns, 0.5, 0.99, 1)
	for i, want := range []float64{50000, 99000, 100000} {
		if math.Abs(q[i]-want)/want > 0.07 {
			t.Errorf("quantile %d: %v, want %v within 7%%", i, q[i], want)
		}
	}
	if q := bench.HistQuantiles([]int64{3, 3, 3}, 0.5); q[0] != 3 {
		t.Errorf("small values: %v, want exact 3", q)
	}
	if q := bench.HistQuantiles(nil, 0.5); !math.IsNaN(q[0]) {
		t.Errorf("empty: %v, want NaN", q)
	}
}

// TestProgress: a live line is redrawn in place with an estimate, and the
// lines that stay clear it first; plain output has a line per workload.
func TestProgress(t *testing.T) {
	var live, plain bytes.Buffer
	bench.ProgressDemo(&live, true)
	bench.ProgressDemo(&plain, false)
	l, p := live.String(), plain.String()
	if !strings.Contains(l, "\r\033[K[   1/4]   0%") || !strings.Contains(l, "left  repetition 1/1: w1 on b") ||
		!strings.Contains(l, "\r\033[Ka note\n") || strings.Count(p, "\n") != 4 || strings.Contains(p, "\r") {
		t.Errorf("live:\n%q\nplain:\n%q", l, p)
	}
	if !strings.Contains(p, "repetition 1/1: w1\n") || !strings.Contains(p, "repetition 1/1: w2\n") || !strings.Contains(p, "4 measurements in") {
		t.Errorf("plain:\n%s", p)
	}
}

// TestCheckMemory: a cache that would not fit is refused before anything
// runs, naming what to lower; the default one fits this kind of machine.
func TestCheckMemory(t *testing.T) {
	def := &bench.GCSpec{Entries: 10e6, MinSize: 64, MaxSize: 256}
	if f := def.Footprint(); f < 3<<30 || f > 8<<30 {
		t.Errorf("10M values of 64-256 bytes: footprint %d, want 3-8 GiB", f)
	}
	if err := bench.CheckMemory([]*bench.GCSpec{def}, 24<<30); err != nil {
		t.Errorf("the default on 24 GiB: %v", err)
	}
	big := &bench.GCSpec{Entries: 20e6, MinSize: 64, MaxSize: 4096}
	if err := bench.CheckMemory([]*bench.GCSpec{def, big}, 24<<30); err == nil || !strings.Contains(err.Error(), "gc-cache/20M/64-4096") || !strings.Contains(err.Error(), "-gc-entries") {
		t.Errorf("20M values of up to 4 KiB on 24 GiB: %v", err)
	}
	if err := bench.CheckMemory([]*bench.GCSpec{big}, -1); err != nil {
		t.Errorf("unknown memory: %v, want no check", err)
	}
}
