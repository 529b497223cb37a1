package alloc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/mmapper"
	"github.com/offheap/offheap/tune"
)

// Huge pages (hugetlb, glibc.malloc.hugetlb; see tune.HugeTLB).
//
//   - 1: transparent huge pages. The arenas grow and trim their heaps and
//     the break region in whole huge pages, start the break region's chunks
//     on a huge page boundary and advise every heap and each stretch of the
//     break with MADV_HUGEPAGE; a chunk of at least a huge page is mapped in
//     whole huge pages, aligned to one, and advised too (AdviseHuge,
//     MapHuge below). The huge page size is the system's
//     (/sys/kernel/mm/transparent_hugepage/hpage_pmd_size). The system's THP
//     mode must be madvise or always for the advice to take.
//   - 2: chunks of at least a huge page come from the system's pool of huge
//     pages (MAP_HUGETLB, reserved when mapped, so an empty pool is an error
//     at the mmap, not a SIGBUS at a fault). The heaps keep transparent huge
//     pages, as with 1: a heap commits its memory as it grows, and taking it
//     from the pool then could fail at a fault. When the pool is empty at
//     start (HugePages_Free in /proc/meminfo is 0), or a MAP_HUGETLB mapping
//     fails later, offheap says so in one line on standard error and goes
//     on as with 1, for good.
//
// ReadResident measures how much of offheap's memory is in huge pages
// (RSS.HugePages): the AnonHugePages and hugetlb pages of the mappings in
// /proc/self/smaps that lie in offheap's ranges.

// huge is the huge page state; mode changes only to fall back from 2 to 1.
var huge struct {
	mode     atomic.Int32   // hugetlb in force: 0, 1 or 2
	size     atomic.Uintptr // the huge page size in use; 0 when off
	setting  int64          // hugetlb as set (initMu)
	thp      string         // the system's THP mode ("always", "madvise", "never"; "" unknown)
	thpSize  uintptr        // hpage_pmd_size; 0 unknown
	poolSize uintptr        // Hugepagesize (the pool's); 0 unknown
	poolFree uint64         // HugePages_Free when hugetlb was last configured

	mu       sync.Mutex
	fallback string // why 2 fell back to 1
}

// systemHuge reads the system's huge page facts once.
var systemHuge = sync.OnceFunc(func() {
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			huge.thpSize = uintptr(v)
		}
	}
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err == nil {
		huge.thp = bracketed(string(b))
	}
	if v, ok := readKiBField("/proc/meminfo", "Hugepagesize:"); ok {
		huge.poolSize = uintptr(v)
	}
})

// bracketed returns the word in brackets of a sysfs choice ("always
// [madvise] never" gives "madvise"), or "".
func bracketed(s string) string {
	_, rest, ok := strings.Cut(s, "[")
	if !ok {
		return ""
	}
	w, _, _ := strings.Cut(rest, "]")
	return w
}

// poolFreePages reads HugePages_Free from /proc/meminfo.
func poolFreePages() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("HugePages_Free:")); ok {
			v, _ := strconv.ParseUint(string(bytes.TrimSpace(rest)), 10, 64)
			return v
		}
	}
	return 0
}

// configureHuge applies the hugetlb setting (initMu held) and returns the
// huge page size the arenas round to (0: none). hugetlb=2 with an empty
// pool falls back to 1 at once, with its one line.
func configureHuge(s *tune.Settings) uintptr {
	mode := s.Get(tune.HugeTLB)
	huge.setting = mode
	if mode == 0 {
		// Nothing to read: the system's facts wait for the statistics
		// (reading sysfs starts the runtime's poller, about 50 us of the
		// first Malloc).
		huge.mode.Store(0)
		huge.size.Store(0)
		return 0
	}
	systemHuge()
	size := huge.thpSize
	if mode == 2 {
		huge.poolFree = poolFreePages()
		if huge.poolSize != 0 {
			size = huge.poolSize
		}
		if huge.poolFree == 0 || huge.poolSize == 0 {
			hugeFallback(fmt.Sprintf("the pool of %d kB huge pages is empty (HugePages_Free 0; set vm.nr_hugepages)", huge.poolSize>>10))
			mode, size = 1, huge.thpSize
		}
	}
	if mode == 0 || size == 0 {
		mode, size = 0, 0
	}
	huge.mode.Store(int32(mode))
	huge.size.Store(size)
	return size
}

// hugeFallback switches hugetlb=2 to 1 for good and says why, once.
func hugeFallback(why string) {
	huge.mu.Lock()
	defer huge.mu.Unlock()
	huge.mode.Store(1)
	if huge.fallback == "" {
		huge.fallback = why
		fmt.Fprintf(os.Stderr, "offheap: hugetlb=2: %s; using transparent huge pages (hugetlb=1)\n", why)
	}
}

// AdviseHuge is arena.HugeMemory's advice: MADV_HUGEPAGE.
func (osMemory) AdviseHuge(addr, n uintptr) error { return mmapper.Hugepage(addr, n) }

// MapHuge is arena.HugeMemory's mapping of n bytes (whole huge pages):
// from the pool with hugetlb=2, falling back to transparent huge pages if
// the pool refuses; aligned and advised otherwise. It is charged as Map.
func (osMemory) MapHuge(n uintptr) (uintptr, error) {
	if err := admitMap(n); err != nil {
		return 0, err
	}
	size := huge.size.Load()
	var addr uintptr
	var err error
	if huge.mode.Load() == 2 {
		if addr, err = mmapper.MapHugeTLB(n, size); err != nil {
			hugeFallback(err.Error())
			addr = 0
		}
	}
	if addr == 0 {
		if addr, err = mmapper.MapAligned(n, size); err == nil {
			_ = mmapper.Hugepage(addr, n) // best effort
		}
	}
	if err != nil {
		uncharge(n)
		return 0, err
	}
	account.mapBytes.Add(int64(n))
	account.mappings.Add(1)
	return addr, nil
}

var _ arena.HugeMemory = osMemory{}

// hugeResident returns the bytes in huge pages (AnonHugePages, and
// Private_Hugetlb and Shared_Hugetlb for the pool's pages) of the
// mappings in /proc/self/smaps that lie inside one of ranges.
func hugeResident(ranges [][2]uintptr) uint64 {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	defer f.Close()
	inside := func(lo, hi uintptr) bool {
		for _, r := range ranges {
			if lo >= r[0] && hi <= r[0]+r[1] {
				return true
			}
		}
		return false
	}
	var total uint64
	ours := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if lo, hi, ok := smapsHeader(line); ok {
			ours = inside(lo, hi)
			continue
		}
		if !ours {
			continue
		}
		for _, key := range [...]string{"AnonHugePages:", "Private_Hugetlb:", "Shared_Hugetlb:"} {
			if rest, ok := bytes.CutPrefix(line, []byte(key)); ok {
				if fs := bytes.Fields(rest); len(fs) > 0 {
					v, _ := strconv.ParseUint(string(fs[0]), 10, 64)
					total += v << 10
				}
			}
		}
	}
	return total
}

// smapsHeader parses the first line of a mapping in smaps,
// "7f..-7f.. rw-p ...".
func smapsHeader(line []byte) (lo, hi uintptr, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return 0, 0, false
	}
	a, b, found := bytes.Cut(line[:sp], []byte("-"))
	if !found {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(string(a), 16, 64)
	h, err2 := strconv.ParseUint(string(b), 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}
