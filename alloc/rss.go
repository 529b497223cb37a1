package alloc

import (
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/mmapper"
)

// Process figures from the kernel: page faults and CPU time (getrusage),
// the resident set (/proc/self/statm, smaps_rollup and status), and the
// residency of offheap's own memory (mincore, through mmapper).

// usage is what getrusage says of the process.
type usage struct {
	minor, major, maxRSS uint64
	user, system         time.Duration
}

func readUsage() usage {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return usage{}
	}
	return usage{
		minor:  uint64(ru.Minflt),
		major:  uint64(ru.Majflt),
		maxRSS: uint64(ru.Maxrss) << 10, // KiB on Linux
		user:   time.Duration(ru.Utime.Nano()),
		system: time.Duration(ru.Stime.Nano()),
	}
}

// readStatmRSS returns the process's resident set from /proc/self/statm
// (its second field, in pages), or 0.
func readStatmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(mmapper.PageSize())
}

// readSmapsRollupRSS returns the Rss line of /proc/self/smaps_rollup.
func readSmapsRollupRSS() (uint64, bool) {
	return readKiBField("/proc/self/smaps_rollup", "Rss:")
}

// readPeakRSS returns VmHWM, the peak resident set since it was last
// reset, from /proc/self/status.
func readPeakRSS() (uint64, bool) {
	return readKiBField("/proc/self/status", "VmHWM:")
}

// resetPeakRSS resets VmHWM to the current resident set (writing 5 to
// /proc/self/clear_refs, Linux 4.0 and later); false if refused.
func resetPeakRSS() bool {
	f, err := os.OpenFile("/proc/self/clear_refs", os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	_, err = f.Write([]byte("5"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err == nil
}

// readKiBField reads the line "key   N kB" of a /proc file, in bytes.
func readKiBField(name, key string) (uint64, bool) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, false
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, false
		}
		return v << 10, true
	}
	return 0, false
}

// allocatorResident measures the resident bytes of the break region and
// the heaps, of the mapped chunks and of the mappings decay keeps, with
// mincore, and the part of all that in huge pages, from /proc/self/smaps.
// Ranges are listed first and measured with no lock held; one freed
// meanwhile reads as ENOMEM and counts nothing.
func allocatorResident() (heap, mapped, kept, hugePages uint64) {
	h := theHeap()
	var all [][2]uintptr
	if base, end := brkUsed.Base(), brkUsed.Current(); end > base {
		heap += resident(base, end-base)
		all = append(all, [2]uintptr{base, end - base})
	}
	for _, r := range reservedRanges() {
		heap += resident(r[0], r[1])
		all = append(all, r)
	}
	for _, r := range mappedRanges(h) {
		mapped += resident(r[0], r[1])
		all = append(all, r)
	}
	var keptRanges [][2]uintptr
	h.EachKept(func(start, size uintptr) { keptRanges = append(keptRanges, [2]uintptr{start, size}) })
	for _, r := range keptRanges {
		kept += resident(r[0], r[1])
		all = append(all, r)
	}
	return heap, mapped, kept, hugeResident(all)
}

func resident(addr, n uintptr) uint64 {
	v, err := mmapper.Resident(addr, n)
	if err != nil {
		return 0
	}
	return uint64(v)
}

// mappedRanges lists the mapped chunks' mappings. Reading a chunk's header
// can fault if Realloc is moving the chunk at that moment (arena's
// EachMapped says why): the fault becomes a panic here, and the listing is
// tried again.
func mappedRanges(h *arena.Heap) [][2]uintptr {
	for range 3 {
		if out, ok := tryMappedRanges(h); ok {
			return out
		}
	}
	return nil
}

func tryMappedRanges(h *arena.Heap) (out [][2]uintptr, ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			out, ok = nil, false
		}
	}()
	h.EachMapped(func(start, size uintptr) {
		out = append(out, [2]uintptr{start, size})
	})
	return out, true
}
