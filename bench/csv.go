package bench

import (
	"encoding/csv"
	"io"
	"math"
	"strconv"
)

// CSVHeader names the columns WriteCSV writes.
var CSVHeader = []string{"workload", "peer", "threads", "samples", "ns_per_op", "ratio_to_offheap", "ops_per_second",
	"peak_rss_bytes", "rss_end_bytes", "rss_after_bytes", "syscalls_per_kop", "syscalls_counted_by", "minor_faults_per_kop",
	"gc_cpu_seconds", "p50_ns", "p99_ns", "failed"}

// WriteCSV writes one row per workload and peer with the medians of
// WriteTable's figures (a figure not known is empty).
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	num := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	bytes := func(v float64) string {
		if v < 0 {
			return ""
		}
		return num(v)
	}
	for _, wi := range r.Workloads {
		base := r.ns("offheap", wi.Name)
		for _, p := range r.peerOrder() {
			x := r.Result(p, wi.Name)
			f := r.Failed(p, wi.Name)
			if x == nil && f == nil {
				continue
			}
			s := Summary{NsPerOp: math.NaN(), PeakRSS: math.NaN(), RSS: math.NaN(), RSSAfter: math.NaN(), SyscallsPerKop: -1, MinorFaultsPerKop: math.NaN()}
			if x != nil {
				s = x.Summary()
			}
			by, sys := "", ""
			if s.SyscallsPerKop >= 0 {
				sys, by = num(s.SyscallsPerKop), "own counters"
				if s.SyscallsTraced {
					by = "ptrace"
				}
			}
			gcCPU, p50, p99 := "", "", ""
			if x != nil && len(x.Samples) > 0 {
				gcCPU = num(x.Samples[len(x.Samples)/2].GCCPUSeconds)
				if g := x.Samples[0].GC; g != nil {
					gcCPU, p50, p99 = num(x.Samples[0].GCCPUSeconds), num(g.P50Ns), num(g.P99Ns)
				}
			}
			failed := ""
			if f != nil {
				failed = f.Error
			}
			ops := math.NaN()
			if s.NsPerOp > 0 {
				ops = 1e9 / s.NsPerOp
			}
			cw.Write([]string{wi.Name, p, strconv.Itoa(wi.Threads), strconv.Itoa(s.Samples), num(s.NsPerOp), num(s.NsPerOp / base), num(ops),
				bytes(s.PeakRSS), bytes(s.RSS), bytes(s.RSSAfter), sys, by, num(s.MinorFaultsPerKop), gcCPU, p50, p99, failed})
		}
	}
	cw.Flush()
	return cw.Error()
}
