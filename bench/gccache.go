package bench

import (
	"fmt"
	"math"
	"math/bits"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// The GC-pressure workload: the case offheap exists for.
//
// A cache of Entries values of MinSize-MaxSize bytes (uniform) serves
// requests on Workers goroutines, each over its own shard of the keys:
// UpdatePercent of the requests replace a value with a new one of a new
// size, the others copy a value into a freshly allocated response (a
// []byte on Go's heap, as a Go server returns one; both peers allocate it
// alike). The cache is held two ways, with the same index shape:
//
//   - go-heap: a [][]byte, one Go object per value: the collector marks
//     every one of them in every cycle, and each cycle comes sooner since
//     the responses are garbage on a heap the cache has made large.
//   - offheap (or any allocator outside Go's heap): a []uintptr of block
//     addresses, which the collector does not scan, the values in
//     alloc.Malloc blocks (length, then bytes); an update frees the old
//     block. Go's heap then holds only the index and the responses.
//
// Figures: GC CPU seconds (runtime/metrics /cpu/classes/gc/total, read
// with no cycle in flight: an unfinished cycle is waited for, so every
// cycle that started is counted whole) while loading and while serving;
// p50 and p99 of the request latency (each request timed, into a
// log-linear histogram of 6% buckets); requests per second; peak RSS.
//
// Acceptance (issue 7): with 10 million values of 64-256 bytes, offheap
// cuts the GC CPU time by at least 10x against Go's heap and has a lower
// p99.

// GCSpec is a GC-pressure cache.
type GCSpec struct {
	Entries          int // values cached
	MinSize, MaxSize int // value sizes, uniform
	UpdatePercent    int // requests that replace a value
	Default          bool
}

// Name is the workload's name: gc-cache/<millions>M/<min>-<max>.
func (g *GCSpec) Name() string {
	return fmt.Sprintf("gc-cache/%s/%d-%d", millions(g.Entries), g.MinSize, g.MaxSize)
}

// GCConfig is what GCSpecs builds the GC-pressure workloads from: the
// cache sizes in millions of values (Main's -gc-entries), the value sizes
// (-gc-values) and the share of updates.
var GCConfig = struct {
	Millions         []float64
	MinSize, MaxSize int
	UpdatePercent    int
}{Millions: []float64{10}, MinSize: 64, MaxSize: 256, UpdatePercent: 10}

// GCSpecs returns the GC-pressure caches of GCConfig; the first is in
// the default set.
func GCSpecs() []*GCSpec {
	var out []*GCSpec
	for i, m := range GCConfig.Millions {
		out = append(out, &GCSpec{Entries: int(m * 1e6), MinSize: GCConfig.MinSize, MaxSize: GCConfig.MaxSize,
			UpdatePercent: GCConfig.UpdatePercent, Default: i == 0})
	}
	return out
}

// ParseGCConfig sets GCConfig from a list of millions ("1,10,20") and a
// size range ("64-4096").
func ParseGCConfig(millions, sizes string) error {
	var ms []float64
	for _, s := range strings.Split(millions, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || v <= 0 || v > 100 {
			return fmt.Errorf("bench: -gc-entries: %q is not a count of millions in (0, 100]", s)
		}
		ms = append(ms, v)
	}
	lo, hi, ok := strings.Cut(sizes, "-")
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || a < 1 || b < a || b > 1<<20 {
		return fmt.Errorf("bench: -gc-values: %q is not a size range like 64-256", sizes)
	}
	GCConfig.Millions, GCConfig.MinSize, GCConfig.MaxSize = ms, a, b
	return nil
}

// Footprint estimates the peak resident memory of the cache on Go's heap,
// the larger of the two peers: the values (rounded up to Go's size
// classes, about 12%), their slice headers, and the collector's headroom
// (GOGC=100 lets the heap double before the next cycle).
func (g *GCSpec) Footprint() int64 {
	mean := float64(g.MinSize+g.MaxSize) / 2
	return int64(float64(g.Entries) * (mean*1.12 + 24) * 2)
}

// checkMemory returns an error naming the GC-pressure cache that would not
// fit in the memory the machine has available (/proc/meminfo MemAvailable),
// or nil.
func checkMemory(specs []*GCSpec, available int64) error {
	for _, g := range specs {
		if need := g.Footprint(); available > 0 && need > available*9/10 {
			return fmt.Errorf("bench: %s needs about %.1f GiB on Go's heap, and %.1f GiB are available: lower -gc-entries or -gc-values",
				g.Name(), float64(need)/(1<<30), float64(available)/(1<<30))
		}
	}
	return nil
}

// memAvailable returns MemAvailable from /proc/meminfo in bytes, or -1.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb * 1024
				}
			}
		}
	}
	return -1
}

// GCSample holds the GC-pressure figures of a Sample.
type GCSample struct {
	Entries           int     `json:"entries"`
	LoadSeconds       float64 `json:"load_seconds"`
	LoadGCCPUSeconds  float64 `json:"load_gc_cpu_seconds"`
	ServeGCCPUSeconds float64 `json:"serve_gc_cpu_seconds"`
	LoadGCCycles      int64   `json:"load_gc_cycles"`
	ServeGCCycles     int64   `json:"serve_gc_cycles"`
	P50Ns             float64 `json:"p50_ns"`
	P99Ns             float64 `json:"p99_ns"`
	P999Ns            float64 `json:"p999_ns"`
	MaxNs             float64 `json:"max_ns"`
}

// cacheStore is one way to hold the cache.
type cacheStore interface {
	// set replaces value i by a new one of size bytes of v.
	set(i, size int, v byte)
	// get returns a new Go copy of value i.
	get(i int) []byte
	// close frees every value.
	close()
}

type goStore struct{ vals [][]byte }

func (s *goStore) set(i, size int, v byte) {
	b := make([]byte, size)
	fill(unsafe.Pointer(unsafe.SliceData(b)), size, v)
	s.vals[i] = b
}

func (s *goStore) get(i int) []byte {
	v := s.vals[i]
	out := make([]byte, len(v))
	copy(out, v)
	return out
}

func (s *goStore) close() { s.vals = nil }

// offStore keeps the values in blocks of an allocator outside Go's heap:
// an 8-byte length, then the bytes.
type offStore struct {
	a   Allocator
	idx []uintptr
}

func (s *offStore) set(i, size int, v byte) {
	p := s.a.Malloc(8 + size)
	*(*uint64)(p) = uint64(size)
	fill(unsafe.Add(p, 8), size, v)
	old := s.idx[i]
	s.idx[i] = uintptr(p)
	if old != 0 {
		s.a.Free(unsafe.Add(nil, old))
	}
}

func (s *offStore) get(i int) []byte {
	p := unsafe.Add(nil, s.idx[i])
	n := int(*(*uint64)(p))
	out := make([]byte, n)
	copy(out, unsafe.Slice((*byte)(unsafe.Add(p, 8)), n))
	return out
}

func (s *offStore) close() {
	for i, p := range s.idx {
		if p != 0 {
			s.a.Free(unsafe.Add(nil, p))
			s.idx[i] = 0
		}
	}
	s.idx = nil
}

// newCacheStore returns the store of peer p: Go's heap for go-heap, the
// peer's allocator for another peer written in Go.
func newCacheStore(p *Peer, entries int) (cacheStore, error) {
	switch {
	case p.Name == "go-heap":
		return &goStore{vals: make([][]byte, entries)}, nil
	case p.newAlloc != nil:
		return &offStore{a: p.newAlloc(), idx: make([]uintptr, entries)}, nil
	}
	return nil, fmt.Errorf("bench: peer %s cannot hold the GC-pressure cache", p.Name)
}

// latHist is a log-linear histogram of nanoseconds: 16 buckets per power
// of two (at most 6% wide), exact below 16 ns.
type latHist [64 * 16]uint64

func (h *latHist) add(ns int64) {
	if ns < 16 {
		h[max(ns, 0)]++
		return
	}
	b := bits.Len64(uint64(ns))
	h[(b-4)*16+int(ns>>(b-5))&15]++
}

func (h *latHist) merge(o *latHist) {
	for i, v := range o {
		h[i] += v
	}
}

// bucketNs is the middle of bucket i.
func bucketNs(i int) float64 {
	if i < 16 {
		return float64(i)
	}
	b, m := i/16+4, i%16
	lo := float64(16+m) * math.Ldexp(1, b-5)
	return lo + math.Ldexp(1, b-5)/2
}

// quantile returns the q-quantile (0 < q <= 1), or NaN for an empty
// histogram.
func (h *latHist) quantile(q float64) float64 {
	var total uint64
	for _, v := range h {
		total += v
	}
	if total == 0 {
		return math.NaN()
	}
	target := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, v := range h {
		if seen += v; seen >= max(target, 1) {
			return bucketNs(i)
		}
	}
	return bucketNs(len(h) - 1)
}

// xorshift is a worker's cheap generator of keys and sizes.
type xorshift uint64

func (x *xorshift) next() uint64 {
	v := uint64(*x)
	v ^= v << 13
	v ^= v >> 7
	v ^= v << 17
	*x = xorshift(v)
	return v
}

// gcRead returns the collector's CPU seconds and cycles so far, after
// waiting for a cycle in flight to finish (debug.SetGCPercent(-1) does,
// without starting one), so that no cycle is counted in part.
func gcRead() (cpu float64, cycles uint64) {
	old := debug.SetGCPercent(-1)
	debug.SetGCPercent(old)
	ms := []metrics.Sample{{Name: gcMetrics[1]}, {Name: gcMetrics[0]}}
	metrics.Read(ms)
	if ms[0].Value.Kind() == metrics.KindFloat64 {
		cpu = ms[0].Value.Float64()
	}
	if ms[1].Value.Kind() == metrics.KindUint64 {
		cycles = ms[1].Value.Uint64()
	}
	return cpu, cycles
}

// responseRing is how many responses a worker keeps (requests in flight).
const responseRing = 64

// MeasureGC runs the GC-pressure workload w on peer p: it loads the cache
// on w's worker goroutines, serves requests for d, and frees the cache.
func MeasureGC(p Peer, w *Workload, d time.Duration) (s Sample, err error) {
	defer func() {
		if e := recover(); e != nil {
			err = fmt.Errorf("%s %s: panic: %v", p.Name, w.Name, e)
		}
	}()
	g := w.GC
	store, err := newCacheStore(&p, g.Entries)
	if err != nil {
		return Sample{}, err
	}
	threads := w.workers()
	resetPeakRSS()
	runtime.GC()
	cpu0, cyc0 := gcRead()
	before := readCounters(&p)
	shard := func(i int) (lo, hi int) { return g.Entries * i / threads, g.Entries * (i + 1) / threads }
	sizeOf := func(r *xorshift) int { return g.MinSize + int(r.next()%uint64(g.MaxSize-g.MinSize+1)) }

	start := time.Now()
	var c crew
	for i := range threads {
		c.Go(func() {
			r := xorshift(0x9e3779b97f4a7c15 ^ uint64(i+1))
			lo, hi := shard(i)
			for k := lo; k < hi; k++ {
				store.set(k, sizeOf(&r), byte(k))
			}
		})
	}
	c.Wait()
	loadTime := time.Since(start)
	cpu1, cyc1 := gcRead()

	hists := make([]latHist, threads)
	counts := make([]int64, threads)
	serveStart := time.Now()
	deadline := serveStart.Add(d)
	for i := range threads {
		c.Go(func() {
			r := xorshift(0x2545f4914f6cdd1d ^ uint64(i+1))
			lo, hi := shard(i)
			h := &hists[i]
			var ring [responseRing][]byte
			var acc byte
			n := int64(0)
			for t := time.Now(); t.Before(deadline); n++ {
				x := r.next()
				k := lo + int(x%uint64(hi-lo))
				if int(x>>32%100) < g.UpdatePercent {
					store.set(k, sizeOf(&r), byte(n))
				} else {
					out := store.get(k)
					acc += out[0]
					ring[n%responseRing] = out
				}
				t1 := time.Now()
				h.add(t1.Sub(t).Nanoseconds())
				t = t1
			}
			counts[i] = n
			sinkWord.Add(uint64(acc))
		})
	}
	c.Wait()
	serve := time.Since(serveStart)
	cpu2, cyc2 := gcRead()
	after := readCounters(&p)

	var all latHist
	var requests int64
	for i := range hists {
		all.merge(&hists[i])
		requests += counts[i]
	}
	s = diff(&p, before, after, int(requests))
	s.Seconds = serve.Seconds()
	s.NsPerOp = s.Seconds * 1e9 / float64(max(requests, 1))
	s.GCCPUSeconds = cpu2 - cpu0
	s.GCCycles = int64(cyc2 - cyc0)
	s.MaxRSS = peakRSS()
	s.GC = &GCSample{
		Entries: g.Entries, LoadSeconds: loadTime.Seconds(),
		LoadGCCPUSeconds: cpu1 - cpu0, ServeGCCPUSeconds: cpu2 - cpu1,
		LoadGCCycles: int64(cyc1 - cyc0), ServeGCCycles: int64(cyc2 - cyc1),
		P50Ns: all.quantile(0.5), P99Ns: all.quantile(0.99), P999Ns: all.quantile(0.999), MaxNs: all.quantile(1),
	}
	store.close()
	runtime.GC()
	s.RSSAfter = residentBytes()
	return s, nil
}
