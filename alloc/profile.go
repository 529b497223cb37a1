package alloc

import (
	"encoding/binary"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// The heap profile: what sample.go records, written in the pprof format.
//
// Samples are kept raw (a stack of return PCs, the size, the label-set
// pointer) and symbolized only here. A freed sample is folded, the next time
// a profile is written, into a bucket of its stack, size and labels that
// keeps only counts, so the memory the profiler holds grows with the
// distinct allocation sites and the live samples, not with time (between two
// profiles the freed samples wait in sample.go's list).
//
// The figures are scaled as runtime/pprof scales the Go heap profile: a
// block of s bytes is sampled with probability 1-exp(-s/rate), so each
// sampled value is divided by that probability (protomem.go
// scaleHeapSample). With the same sample types, units and period type as
// the Go heap profile, `go tool pprof` can merge the two or use one as the
// -base of the other.

// heapLabel is the label that names a sample's private heap (Heap.ID).
const heapLabel = "offheap_heap"

// labelsKey returns a string that identifies a sorted label list.
func labelsKey(l []profLabel) string {
	if len(l) == 0 {
		return ""
	}
	var b strings.Builder
	for _, x := range l {
		b.WriteString(x.Key)
		b.WriteByte(0)
		b.WriteString(x.Value)
		b.WriteByte(0)
	}
	return b.String()
}

// bucketFigures is what a profile takes from one bucket.
type bucketFigures struct {
	b             *bucket
	allocs, frees int64
	bytes         int64 // bytes of the sampled blocks allocated
	labels        []profLabel
	labelsKey     string
}

// snapshotBuckets reads the counts of every bucket that has a sample,
// after collecting the Ps' pending counts. A free counted by one P may be
// collected before the allocation it ends, counted by another (which took
// its fresh psample first): a bucket's frees are capped at its
// allocations, and the difference shows in the next profile.
func snapshotBuckets() []bucketFigures {
	collectSampleCounts()
	var out []bucketFigures
	for _, b := range allBuckets() {
		frees := b.frees.Load()
		allocs := b.allocs.Load()
		if allocs == 0 {
			continue
		}
		frees = min(frees, allocs)
		l := decodeLabels(b.labels)
		if b.heap != 0 {
			// A private heap's block: the heap is a label of its own.
			l = append(l, profLabel{Key: heapLabel, Value: strconv.FormatUint(uint64(b.heap), 10)})
			slices.SortFunc(l, func(x, y profLabel) int { return strings.Compare(x.Key, y.Key) })
		}
		bytes := b.bytes.Load()
		if bytes == 0 { // a bucket whose allocation count came first (collectSampleCounts)
			bytes = allocs * int64(b.size)
		}
		out = append(out, bucketFigures{b: b, allocs: allocs, frees: frees, bytes: bytes, labels: l, labelsKey: labelsKey(l)})
	}
	return out
}

// scaleHeapSample estimates the true count and bytes from count sampled
// blocks of size bytes in all, sampled at rate (runtime/pprof's
// scaleHeapSample).
func scaleHeapSample(count, size, rate int64) (int64, int64) {
	if count == 0 || size == 0 {
		return 0, 0
	}
	if rate <= 1 {
		return count, size
	}
	avg := float64(size) / float64(count)
	scale := 1 / (1 - math.Exp(-avg/float64(rate)))
	return int64(float64(count) * scale), int64(float64(size) * scale)
}

// allocPrefix is the prefix of this package's function names: frames of
// offheap's own API at the leaf of a stack are hidden, as runtime/pprof
// hides the runtime's, so the profile charges the caller of Malloc.
const allocPrefix = "github.com/offheap/offheap/alloc."

// frame is one symbolized frame of a return PC.
type frame struct {
	pc   uintptr // the PC the location is keyed by
	fn   string
	file string
	line int
}

// symbolizer turns a bucket's stack into frames.
type symbolizer struct{}

// stackFrames returns the frames of stk, leaf first, in groups of one
// physical frame each (a function and the calls inlined into it, innermost
// first), without offheap's API frames at the leaf (unless nothing else
// remains). A physical stack (the frame-pointer walk's) is first put in
// runtime.Callers's logical form (expandPhysical), so both kinds give the
// same frames; runtime.CallersFrames then marks each inlined frame with a
// nil Func, which is how the groups are found.
func (sy *symbolizer) stackFrames(stk []uintptr, logical bool) [][]frame {
	if !logical {
		stk = expandPhysical(stk)
	}
	var groups [][]frame
	var cur []frame
	it := runtime.CallersFrames(stk)
	for {
		fr, more := it.Next()
		if fr.Function != "" || fr.PC != 0 {
			cur = append(cur, frame{pc: fr.PC, fn: fr.Function, file: fr.File, line: fr.Line})
			if fr.Func != nil || fr.Function == "" {
				groups, cur = append(groups, cur), nil
			}
		}
		if !more {
			break
		}
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	// Hide the leading frames of package alloc.
	for len(groups) > 0 {
		g := groups[0]
		i := 0
		for i < len(g) && strings.HasPrefix(g[i].fn, allocPrefix) {
			i++
		}
		if i == 0 {
			break
		}
		if i < len(g) {
			groups[0] = g[i:] // an inlined API call: keep its caller
			break
		}
		if len(groups) == 1 {
			break // nothing but alloc: keep it
		}
		groups = groups[1:]
	}
	return groups
}

// WriteHeapProfile writes the off-heap memory profile to w as a gzipped
// pprof protocol buffer, the format of runtime/pprof's heap profile: sample
// types alloc_objects/count, alloc_space/bytes, inuse_objects/count and
// inuse_space/bytes, period type space/bytes with the sampling rate as the
// period, inuse_space the default. Values are the sampled figures scaled to
// estimate the true totals, as the Go runtime scales its own (by the rate in
// force when the profile is written). Samples carry the allocating
// goroutine's pprof labels when the runtime's label set can be read (see
// labels.go), and a numeric label "bytes" with the block size. Locations are
// symbolized (function, file, line, inlined calls), so `go tool pprof` needs
// no binary; frames of package alloc itself are left out, so each block is
// charged to the function that called Malloc (or Calloc, Realloc, ...).
//
// Sampling is on by default at 512 KiB, Go's own rate, so a running
// program can be asked for its profile without a restart; nothing is
// sampled while the rate is 0 (SetProfileRate(0), OFFHEAP=profile_rate=0),
// and the profile then holds only what was sampled before.
func WriteHeapProfile(w io.Writer) error {
	return buildHeapProfile().Write(w)
}

// buildHeapProfile returns the profile WriteHeapProfile writes.
func buildHeapProfile() *profile.Profile {
	rate := profileRate.Load()
	p := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "alloc_objects", Unit: "count"},
			{Type: "alloc_space", Unit: "bytes"},
			{Type: "inuse_objects", Unit: "count"},
			{Type: "inuse_space", Unit: "bytes"},
		},
		DefaultSampleType: "inuse_space",
		PeriodType:        &profile.ValueType{Type: "space", Unit: "bytes"},
		Period:            rate,
		TimeNanos:         time.Now().UnixNano(),
		Comments:          []string{"offheap: memory allocated outside the Go heap by github.com/offheap/offheap/alloc"},
	}
	figures := snapshotBuckets()

	// A stable order: the profile is the same for the same samples.
	slices.SortFunc(figures, func(a, b bucketFigures) int {
		if c := slices.Compare(a.b.stk, b.b.stk); c != 0 {
			return c
		}
		if a.b.logical != b.b.logical {
			if a.b.logical {
				return 1
			}
			return -1
		}
		if a.b.size != b.b.size {
			return a.b.size - b.b.size
		}
		return strings.Compare(a.labelsKey, b.labelsKey)
	})

	sy := &symbolizer{}
	funcs := make(map[[2]string]*profile.Function) // name, file
	type locKey struct {
		pc     uintptr
		frames int // frames kept of the PC's inline chain
		fn     string
		line   int
	}
	locs := make(map[locKey]*profile.Location)
	// Stacks that differ only in offheap's hidden frames (the fast and
	// the slow path of Malloc) make one sample.
	type sampleKey struct {
		locs   string // location ids
		size   int
		labels string
	}
	merged := make(map[sampleKey]*profile.Sample)
	type counts struct{ allocs, frees, bytes int64 }
	sampleCounts := make(map[*profile.Sample]*counts)
	for _, bf := range figures {
		b := bf.b
		var ls []*profile.Location
		var ids []byte
		for _, g := range sy.stackFrames(b.stk, b.logical) {
			lk := locKey{pc: g[0].pc, frames: len(g), fn: g[0].fn, line: g[0].line}
			loc := locs[lk]
			if loc == nil {
				loc = &profile.Location{ID: uint64(len(p.Location) + 1), Address: uint64(g[0].pc)}
				for _, f := range g {
					fk := [2]string{f.fn, f.file}
					fn := funcs[fk]
					if fn == nil {
						fn = &profile.Function{ID: uint64(len(p.Function) + 1), Name: f.fn, SystemName: f.fn, Filename: f.file}
						funcs[fk] = fn
						p.Function = append(p.Function, fn)
					}
					loc.Line = append(loc.Line, profile.Line{Function: fn, Line: int64(f.line)})
				}
				locs[lk] = loc
				p.Location = append(p.Location, loc)
			}
			ls = append(ls, loc)
			ids = binary.AppendUvarint(ids, loc.ID)
		}
		sk := sampleKey{locs: string(ids), size: b.size, labels: bf.labelsKey}
		s := merged[sk]
		if s == nil {
			s = &profile.Sample{
				Location: ls,
				Value:    make([]int64, 4),
				NumLabel: map[string][]int64{"bytes": {int64(b.size)}},
				NumUnit:  map[string][]string{"bytes": {"bytes"}},
			}
			if len(bf.labels) > 0 {
				s.Label = make(map[string][]string, len(bf.labels))
				for _, l := range bf.labels {
					s.Label[l.Key] = []string{l.Value}
				}
			}
			merged[sk] = s
			sampleCounts[s] = &counts{}
			p.Sample = append(p.Sample, s)
		}
		sampleCounts[s].allocs += bf.allocs
		sampleCounts[s].frees += bf.frees
		sampleCounts[s].bytes += bf.bytes
	}
	for _, s := range p.Sample {
		// A bucket holds the sizes of one size class (profileClass): its
		// blocks' size is their mean, in the "bytes" label and in the
		// scaling, as runtime/pprof takes a record's mean block size.
		c := sampleCounts[s]
		size := max(c.bytes/max(c.allocs, 1), 1)
		s.NumLabel["bytes"][0] = size
		s.Value[0], s.Value[1] = scaleHeapSample(c.allocs, c.bytes, rate)
		inuse := c.allocs - c.frees
		s.Value[2], s.Value[3] = scaleHeapSample(inuse, inuse*size, rate)
	}
	addMappings(p)
	return p
}

// addMappings gives the profile the process's executable mappings, from
// /proc/self/maps, and marks them symbolized, so pprof shows the names
// recorded here and does not look for the binary.
func addMappings(p *profile.Profile) {
	if f, err := os.Open("/proc/self/maps"); err == nil {
		err = p.ParseMemoryMap(f)
		f.Close()
		if err != nil {
			p.Mapping = nil
		}
	}
	if len(p.Mapping) == 0 {
		exe, _ := os.Executable()
		p.Mapping = []*profile.Mapping{{ID: 1, Limit: math.MaxUint64, File: exe}}
	}
	for _, l := range p.Location {
		if l.Mapping == nil || len(p.Mapping) == 1 {
			l.Mapping = p.Mapping[0]
		}
	}
	for _, m := range p.Mapping {
		m.HasFunctions, m.HasFilenames, m.HasLineNumbers, m.HasInlineFrames = true, true, true, true
	}
}
