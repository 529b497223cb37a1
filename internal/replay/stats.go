package replay

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/offheap/offheap/alloc/tracefmt"
)

// Stats summarizes an allocation pattern (the trace-stats subcommand).
type Stats struct {
	Trace   string
	Info    tracefmt.Info
	Calls   int64
	ByOp    [tracefmt.NumOps]int64 // by tracefmt.Op
	Threads int

	// Sizes buckets the allocations by requested bytes: bucket i holds
	// sizes in [2^(i-1), 2^i), bucket 0 the zero-byte requests.
	Sizes [65]Bucket
	// Lifetimes buckets the freed (or reallocated, or destroyed with their
	// heap) blocks by how many calls happened between their allocation and
	// their end: bucket i holds [2^(i-1), 2^i) calls.
	Lifetimes [65]Bucket
	// TimeLifetimes is the same in time (traces with timestamps only):
	// bucket i holds [2^(i-1), 2^i) microseconds.
	TimeLifetimes [65]Bucket
	LiveAtEnd     Bucket // blocks never freed

	PeakLiveBytes  uint64 // the most requested bytes live at once
	PeakLiveBlocks int64  // the most blocks live at once
	PeakAt         int64  // the call (1-based) at which the bytes peaked
	PeakBlocksAt   int64  // blocks live then
	TotalBytes     uint64

	// Realloc chains: a block reallocated k times in succession (its
	// lineage) is one chain of length k.
	Chains      [65]Bucket // by chain length, power-of-two buckets as above; Bytes: final size
	LongChains  []Chain    // the longest few
	ReallocGrow int64      // reallocs that grew the block
	ReallocKeep int64      // kept its size
	ReallocDrop int64      // shrank it

	Heaps HeapStats // private heaps
}

// HeapStats summarizes a trace's private heaps.
type HeapStats struct {
	Created, Destroyed int64
	PeakLive           int64  // the most heaps live at once
	Allocs             Bucket // allocations made in private heaps (reallocs included), and their bytes
	Freed              int64  // blocks of private heaps freed one by one (or reallocated)
	// Dropped counts the blocks that destroys ended (live in their heap
	// when it was destroyed) and their bytes: the frees a destroy saves.
	Dropped Bucket
	// LargestDrop is the most blocks one destroy ended, and their bytes.
	LargestDrop Bucket
}

// Bucket counts blocks and their bytes.
type Bucket struct {
	Count int64
	Bytes uint64
}

// Chain is one lineage of reallocs.
type Chain struct {
	Reallocs   int
	First      uint64 // size at the first allocation
	Last       uint64 // size after the last realloc
	FirstCall  int64
	FinalBlock uint64
}

func bucketOf(v uint64) int { return bits.Len64(v) }

// ComputeStats reads the trace in path and summarizes it.
func ComputeStats(path string, partial bool) (*Stats, error) {
	r, c, err := tracefmt.Open(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	s := &Stats{Trace: path}
	type block struct {
		size  uint64
		call  int64
		t     int64
		chain int32 // index into chains+1, 0: not reallocated yet
	}
	blocks := map[uint64]block{}
	var chains []Chain
	threads := map[uint32]bool{}
	var live uint64
	liveHeaps := int64(0)
	for {
		e, err := r.Next()
		if err == io.EOF || partial && errors.Is(err, tracefmt.ErrUnterminated) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s.Calls++
		s.ByOp[e.Op]++
		threads[e.Thread] = true
		end := func(id uint64) block {
			b := blocks[id]
			delete(blocks, id)
			live -= b.size
			d := uint64(s.Calls - b.call)
			s.Lifetimes[bucketOf(d)].Count++
			s.Lifetimes[bucketOf(d)].Bytes += b.size
			if e.Time >= 0 && b.t >= 0 {
				us := uint64(max(e.Time-b.t, 0) / int64(time.Microsecond))
				s.TimeLifetimes[bucketOf(us)].Count++
				s.TimeLifetimes[bucketOf(us)].Bytes += b.size
			}
			return b
		}
		switch e.Op {
		case tracefmt.Free:
			end(e.ID)
			if e.Heap != 0 {
				s.Heaps.Freed++
			}
			continue
		case tracefmt.HeapCreate:
			s.Heaps.Created++
			liveHeaps++
			s.Heaps.PeakLive = max(s.Heaps.PeakLive, liveHeaps)
			continue
		case tracefmt.HeapDestroy:
			s.Heaps.Destroyed++
			liveHeaps--
			var drop Bucket
			for _, id := range r.Ended() {
				b := end(id)
				drop.Count++
				drop.Bytes += b.size
			}
			s.Heaps.Dropped.Count += drop.Count
			s.Heaps.Dropped.Bytes += drop.Bytes
			if drop.Count > s.Heaps.LargestDrop.Count {
				s.Heaps.LargestDrop = drop
			}
			continue
		}
		n := e.Bytes()
		s.Sizes[bucketOf(n)].Count++
		s.Sizes[bucketOf(n)].Bytes += n
		s.TotalBytes += n
		nb := block{size: n, call: s.Calls, t: e.Time}
		if e.Heap != 0 {
			s.Heaps.Allocs.Count++
			s.Heaps.Allocs.Bytes += n
		}
		if e.Op == tracefmt.Realloc && e.Old != 0 {
			if e.Heap != 0 {
				s.Heaps.Freed++
			}
			old := end(e.Old)
			switch {
			case n > old.size:
				s.ReallocGrow++
			case n == old.size:
				s.ReallocKeep++
			default:
				s.ReallocDrop++
			}
			if old.chain == 0 {
				chains = append(chains, Chain{First: old.size, FirstCall: old.call})
				old.chain = int32(len(chains))
			}
			ch := &chains[old.chain-1]
			ch.Reallocs++
			ch.Last, ch.FinalBlock = n, e.ID
			nb.chain = old.chain
		}
		blocks[e.ID] = nb
		live += n
		if live > s.PeakLiveBytes {
			s.PeakLiveBytes, s.PeakAt, s.PeakBlocksAt = live, s.Calls, int64(len(blocks))
		}
		s.PeakLiveBlocks = max(s.PeakLiveBlocks, int64(len(blocks)))
	}
	s.Info = r.Info()
	s.Threads = len(threads)
	for _, b := range blocks {
		s.LiveAtEnd.Count++
		s.LiveAtEnd.Bytes += b.size
	}
	for _, ch := range chains {
		k := bucketOf(uint64(ch.Reallocs))
		s.Chains[k].Count++
		s.Chains[k].Bytes += ch.Last
	}
	slices.SortStableFunc(chains, func(a, b Chain) int { return b.Reallocs - a.Reallocs })
	s.LongChains = chains[:min(len(chains), 5)]
	return s, nil
}

// bucketRange names bucket i of a power-of-two histogram: "0", "1",
// "2..<4", "1K..<2K".
func bucketRange(i int, unit func(uint64) string) string {
	switch i {
	case 0:
		return unit(0)
	case 1:
		return unit(1)
	}
	lo := uint64(1) << (i - 1)
	return unit(lo) + "..<" + unit(lo<<1)
}

// sizeUnit writes a power of two in K, M, G.
func sizeUnit(v uint64) string {
	switch {
	case v >= 1<<30 && v%(1<<30) == 0:
		return fmt.Sprintf("%dG", v>>30)
	case v >= 1<<20 && v%(1<<20) == 0:
		return fmt.Sprintf("%dM", v>>20)
	case v >= 1<<10 && v%(1<<10) == 0:
		return fmt.Sprintf("%dK", v>>10)
	}
	return fmt.Sprint(v)
}

func writeHist(w io.Writer, title, what string, h []Bucket, unit func(uint64) string) {
	var total int64
	width := len(what)
	for i, b := range h {
		total += b.Count
		if b.Count > 0 {
			width = max(width, len(bucketRange(i, unit)))
		}
	}
	if total == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	fmt.Fprintf(w, "%*s  %9s  %5s  %10s\n", width, what, "blocks", "%", "bytes")
	for i, b := range h {
		if b.Count == 0 {
			continue
		}
		bar := strings.Repeat("#", int(40*b.Count/total))
		fmt.Fprintf(w, "%*s  %9d  %5.1f  %10s  %s\n", width, bucketRange(i, unit), b.Count, 100*float64(b.Count)/float64(total), FormatBytes(int64(b.Bytes)), bar)
	}
}

// Write prints the summary.
func (s *Stats) Write(w io.Writer) {
	fmt.Fprintf(w, "%s: %s trace", s.Trace, s.Info.Format)
	if s.Info.Gzipped {
		fmt.Fprint(w, " (gzipped)")
	}
	if !s.Info.Start.IsZero() {
		fmt.Fprintf(w, ", recorded %s", s.Info.Start.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "\n%d calls from %d threads: %d malloc, %d calloc, %d realloc, %d aligned, %d free",
		s.Calls, s.Threads, s.ByOp[tracefmt.Malloc], s.ByOp[tracefmt.Calloc], s.ByOp[tracefmt.Realloc], s.ByOp[tracefmt.Aligned], s.ByOp[tracefmt.Free])
	if n, d := s.ByOp[tracefmt.HeapCreate], s.ByOp[tracefmt.HeapDestroy]; n+d > 0 {
		fmt.Fprintf(w, ", %d heap_create, %d heap_destroy", n, d)
	}
	fmt.Fprintln(w)
	if hs := s.Heaps; hs.Created > 0 {
		fmt.Fprintf(w, "%d private heaps created, %d destroyed (%d live at once at most): %d allocations in them (%s); %d of their blocks freed one by one, %d (%s) dropped by destroys, at most %d (%s) by one\n",
			hs.Created, hs.Destroyed, hs.PeakLive, hs.Allocs.Count, FormatBytes(int64(hs.Allocs.Bytes)),
			hs.Freed, hs.Dropped.Count, FormatBytes(int64(hs.Dropped.Bytes)), hs.LargestDrop.Count, FormatBytes(int64(hs.LargestDrop.Bytes)))
	}
	if s.Info.Dropped > 0 {
		fmt.Fprintf(w, "%d calls left out by the recorder (frees of blocks allocated before the trace, calls of heaps created as it started)\n", s.Info.Dropped)
	}
	if s.Info.Skipped > 0 {
		fmt.Fprintf(w, "%d failed reallocs skipped\n", s.Info.Skipped)
	}
	fmt.Fprintf(w, "bytes requested %s; peak live %s in %d blocks (at call %d, %d blocks at most); live at the end %s in %d blocks\n",
		FormatBytes(int64(s.TotalBytes)), FormatBytes(int64(s.PeakLiveBytes)), s.PeakBlocksAt, s.PeakAt, s.PeakLiveBlocks,
		FormatBytes(int64(s.LiveAtEnd.Bytes)), s.LiveAtEnd.Count)
	writeHist(w, "sizes (requested bytes)", "size", s.Sizes[:], sizeUnit)
	writeHist(w, "lifetimes, in calls between allocation and free (blocks freed or reallocated)", "calls", s.Lifetimes[:], func(v uint64) string { return fmt.Sprint(v) })
	writeHist(w, "lifetimes in time", "microseconds", s.TimeLifetimes[:], func(v uint64) string { return fmt.Sprint(v) })
	if s.ByOp[tracefmt.Realloc] > 0 {
		var n int64
		for _, b := range s.Chains {
			n += b.Count
		}
		fmt.Fprintf(w, "\nrealloc chains: %d blocks reallocated (%d reallocs: %d grew, %d kept their size, %d shrank)\n",
			n, s.ByOp[tracefmt.Realloc], s.ReallocGrow, s.ReallocKeep, s.ReallocDrop)
		writeHist(w, "chains by their reallocs (bytes: the final sizes)", "reallocs", s.Chains[:], func(v uint64) string { return fmt.Sprint(v) })
		if len(s.LongChains) > 0 {
			fmt.Fprintf(w, "longest: ")
			for i, c := range s.LongChains {
				if i > 0 {
					fmt.Fprint(w, "; ")
				}
				fmt.Fprintf(w, "%d reallocs %s -> %s (from call %d)", c.Reallocs, FormatBytes(int64(c.First)), FormatBytes(int64(c.Last)), c.FirstCall)
			}
			fmt.Fprintln(w)
		}
	}
}
