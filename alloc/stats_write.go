package alloc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/offheap/offheap/arena"
)

// The printed forms of Stats: malloc_stats' text, malloc_info's XML and
// JSON. Each takes one snapshot and writes it with one Write.

// WriteStats writes offheap's statistics as text for people, in the spirit
// of glibc's malloc_stats: first the same lines as glibc (per arena "system
// bytes" and "in use bytes", then the totals including mapped chunks and
// the peak of mapped regions and bytes), then offheap's own figures, one
// "name = value" line each. It costs a ReadStats.
func WriteStats(w io.Writer) error {
	var s Stats
	ReadStats(&s)
	return writeStatsText(w, &s)
}

// WriteInfo writes offheap's state as glibc's malloc_info(0, fp) does: the
// same XML elements and attributes in the same order, so that tools that
// read glibc's output read offheap's. One <heap> per arena lists its free
// chunks by bin (<size>; the fastbins first, each as the 16-byte range
// glibc prints; the unsorted list last, as <unsorted>), then the fastbin
// and other free chunks (<total type="fast|rest">, the top counted with
// the rest), system memory now and at peak, and address space (for arenas
// other than the main one also the number of heaps, <aspace
// type="subheaps">). The totals follow, with the mapped chunks (<total
// type="mmap">). Sizes are chunk sizes without glibc's flag bits. Chunks
// in the per-P caches count as in use, as glibc counts its tcache. It
// costs a ReadStats plus a walk of every bin.
func WriteInfo(w io.Writer) error {
	var s Stats
	var bins [][]arena.BinSize
	readStats(&s, &bins)
	return writeInfoXML(w, &s, bins)
}

// WriteJSON writes ReadStats's figures as one indented JSON object whose
// keys are the field names of Stats.
func WriteJSON(w io.Writer) error {
	var s Stats
	ReadStats(&s)
	return writeStatsJSON(w, &s, "  ")
}

func writeStatsJSON(w io.Writer, s *Stats, indent string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", indent)
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeStatsText(w io.Writer, s *Stats) error {
	var b bytes.Buffer
	line := func(name string, v uint64) { fmt.Fprintf(&b, "%-16s = %10d\n", name, v) }
	for i, a := range s.Arenas {
		fmt.Fprintf(&b, "Arena %d:\n", i)
		line("system bytes", a.System)
		line("in use bytes", a.Inuse)
	}
	b.WriteString("Total (incl. mmap):\n")
	line("system bytes", s.HeapSys+s.Mapped.Bytes)
	line("in use bytes", s.HeapInuse+s.Mapped.Bytes)
	line("max mmap regions", s.Mapped.CountPeak)
	line("max mmap bytes", s.Mapped.BytesPeak)

	kv := func(name string, v any) { fmt.Fprintf(&b, "%-22s = %v\n", name, v) }
	b.WriteString("offheap:\n")
	kv("sys bytes", s.Sys)
	kv("sys peak bytes", s.SysPeak)
	kv("meta bytes", s.MetaSys)
	kv("heap system bytes", s.HeapSys)
	kv("heap system peak", s.HeapSysPeak)
	kv("heap in use bytes", s.HeapInuse)
	kv("heap free bytes", s.HeapFree)
	kv("heap top bytes", s.HeapTop)
	kv("heap fastbin bytes", s.HeapFastbins)
	kv("heap cached bytes", s.HeapCached)
	kv("heap released bytes", s.HeapReleased)
	kv("heap shrunk bytes", s.HeapShrunk)
	kv("free chunks", s.FreeChunks)
	kv("fastbin chunks", s.FastChunks)
	kv("cached chunks", s.CachedChunks)
	kv("break", s.Break)
	kv("break bytes", s.BreakSys)
	kv("arenas", len(s.Arenas))
	kv("mmap regions", s.Mapped.Count)
	kv("mmap bytes", s.Mapped.Bytes)
	kv("mmap threshold", s.Params.MmapThreshold)
	kv("trim threshold", s.Params.TrimThreshold)
	kv("top pad", s.Params.TopPad)
	kv("mmap max", s.Params.MmapMax)
	kv("mxfast", s.Params.MXFast)
	kv("perturb", s.Params.Perturb)
	kv("dynamic threshold", s.Params.DynamicThreshold)
	kv("dynamic raises", s.Params.DynamicRaises)
	kv("populate", s.Params.Populate)
	kv("limit", s.Limit.Limit)
	kv("limit refused", s.Limit.Refused)
	kv("limit reclaims", s.Limit.Reclaims)
	kv("gomemlimit auto", s.GoMemLimit.Auto)
	if s.GoMemLimit.Auto {
		kv("gomemlimit total", fmt.Sprintf("%d (%s)", s.GoMemLimit.Total, s.GoMemLimit.Source))
		kv("gomemlimit set", s.GoMemLimit.Limit)
	}
	kv("gomemlimit updates", s.GoMemLimit.Updates)
	kv("decay", s.Decay.Decay)
	if s.Decay.Decay != 0 || s.Decay.Passes != 0 {
		kv("decay heap kept", s.Decay.HeapKept)
		kv("decay mapped kept", fmt.Sprintf("%d bytes in %d mappings", s.Decay.MappedKept, s.Decay.MappedKeptCount))
		kv("decay mapped reused", s.Decay.MappedReused)
		kv("decay mapped purged", s.Decay.MappedPurged)
		kv("decay released", fmt.Sprintf("%d bytes, %d calls, %d passes", s.Decay.Released, s.Decay.Calls, s.Decay.Passes))
		kv("decay last release", timeOr(s.Decay.LastRelease, "never"))
		kv("decay next pass", timeOr(s.Decay.NextPass, "none (nothing kept)"))
	}
	kv("hugetlb", fmt.Sprintf("%d (in force %d, %d-byte pages, THP %q)", s.HugePages.Setting, s.HugePages.Mode, s.HugePages.Size, s.HugePages.THP))
	if s.HugePages.Fallback != "" {
		kv("hugetlb fallback", s.HugePages.Fallback)
	}
	kv("mappings", fmt.Sprintf("%d of %d (vm.max_map_count %d)", s.Mappings.Count, s.Mappings.Budget, s.Mappings.MaxMapCount))
	kv("mappings refused", s.Mappings.Refused)
	kv("mappings limited", s.Mappings.Limited)
	for _, c := range []struct {
		name string
		op   OpStats
	}{
		{"brk", s.Syscalls.Brk}, {"mmap", s.Syscalls.Mmap}, {"munmap", s.Syscalls.Munmap},
		{"mremap", s.Syscalls.Mremap}, {"madvise", s.Syscalls.Madvise},
		{"mprotect", s.Syscalls.Mprotect}, {"mincore", s.Syscalls.Mincore},
	} {
		kv("syscalls "+c.name, fmt.Sprintf("%d calls, %d bytes, %d errors", c.op.Calls, c.op.Bytes, c.op.Errors))
	}
	kv("faults minor", fmt.Sprintf("%d (%d since offheap was loaded)", s.Faults.Minor, s.Faults.MinorSince))
	kv("faults major", fmt.Sprintf("%d (%d since offheap was loaded)", s.Faults.Major, s.Faults.MajorSince))
	kv("rss process", s.RSS.Process)
	kv("rss process peak", s.RSS.ProcessPeak)
	if s.RSS.Measured {
		kv("rss allocator", s.RSS.Allocator)
		kv("rss heap", s.RSS.Heap)
		kv("rss mapped", s.RSS.Mapped)
		kv("rss kept", s.RSS.Kept)
		kv("rss huge pages", s.RSS.HugePages)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeInfoXML(w io.Writer, s *Stats, bins [][]arena.BinSize) error {
	var b bytes.Buffer
	var fastCount, fastSize, restCount, restSize, sys, maxSys, aspace uint64
	b.WriteString("<malloc version=\"1\">\n")
	for i, a := range s.Arenas {
		fmt.Fprintf(&b, "<heap nr=\"%d\">\n<sizes>\n", i)
		var unsorted *arena.BinSize
		var arenaBins []arena.BinSize
		if i < len(bins) {
			arenaBins = bins[i]
		}
		for j := range arenaBins {
			bs := &arenaBins[j]
			switch {
			case bs.Unsorted:
				unsorted = bs
			case bs.Fast:
				fmt.Fprintf(&b, "  <size from=\"%d\" to=\"%d\" total=\"%d\" count=\"%d\"/>\n",
					bs.To-15, bs.To, uint64(bs.Count)*uint64(bs.To), bs.Count)
			default:
				fmt.Fprintf(&b, "  <size from=\"%d\" to=\"%d\" total=\"%d\" count=\"%d\"/>\n",
					bs.From, bs.To, bs.Total, bs.Count)
			}
		}
		if unsorted != nil {
			fmt.Fprintf(&b, "  <unsorted from=\"%d\" to=\"%d\" total=\"%d\" count=\"%d\"/>\n",
				unsorted.From, unsorted.To, unsorted.Total, unsorted.Count)
		}
		rest := a.Free - a.Fastbins
		fmt.Fprintf(&b, "</sizes>\n<total type=\"fast\" count=\"%d\" size=\"%d\"/>\n"+
			"<total type=\"rest\" count=\"%d\" size=\"%d\"/>\n"+
			"<system type=\"current\" size=\"%d\"/>\n"+
			"<system type=\"max\" size=\"%d\"/>\n",
			a.FastChunks, a.Fastbins, a.FreeChunks, rest, a.System, a.SystemPeak)
		fmt.Fprintf(&b, "<aspace type=\"total\" size=\"%d\"/>\n<aspace type=\"mprotect\" size=\"%d\"/>\n", a.System, a.System)
		if i != 0 {
			fmt.Fprintf(&b, "<aspace type=\"subheaps\" size=\"%d\"/>\n", a.Regions)
		}
		b.WriteString("</heap>\n")
		fastCount += a.FastChunks
		fastSize += a.Fastbins
		restCount += a.FreeChunks
		restSize += rest
		sys += a.System
		maxSys += a.SystemPeak
		aspace += a.System
	}
	fmt.Fprintf(&b, "<total type=\"fast\" count=\"%d\" size=\"%d\"/>\n"+
		"<total type=\"rest\" count=\"%d\" size=\"%d\"/>\n"+
		"<total type=\"mmap\" count=\"%d\" size=\"%d\"/>\n"+
		"<system type=\"current\" size=\"%d\"/>\n"+
		"<system type=\"max\" size=\"%d\"/>\n"+
		"<aspace type=\"total\" size=\"%d\"/>\n"+
		"<aspace type=\"mprotect\" size=\"%d\"/>\n"+
		"</malloc>\n",
		fastCount, fastSize, restCount, restSize, s.Mapped.Count, s.Mapped.Bytes,
		sys, maxSys, aspace, aspace)
	_, err := w.Write(b.Bytes())
	return err
}

// timeOr writes t in UTC to the millisecond, or zero for the zero time.
func timeOr(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
