package bench

import "io"

// RunChild runs the binary at path as a child measuring peers (with env
// added to its environment) on every workload named, count times, as Run
// does, and returns the report and the error that would skip the child.
func RunChild(path string, env, peers, workloads []string, count int, opts Options) (*Report, error) {
	c := &child{name: "test", peers: peers, path: path, env: env}
	rep := &Report{Count: count}
	for i := 0; i < count; i++ {
		var jobs []job
		for _, p := range peers {
			for _, w := range workloads {
				if rep.Failed(p, w) == nil {
					jobs = append(jobs, job{p, w})
				}
			}
		}
		if err := c.runJobs(rep, jobs, opts, nil, false, nil); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// AllocTestSizeRange draws n alloc-test sizes and returns the smallest,
// the largest and the share of sizes of at most 8 bytes.
func AllocTestSizeRange(n int) (lo, hi int, small float64) {
	r := atPRNG{allocTestSeed}
	lo, hi = 1<<30, 0
	k := 0
	for range n {
		s := allocTestSize(r.rng64())
		lo, hi = min(lo, s), max(hi, s)
		if s <= 8 {
			k++
		}
	}
	return lo, hi, float64(k) / float64(n)
}

// Lran2Range draws n numbers from lran2 seeded with seed and returns the
// smallest and the largest.
func Lran2Range(seed int64, n int) (lo, hi int64) {
	var r lran2
	r.init(seed)
	lo, hi = 1<<62, -1
	for range n {
		v := r.next()
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// HistQuantiles puts ns into a latency histogram and returns its
// quantiles qs.
func HistQuantiles(ns []int64, qs ...float64) []float64 {
	var h latHist
	for _, v := range ns {
		h.add(v)
	}
	var out []float64
	for _, q := range qs {
		out = append(out, h.quantile(q))
	}
	return out
}

// ProgressDemo shows two workloads on two peers, with a note.
func ProgressDemo(w io.Writer, live bool) {
	p := newProgress(w, 4, live)
	p.start("w1", "a", "repetition 1/1")
	p.start("w1", "b", "repetition 1/1")
	p.log("a note")
	p.start("w2", "a", "repetition 1/1")
	p.start("w2", "b", "repetition 1/1")
	p.finish()
}

// CheckMemory is checkMemory.
var CheckMemory = checkMemory

// Calibrate is calibrate.
var Calibrate = calibrate

// RPSlots is rptest's slots per thread.
const RPSlots = rpSlots

// MixStateOf returns the state of a mixed workload's worker, or nil.
func MixStateOf(w Worker) *MixState {
	if m, ok := w.(*mixWorker); ok {
		return &m.MixState
	}
	return nil
}

// GoHeapRecent returns the lengths of the latest blocks g handed out, in
// its ring's order.
func GoHeapRecent(g *GoHeap) []int {
	l := make([]int, len(g.ring))
	for i, b := range g.ring {
		l[i] = len(b)
	}
	return l
}
