package tune

import "strconv"

// Param identifies one allocator parameter. Where glibc's mallopt has the
// parameter, the Param's value is glibc's M_* number, so that a Mallopt
// wrapper converts with Param(param); offheap's own parameters number from
// 100.
type Param int

// The parameters. The table returned by Specs gives each one's name, default,
// range and unit; the comments here only say what the value means.
const (
	// MXFast is M_MXFAST: the largest request, in bytes, served from the
	// fastbins; 0 disables them.
	MXFast Param = 1
	// TrimThreshold is M_TRIM_THRESHOLD: how many bytes of free memory at the
	// top of the heap trigger giving memory back to the system.
	TrimThreshold Param = -1
	// TopPad is M_TOP_PAD: extra bytes requested from the system whenever the
	// heap grows, and left in place when it is trimmed.
	TopPad Param = -2
	// MmapThreshold is M_MMAP_THRESHOLD: requests of at least this many bytes
	// that the top of the heap cannot serve get their own mapping.
	MmapThreshold Param = -3
	// MmapMax is M_MMAP_MAX: the most chunks mapped one by one at a time; 0
	// disables mapping single chunks.
	MmapMax Param = -4
	// CheckAction is M_CHECK_ACTION (MALLOC_CHECK_, glibc.malloc.check): what
	// happens on detected corruption. 0 ignores it where that is safe, 1
	// reports it and continues, 2 and 3 panic.
	CheckAction Param = -5
	// Perturb is M_PERTURB: when not 0, allocated memory is filled with the
	// complement of this byte and freed memory with the byte itself, to make
	// use of uninitialized or freed memory show.
	Perturb Param = -6
	// ArenaTest is M_ARENA_TEST: in glibc, the number of arenas created before
	// the arena limit is computed. offheap accepts and validates it for
	// compatibility but computes the limit (ArenaMax 0: GOMAXPROCS) at once,
	// so it has no effect.
	ArenaTest Param = -7
	// ArenaMax is M_ARENA_MAX: the most arenas; 0 means GOMAXPROCS (one per
	// P; glibc's 0 means 8 × cores).
	ArenaMax Param = -8

	// TcacheCount is the number of chunks of each size a per-P cache holds
	// (glibc.malloc.tcache_count); above 1 KiB a size holds at most 128 KiB
	// of chunks (two at least).
	TcacheCount Param = 100
	// TcacheMax is the largest request, in bytes, the per-P cache holds
	// (glibc.malloc.tcache_max).
	TcacheMax Param = 101
	// Limit is the most bytes offheap may hold from the system; 0 means no
	// limit.
	Limit Param = 102
	// ProfileRate is the mean number of bytes allocated between two samples of
	// the heap profile: 512 KiB by default, as Go's runtime.MemProfileRate;
	// 0 turns profiling off.
	ProfileRate Param = 103
	// Debug turns on debugging: 0 is off, and N > 0 runs a full Check every N
	// operations and adds guard pages and canaries.
	Debug Param = 104
	// GoMemLimit says whether offheap lowers the Go runtime's memory limit by
	// the memory it holds: 0 (off) or 1 (auto).
	GoMemLimit Param = 105
	// Harden chooses the checks of Free. 0 checks what the block's own cache
	// line tells (its header's tag and state bits, the cache key for a double
	// free) and leaves the rest to the moment chunks leave the per-P cache in
	// batches. 1 sends every free through the checked path: the next chunk's
	// header too (an overflow into it is caught at that free, not later), and
	// a compare-and-swap so that of two goroutines freeing one block at the
	// same instant exactly one wins. SECURITY.md gives what each level
	// catches and costs.
	Harden Param = 110
	// Decay is how long, in milliseconds, memory that glibc's policy would
	// give back to the system at once is kept for reuse first: the top of a
	// heap above TrimThreshold, free pages inside a heap, heaps that became
	// free, and freed mapped chunks. It goes back once it has stayed unused
	// that long, released in the background. 0 gives it back at once, as
	// glibc does.
	Decay Param = 106
	// HugeTLB is glibc.malloc.hugetlb: 0 uses ordinary pages; 1 asks for
	// transparent huge pages (MADV_HUGEPAGE) on the heaps and on mapped
	// chunks of at least a huge page, growing and trimming heaps in whole
	// huge pages; 2 maps such chunks from the system's pool of huge pages
	// (MAP_HUGETLB), and falls back to 1 when the pool is empty.
	HugeTLB Param = 107
	// HeapCache is how many bytes of the heaps of destroyed private heaps
	// (alloc.NewHeap, Heap.Destroy) are kept, their pages resident, for the
	// next private heaps; 0 gives every one back at once. With Decay set,
	// what is kept goes back once unused for that long.
	HeapCache Param = 111
	// Populate says whether an arena that already holds 1 MiB, in a heap
	// of one arena, faults in with one system call (MADV_POPULATE_WRITE)
	// the pages its growth adds beyond the request, up to TopPad bytes: the
	// chunks carved there next are written at once, and one call costs
	// less than a page fault per page. 0 leaves every page to fault on
	// first touch, as glibc does.
	Populate Param = 112
	// TcacheGrow bounds, in bytes of chunks, how far a per-P cache's
	// classes of 1 KiB or less may grow beyond TcacheCount: a class whose
	// chunks go back to the arena and come straight back doubles its limit
	// (up to 512 KiB of chunks a class) while the P's growth stays within
	// this. 0 keeps every class at TcacheCount, as glibc does.
	TcacheGrow Param = 113
)

// String returns p's name in the table ("mmap_threshold"), or "Param(42)" for
// a number the table does not hold.
func (p Param) String() string {
	if i, ok := paramIndex[p]; ok {
		return table[i].Name
	}
	return "Param(" + strconv.Itoa(int(p)) + ")"
}
