package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sample is one timed run of a workload on a peer.
type Sample struct {
	Ops     int64   `json:"ops"`       // operations (malloc+free pairs)
	Seconds float64 `json:"seconds"`   // wall time of the run
	NsPerOp float64 `json:"ns_per_op"` // wall ns per pair, all goroutines together
	// CPUSeconds is the CPU time of the whole process (user and system,
	// getrusage) during the run: the collector's included, and less
	// disturbed than wall time when other programs share the machine.
	CPUSeconds float64 `json:"cpu_seconds"`
	// Syscalls is the allocator's memory system calls during the run, -1
	// when the peer does not count them (only offheap does).
	Syscalls int64 `json:"syscalls"`
	// MinorFaults is the process's minor page faults during the run
	// (getrusage), whoever caused them.
	MinorFaults int64 `json:"minor_faults"`
	// GCCycles and GCCPUSeconds are the Go collector's cycles and CPU time
	// (runtime/metrics) during the run.
	GCCycles     int64   `json:"gc_cycles"`
	GCCPUSeconds float64 `json:"gc_cpu_seconds"`
	// RSS is the process's resident memory at the end of the run
	// (/proc/self/statm); MaxRSS its peak during the measurement, set-up
	// included (VmHWM, reset through /proc/self/clear_refs when the
	// measurement starts; else the peak since the process started); RSSAfter
	// its resident memory once the workload has freed every block and
	// the collector has run (what the allocator kept), in bytes.
	RSS      int64 `json:"rss"`
	MaxRSS   int64 `json:"max_rss"`
	RSSAfter int64 `json:"rss_after"`
	// TracedSyscalls is the memory system calls (brk, mmap, munmap,
	// mremap, madvise, mprotect) that every thread of the process made
	// during the run, counted by the runner under ptrace in a separate
	// pass; -1 when not counted.
	TracedSyscalls int64 `json:"traced_syscalls"`
	// GC holds the GC-pressure workload's own figures.
	GC *GCSample `json:"gc,omitempty"`
}

// AllocsPerSecond is the throughput of the sample: pairs per second.
func (s Sample) AllocsPerSecond() float64 {
	if s.Seconds == 0 {
		return 0
	}
	return float64(s.Ops) / s.Seconds
}

// counters is what Measure reads before and after a run.
type counters struct {
	at       time.Time
	syscalls uint64
	minflt   int64
	maxRSS   int64
	cpu      float64
	gcCycles uint64
	gcCPU    float64
}

var gcMetrics = []string{"/gc/cycles/total:gc-cycles", "/cpu/classes/gc/total:cpu-seconds"}

func readCounters(p *Peer) counters {
	var c counters
	if p.Syscalls != nil {
		c.syscalls = p.Syscalls()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.minflt = ru.Minflt
		c.maxRSS = ru.Maxrss * 1024
		c.cpu = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	ms := []metrics.Sample{{Name: gcMetrics[0]}, {Name: gcMetrics[1]}}
	metrics.Read(ms)
	if ms[0].Value.Kind() == metrics.KindUint64 {
		c.gcCycles = ms[0].Value.Uint64()
	}
	if ms[1].Value.Kind() == metrics.KindFloat64 {
		c.gcCPU = ms[1].Value.Float64()
	}
	c.at = time.Now()
	return c
}

func diff(p *Peer, before, after counters, ops int) Sample {
	s := Sample{
		Ops:            int64(ops),
		Seconds:        after.at.Sub(before.at).Seconds(),
		CPUSeconds:     after.cpu - before.cpu,
		Syscalls:       -1,
		MinorFaults:    after.minflt - before.minflt,
		GCCycles:       int64(after.gcCycles - before.gcCycles),
		GCCPUSeconds:   after.gcCPU - before.gcCPU,
		RSS:            residentBytes(),
		MaxRSS:         after.maxRSS,
		TracedSyscalls: -1,
	}
	if p.Syscalls != nil {
		s.Syscalls = int64(after.syscalls - before.syscalls)
	}
	if ops > 0 {
		s.NsPerOp = s.Seconds * 1e9 / float64(ops)
	}
	return s
}

// Measure times workload w on peer p for about d: it makes the workers
// (filling their live sets, untimed), calibrates the count of operations
// on growing trial runs (which also warm the allocator up: its caches are
// full and its heap grown when the timed run starts), collects garbage,
// and times one run of about d, or of w.MinOps operations if more (after
// w.WarmOps more untimed ones, if any), rounded to a whole number of
// w.Round if set (whose trials then go on until one made a whole round). The GC-pressure cache goes to
// MeasureGC, the first call to MeasureFirst. A panic in the allocator
// (offheap's corruption checks, say) is returned as an error, so that a
// runner can go on with the next workload.
func Measure(p Peer, w *Workload, d time.Duration) (s Sample, err error) {
	switch w.Kind {
	case GCCache:
		return MeasureGC(p, w, d)
	case FirstCall:
		return MeasureFirst(p, w)
	}
	defer func() {
		if e := recover(); e != nil {
			err = fmt.Errorf("%s %s: panic: %v", p.Name, w.Name, e)
		}
	}()
	if !w.RunsOn(p.Name) {
		return Sample{}, fmt.Errorf("%s %s: the workload does not run on this peer", p.Name, w.Name)
	}
	resetPeakRSS()
	n := 1
	if w.Parallel {
		n = w.Threads(runtime.GOMAXPROCS(0))
	}
	ws := make([]Worker, 0, n)
	closed := false
	defer func() {
		if !closed {
			for _, wk := range ws {
				closeWorker(wk)
			}
		}
	}()
	var c crew
	if w.ConcurrentSetup {
		made, errs := make([]Worker, n), make([]error, n)
		for i := 0; i < n; i++ {
			c.Go(func() { made[i], errs[i] = p.NewWorker(w, i) })
		}
		func() {
			// The workers made are closed on the way out, even when
			// another one's set-up panicked.
			defer func() {
				for _, wk := range made {
					if wk != nil {
						ws = append(ws, wk)
					}
				}
			}()
			c.Wait()
		}()
		if err := errors.Join(errs...); err != nil {
			return Sample{}, fmt.Errorf("%s %s: %w", p.Name, w.Name, err)
		}
	} else {
		for i := 0; i < n; i++ {
			wk, err := p.NewWorker(w, i)
			if err != nil {
				return Sample{}, fmt.Errorf("%s %s: %w", p.Name, w.Name, err)
			}
			ws = append(ws, wk)
		}
	}
	ops, prevOps, prevEl := 100, 0, time.Duration(0)
	for {
		start := time.Now()
		runWorkers(ws, ops)
		el := time.Since(start)
		// Two trials for the line, unless one is long already (the large
		// workloads take milliseconds an operation); a workload of rounds
		// has made a whole one (heap-destroy: the first whole job grows
		// the heap that the next ones reuse, which the timed run is not to
		// pay for).
		if (el >= d/20 && (prevOps > 0 || el >= d/4) && ops >= w.Round) || ops >= 1<<40 {
			if prevOps == 0 {
				// The first trial paid for the warm-up (the first faults
				// of the live set, a heap still growing), which can make
				// it ten times slower than what follows: time the same
				// count again and go by that, so that the timed run lasts
				// about d and does not stop at the end of the warm-up.
				start = time.Now()
				runWorkers(ws, ops)
				el = time.Since(start)
			}
			ops = max(calibrate(prevOps, prevEl, ops, el, d), w.MinOps)
			if w.Round > 0 {
				ops = max((ops+w.Round/2)/w.Round, 1) * w.Round
			}
			break
		}
		prevOps, prevEl = ops, el
		ops *= 10
	}
	runtime.GC()
	if w.WarmOps > 0 {
		runWorkers(ws, w.WarmOps)
	}
	before := readCounters(&p)
	if traced {
		marker(markerStart)
	}
	runWorkers(ws, ops)
	if traced {
		marker(markerStop)
	}
	after := readCounters(&p)
	s = diff(&p, before, after, ops)
	s.MaxRSS = peakRSS()
	closed = true
	for _, wk := range ws {
		if w.ConcurrentSetup {
			c.Go(wk.Close)
		} else {
			wk.Close()
		}
	}
	c.Wait()
	runtime.GC()
	s.RSSAfter = residentBytes()
	return s, nil
}

// traced is set in a child whose system calls its parent counts: Measure
// then marks the timed run for the tracer.
var traced bool

// resetPeakRSS resets the process's peak resident set (VmHWM) to its
// current resident set, where the kernel allows it.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM from /proc/self/status in bytes, or getrusage's
// peak, or -1.
func peakRSS() int64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						return kb * 1024
					}
				}
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		return ru.Maxrss * 1024
	}
	return -1
}

// calibrate returns how many operations make a run of about d, from two
// trial runs of ops1 and ops2 operations that took el1 and el2: a straight
// line through them, so that a fixed cost per run (starting threads,
// say) does not pass for a cost per operation. When the two do not make a
// rising line (noise), it scales the second run alone. At least 100.
func calibrate(ops1 int, el1 time.Duration, ops2 int, el2 time.Duration, d time.Duration) int {
	el2 = max(el2, 1)
	n := float64(ops2) * float64(d) / float64(el2)
	if ops2 > ops1 && el2 > el1 {
		per := float64(el2-el1) / float64(ops2-ops1)
		fixed := float64(el1) - per*float64(ops1)
		if fixed > 0 && fixed < float64(d)/2 {
			n = (float64(d) - fixed) / per
		}
	}
	return int(min(max(n, 100), 1<<40))
}

// closeWorker closes wk; a panic there (a heap already found corrupt) is
// dropped, the first one has been reported.
func closeWorker(wk Worker) {
	defer func() { recover() }()
	wk.Close()
}

// residentBytes returns the process's resident memory from /proc/self/statm
// (its second field, in pages), or -1.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}
