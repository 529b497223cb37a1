package alloc

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/brk"
	"github.com/offheap/offheap/mmapper"
)

// Statistics: what offheap holds and what it cost.
//
// Figures come from four places, each read the cheapest way that is exact:
//
//   - the arenas, walked under their locks (all of them held at once, so
//     that the totals add up): system memory, free chunks, tops;
//   - the account of the OS boundary (limit.go) and the arenas' events:
//     Sys and its peak, the break, mapped chunks, memory released;
//   - the per-P caches, whose chunk counts are read with atomic loads;
//   - the kernel: the system call counters of brk and mmapper, getrusage
//     for page faults, /proc/self/statm for the resident set, and, only in
//     ReadResident, mincore over offheap's own memory.

// Stats describes offheap's memory and what it cost, as ReadStats reads it.
// Bytes are bytes; "since start" means since the allocator started, at the
// first allocation. Figures marked cumulative only ever rise.
type Stats struct {
	// Sys is every byte offheap holds from the operating system, resident
	// or not: HeapSys + Mapped.Bytes + MetaSys + Decay.MappedKept +
	// PrivateSys + HeapCache.Bytes. The memory limit applies to it, and
	// gomemlimit=auto subtracts it from the Go memory limit.
	Sys uint64
	// SysPeak is the highest Sys since start.
	SysPeak uint64
	// MetaSys is the memory of offheap's own tables: the address table
	// (8 MiB of address space, touched a page at a time), one page of bin
	// heads per arena and the table of mapped chunks.
	MetaSys uint64

	// PrivateSys is the memory of the live private heaps (NewHeap): the sum
	// of Heaps[].Sys.
	PrivateSys uint64
	// Heaps lists the live private heaps.
	Heaps []PrivateHeapStats
	// HeapCache is what the heap_cache keeps of destroyed private heaps.
	HeapCache HeapCacheStats

	// HeapSys is the memory of the heaps, the break region and the arenas'
	// heaps (glibc's mallinfo2 arena): HeapInuse + HeapFree. The figures
	// from here to CachedChunks are the process heap's; private heaps have
	// theirs in Heaps.
	HeapSys uint64
	// HeapSysPeak is the highest HeapSys since start.
	HeapSysPeak uint64
	// HeapInuse is HeapSys less HeapFree: chunks handed out, chunks held
	// in the per-P caches (HeapCached), heap headers and fenceposts
	// (glibc's uordblks).
	HeapInuse uint64
	// HeapFree is the memory of free chunks: the bins, the fastbins and the
	// top chunks (glibc's fordblks).
	HeapFree uint64
	// HeapTop is the part of HeapFree in the arenas' top chunks, which
	// trimming can give back to the operating system.
	HeapTop uint64
	// HeapFastbins is the part of HeapFree in fastbins (glibc's fsmblks).
	HeapFastbins uint64
	// HeapCached is the part of HeapInuse held in the per-P caches, each
	// chunk counted at its class's chunk size: exact for the classes up to
	// 1 KiB and for chunks that Malloc made for a class, low by less than a
	// class step (a quarter) for a chunk from Realloc or AlignedAlloc kept
	// in one of the upper classes.
	HeapCached uint64
	// HeapReleased is the memory Trim gave back from inside free chunks
	// (MADV_DONTNEED on their whole pages), cumulative. Such pages stay in
	// HeapSys and are resident again when written.
	HeapReleased uint64
	// HeapShrunk is the memory given back by lowering the break,
	// decommitting the ends of heaps and deleting free heaps, by Trim and
	// by the trim after a free, cumulative.
	HeapShrunk uint64
	// FreeChunks counts the free chunks in the bins plus one top chunk per
	// arena (glibc's ordblks).
	FreeChunks uint64
	// FastChunks counts the chunks in fastbins (glibc's smblks).
	FastChunks uint64
	// CachedChunks counts the chunks in the per-P caches and on the arenas'
	// remote lists (chunks one P gave back to another P's arena, waiting
	// for that P's next refill).
	CachedChunks uint64
	// Break names the backend of the main arena's break region: "brk" for
	// the program break, "reserved" for the reserved range that stands in
	// for it when C code shares the process (cgo and -race binaries).
	Break string
	// BreakSys is the memory below the break, part of HeapSys.
	BreakSys uint64
	// Arenas describes each arena, in index order (arena 0 is the main
	// arena, on the break).
	Arenas []ArenaStats

	// Mapped describes the chunks that have a mapping of their own.
	Mapped MappedStats
	// Decay describes what decay keeps and what it gave back.
	Decay DecayStats
	// HugePages describes the use of huge pages (hugetlb).
	HugePages HugePageStats
	// Params are the parameters in force now, after the dynamic threshold's
	// changes.
	Params ParamStats
	// Limit describes the memory limit.
	Limit LimitStats
	// GoMemLimit describes the coupling with the Go memory limit.
	GoMemLimit GoMemLimitStats
	// Mappings describes offheap's mappings against vm.max_map_count.
	Mappings MappingStats
	// Syscalls counts the memory system calls offheap made.
	Syscalls Syscalls
	// Faults counts page faults.
	Faults Faults
	// RSS is resident memory.
	RSS RSS
}

// ArenaStats describes one arena. Inuse + Free == System.
type ArenaStats struct {
	System     uint64 // memory of the arena's break region and heaps (glibc's system_mem)
	SystemPeak uint64 // the highest System (max_system_mem)
	Inuse      uint64 // System less Free
	Free       uint64 // free chunks: bins, fastbins and the top
	Top        uint64 // the top chunk, part of Free
	Fastbins   uint64 // free chunks in fastbins, part of Free
	FreeChunks uint64 // free chunks in the bins, plus the top
	FastChunks uint64 // chunks in fastbins
	Regions    uint64 // the break region and heaps the arena has used, its current one included
	Mallocs    uint64 // chunks the arena handed out, cumulative (the per-P caches hide most small ones)
	Frees      uint64 // chunks freed into the arena, cumulative
	Kept       uint64 // the part of Free that decay keeps and glibc's trim would have given back by now
}

// MappedStats describes the chunks that have a mapping of their own
// (glibc's hblks and hblkhd).
type MappedStats struct {
	Count     uint64 // chunks mapped now
	CountPeak uint64 // the most mapped at once since start (malloc_stats' max mmap regions)
	Bytes     uint64 // their mappings' bytes
	BytesPeak uint64 // the most bytes mapped at once (max mmap bytes)
}

// DecayStats describes decay (tune.Decay): the memory that glibc's policy
// would have given back to the system and offheap keeps for reuse until it
// has stayed unused for Decay, and what the background releaser gave back.
// All zero but the cumulative figures when decay is off.
type DecayStats struct {
	Decay time.Duration // the decay in force; 0: glibc's policy
	// HeapKept is the memory of the arenas' free chunks that glibc's trim
	// would have given back by now: the tops beyond top_pad above the trim
	// threshold, and heaps that became free (part of HeapFree).
	HeapKept uint64
	// MappedKept and MappedKeptCount are the mappings of freed mapped
	// chunks kept for reuse (part of Sys, not of Mapped).
	MappedKept      uint64
	MappedKeptCount uint64
	// MappedReused counts the mapped chunks served from a kept mapping;
	// MappedPurged the kept mappings unmapped (by the releaser, Trim, or to
	// stay in bounds). Cumulative.
	MappedReused uint64
	MappedPurged uint64
	// Released is the memory the releaser gave back (tops, free heaps, free
	// pages inside heaps, kept mappings) and Calls the system calls it made
	// for that; Passes counts its passes. Cumulative.
	Released uint64
	Calls    uint64
	Passes   uint64
	// LastRelease is when the releaser last gave memory back (zero if
	// never); NextPass when it runs next (zero when nothing is kept: then
	// there is no timer and no goroutine).
	LastRelease time.Time
	NextPass    time.Time
}

// HugePageStats describes the use of huge pages (tune.HugeTLB).
type HugePageStats struct {
	Setting uint64 // hugetlb as set: 0, 1 or 2
	Mode    uint64 // hugetlb in force: 2 falls back to 1 when the pool is empty or refuses
	Size    uint64 // the huge page size the heaps are rounded to; 0 when off
	// THP is the system's transparent huge page mode: "always", "madvise"
	// or "never" ("" when unknown); hugetlb=1 needs always or madvise.
	THP string
	// PoolFree is HugePages_Free of the system's pool when hugetlb=2 was
	// configured.
	PoolFree uint64
	// Fallback says why hugetlb=2 fell back to 1; "" if it did not.
	Fallback string
}

// ParamStats are the parameters in force (see package tune), after the
// dynamic threshold's changes.
type ParamStats struct {
	MmapThreshold    uint64 // requests this large that the top cannot serve are mapped
	TrimThreshold    uint64 // a top larger than this is trimmed after a free
	TopPad           uint64 // extra bytes asked for on growth, and kept on trim
	MmapMax          uint64 // the most chunks mapped at once
	MXFast           uint64 // the largest request served by fastbins
	Perturb          uint64 // the perturb byte, 0 if off
	DynamicThreshold bool   // freeing a mapped chunk may still raise MmapThreshold
	DynamicRaises    uint64 // times the dynamic threshold rose, cumulative
	// Populate: a warm arena's growth is faulted in with one call
	// (tune.Populate); false when set off or when the kernel refused the
	// call (before Linux 5.14).
	Populate bool
}

// LimitStats describes the memory limit (SetMemoryLimit).
type LimitStats struct {
	Limit    uint64 // the limit on Sys; 0 if none
	Refused  uint64 // requests for memory the limit refused, cumulative
	Reclaims uint64 // cache flushes and trims made to stay under the limit, cumulative
}

// GoMemLimitStats describes the coupling with the Go runtime's memory
// limit (CoupleGoMemoryLimit).
type GoMemLimitStats struct {
	Auto    bool   // the coupling is on
	Total   uint64 // the memory the Go heap and offheap share; 0 when off
	Source  string // where Total came from: "GOMEMLIMIT", "cgroup" or "CoupleGoMemoryLimit"; "" when off
	Limit   uint64 // the Go memory limit offheap set last: Total less Sys at that time; 0 when off
	Updates uint64 // times offheap set the Go memory limit, cumulative
}

// MappingStats describes offheap's mappings against vm.max_map_count. The
// count is an upper bound: each range from the operating system counts one
// mapping, a heap two (its committed and its reserved part) and the break
// two, while the kernel merges neighbouring ranges.
type MappingStats struct {
	Count       uint64 // mappings offheap holds
	Budget      uint64 // the count past which chunks are no longer mapped one by one
	MaxMapCount uint64 // vm.max_map_count
	Refused     uint64 // mappings refused for the budget, cumulative (the request was served from a heap, or failed)
	Limited     bool   // Count has reached Budget: large requests come from the heaps
}

// Syscalls counts the memory system calls offheap made (packages brk and
// mmapper), cumulative and process-wide.
type Syscalls struct {
	Brk      OpStats // program break moves and queries
	Mmap     OpStats // chunks, heap reservations, tables
	Munmap   OpStats // freed chunks and heaps, and alignment slack
	Mremap   OpStats // mapped chunks resized by Realloc
	Madvise  OpStats // pages released (MADV_DONTNEED: Trim, heap and reserved-break shrinking) and populated (tune.Populate)
	Mprotect OpStats // heap and reserved-break commits and decommits
	Mincore  OpStats // residency measurements (ReadResident), not the allocator's work
}

// OpStats counts one kind of system call.
type OpStats struct {
	Calls  uint64 // calls made, failed ones included
	Bytes  uint64 // bytes the successful calls concerned
	Errors uint64 // calls that failed
}

// Faults counts the page faults of the whole process (getrusage): the
// allocator's first touches of fresh memory and everything else's.
type Faults struct {
	Minor      uint64 // faults served without I/O since the process started
	Major      uint64 // faults that needed I/O since the process started
	MinorSince uint64 // minor faults since package alloc was initialized
	MajorSince uint64 // major faults since package alloc was initialized
}

// RSS is resident memory. ReadStats fills Process and ProcessPeak;
// ReadResident also measures offheap's own memory.
type RSS struct {
	// Process is the resident set of the whole process: from
	// /proc/self/statm in ReadStats (the kernel's counters, which may lag
	// by a few pages per CPU), from /proc/self/smaps_rollup in ReadResident
	// (exact).
	Process uint64
	// ProcessPeak is the highest resident set of the process (getrusage).
	ProcessPeak uint64
	// Measured says whether Allocator, Heap and Mapped were measured
	// (ReadResident); they are 0 otherwise.
	Measured bool
	// Allocator is the resident part of offheap's heaps and mapped chunks:
	// Heap + Mapped. Its tables are not measured.
	Allocator uint64
	// Heap is the resident part of the break region and the heaps, the
	// private heaps' and the heap cache's included.
	Heap uint64
	// Mapped is the resident part of the mapped chunks.
	Mapped uint64
	// Kept is the resident part of the mappings decay keeps.
	Kept uint64
	// HugePages is the part of offheap's memory in huge pages: the
	// AnonHugePages (and hugetlb pages) of its ranges in /proc/self/smaps.
	HugePages uint64
}

// events keeps the figures the arenas report through their events.
var events struct {
	heapSys, heapSysPeak atomic.Int64
	released, shrunk     atomic.Uint64
	mapped, mappedPeak   atomic.Int64
	raises               atomic.Uint64
}

// countEvent folds an arena event into the figures (with an arena lock
// held; atomics only).
func countEvent(e arena.Event) {
	switch e.Kind {
	case arena.EventGrow, arena.EventNewHeap:
		raise(&events.heapSysPeak, events.heapSys.Add(int64(e.Size)))
	case arena.EventShrink:
		events.heapSys.Add(-int64(e.Size))
		events.shrunk.Add(uint64(e.Size))
	case arena.EventRelease:
		events.released.Add(uint64(e.Size))
	case arena.EventMap, arena.EventReuse:
		raise(&events.mappedPeak, events.mapped.Add(1))
	case arena.EventUnmap, arena.EventKeep:
		events.mapped.Add(-1)
	case arena.EventThreshold:
		events.raises.Add(1)
	}
}

// start holds the figures taken when the package was initialized.
var start struct {
	minor, major uint64
}

// The baseline of Faults' MinorSince and MajorSince is read when the
// package is initialized (one getrusage, about 2 us of the program's
// start) rather than in the first Malloc, which has system calls enough
// of its own (issue 11's target 8).
func init() { startStats() }

func startStats() {
	u := readUsage()
	start.minor, start.major = u.minor, u.major
}

// PrivateHeapStats describes one live private heap (NewHeap).
type PrivateHeapStats struct {
	ID      uint32    // Heap.ID
	Created time.Time // when NewHeap made it
	Arenas  int       // its arenas
	// Sys is what it holds from the operating system: its heaps, its
	// mapped chunks and what decay keeps of them.
	Sys uint64
	// Inuse and Free are its heaps' bytes in use (cached chunks included)
	// and free, as Mallinfo2's Uordblks and Fordblks.
	Inuse, Free uint64
	// MappedCount and MappedBytes are its mapped chunks.
	MappedCount, MappedBytes uint64
}

// HeapCacheStats describes the heap_cache: heaps of destroyed private
// heaps kept, committed, for the next NewHeap.
type HeapCacheStats struct {
	Max   uint64 // the heap_cache setting
	Bytes uint64 // committed bytes kept
	Heaps uint64 // heaps kept
	// Reused and Dropped count heaps handed to a new private heap and
	// heaps given back to the system (over the budget, decay, Trim),
	// cumulative.
	Reused, Dropped uint64
	// Created and Destroyed count private heaps, cumulative.
	Created, Destroyed uint64
}

// ReadStats fills s with offheap's statistics, starting the allocator if
// it has not started. The figures are consistent: every arena's lock is
// held while the arenas and the per-P caches are read, so that in use and
// free add up to the system memory of each arena and of all, and the
// caches' chunks are counted once. Mapped chunks, counters of system calls
// and process figures are read just after, each atomically. Sys and MetaSys
// come from the account kept at the OS boundary: while other goroutines
// free or resize mapped chunks, or create arenas, Sys may differ from
// HeapSys + Mapped.Bytes + MetaSys by the operations in flight.
//
// Its cost is meant for calling every second: the arenas' locks are held
// while their free lists are walked (time in proportion to the free
// chunks, during which other goroutines' allocations that miss their
// cache wait), one read of /proc/self/statm and one getrusage call. It
// reuses s.Arenas. ReadResident measures resident memory at a higher cost.
func ReadStats(s *Stats) { readStats(s, nil) }

// ReadResident is ReadStats plus a measurement of resident memory:
// RSS.Allocator, Heap and Mapped by mincore over the break region, every
// heap and every mapped chunk (a system call per 256 MiB and per mapped
// chunk, and a pass over a byte per page, without any lock held), and
// RSS.Process from /proc/self/smaps_rollup (a walk of the process's page
// tables). Count milliseconds per gigabyte; the mincore calls show in
// Syscalls.Mincore.
func ReadResident(s *Stats) {
	ReadStats(s)
	s.RSS.Measured = true
	if v, ok := readSmapsRollupRSS(); ok {
		s.RSS.Process = v
	}
	s.RSS.Heap, s.RSS.Mapped, s.RSS.Kept, s.RSS.HugePages = allocatorResident()
	s.RSS.Allocator = s.RSS.Heap + s.RSS.Mapped + s.RSS.Kept
}

// readStats is ReadStats; with bins non-nil it also returns each arena's
// bins, for WriteInfo.
func readStats(s *Stats, bins *[][]arena.BinSize) {
	h := theHeap()
	as := s.Arenas[:0]
	*s = Stats{}
	s.Break = brkUsed.Kind().String()

	n := h.NumArenas()
	locked := make([]*arena.Arena, 0, n)
	func() {
		defer func() {
			for _, a := range locked {
				a.Unlock()
			}
		}()
		for i := 0; i < n; i++ {
			a := h.Arena(i)
			a.Lock()
			locked = append(locked, a)
		}
		for _, a := range locked {
			in := a.InfoLocked(bins != nil)
			if bins != nil {
				*bins = append(*bins, in.BinSizes)
			}
			as = append(as, arenaStats(&in))
		}
		s.CachedChunks, s.HeapCached = cacheFigures()
		rc, rb := remoteFigures()
		s.CachedChunks += rc
		s.HeapCached += rb
		// The heaps' side of the account moves only under arena locks.
		s.Sys = uint64(account.sys.Load())
		s.SysPeak = uint64(account.sysPeak.Load())
		s.MetaSys = uint64(account.mapBytes.Load())
		s.BreakSys = uint64(account.breakBytes.Load())
		s.HeapSysPeak = uint64(events.heapSysPeak.Load())
		s.HeapReleased = events.released.Load()
		s.HeapShrunk = events.shrunk.Load()
	}()
	s.Arenas = as
	for i := range as {
		a := &as[i]
		s.HeapSys += a.System
		s.HeapInuse += a.Inuse
		s.HeapFree += a.Free
		s.HeapTop += a.Top
		s.HeapFastbins += a.Fastbins
		s.FreeChunks += a.FreeChunks
		s.FastChunks += a.FastChunks
	}

	count, bytes, peak := h.MappedInfo()
	s.Mapped = MappedStats{
		Count:     uint64(count),
		CountPeak: uint64(max(events.mappedPeak.Load(), int64(count))),
		Bytes:     uint64(bytes),
		BytesPeak: uint64(peak),
	}
	d := h.DecayInfo()
	s.Decay = DecayStats{
		Decay:           d.Decay,
		MappedKept:      uint64(d.KeptMapped),
		MappedKeptCount: uint64(d.KeptMappings),
		MappedReused:    d.Reused,
		MappedPurged:    d.Purged,
		Released:        d.Released,
		Calls:           d.Calls,
		Passes:          d.Passes,
		LastRelease:     d.LastRelease,
		NextPass:        d.NextPass,
	}
	for i := range as {
		s.Decay.HeapKept += as[i].Kept
	}
	// The private heaps and the heap cache.
	hs := s.Heaps[:0]
	var privMappedBytes uint64
	forEachHeap(func(ph *Heap) {
		if ph.ah == nil || ph.destroyed.Load() {
			return
		}
		mi := mallinfoOf(ph.ah)
		n, b, _ := ph.ah.MappedInfo()
		kept := ph.ah.DecayInfo().KeptMapped
		st := PrivateHeapStats{ID: ph.id, Created: ph.created, Arenas: ph.ah.NumArenas(),
			Inuse: uint64(mi.Uordblks), Free: uint64(mi.Fordblks), MappedCount: uint64(n), MappedBytes: uint64(b)}
		st.Sys = uint64(mi.Arena) + st.MappedBytes + uint64(kept)
		privMappedBytes += st.MappedBytes + uint64(kept)
		s.PrivateSys += st.Sys
		hs = append(hs, st)
	})
	slices.SortFunc(hs, func(a, b PrivateHeapStats) int { return cmp.Compare(a.ID, b.ID) })
	s.Heaps = hs
	if heapPool != nil {
		b, n := heapPool.Bytes()
		reused, dropped := heapPool.Counts()
		s.HeapCache = HeapCacheStats{Max: uint64(heapPool.Max()), Bytes: uint64(b), Heaps: uint64(n),
			Reused: reused, Dropped: dropped, Created: heapsCreated.Load(), Destroyed: heapsDestroyed.Load()}
	}
	// MetaSys is what Map gave that is neither a mapped chunk nor kept.
	s.MetaSys -= min(s.MetaSys, s.Mapped.Bytes+s.Decay.MappedKept+privMappedBytes)
	systemHuge() // the system's THP mode, read once, when first asked for
	huge.mu.Lock()
	s.HugePages = HugePageStats{
		Setting:  uint64(huge.setting),
		Mode:     uint64(huge.mode.Load()),
		Size:     uint64(huge.size.Load()),
		THP:      huge.thp,
		PoolFree: huge.poolFree,
		Fallback: huge.fallback,
	}
	huge.mu.Unlock()

	p := h.Params()
	s.Params = ParamStats{
		MmapThreshold:    uint64(p.MmapThreshold),
		TrimThreshold:    uint64(p.TrimThreshold),
		TopPad:           uint64(p.TopPad),
		MmapMax:          uint64(p.MmapMax),
		MXFast:           uint64(p.MXFast),
		Perturb:          uint64(p.Perturb),
		DynamicThreshold: p.DynamicThreshold,
		DynamicRaises:    events.raises.Load(),
		Populate:         p.Populate && !mmapper.PopulateRefused(),
	}
	s.Limit = LimitStats{
		Limit:    uint64(account.limit.Load()),
		Refused:  account.refused.Load(),
		Reclaims: account.reclaims.Load(),
	}
	goLimit.mu.Lock()
	if goLimit.on.Load() {
		s.GoMemLimit = GoMemLimitStats{
			Auto:   true,
			Total:  uint64(goLimit.total.Load()),
			Source: goLimit.source,
			Limit:  uint64(goLimit.limit.Load()),
		}
	}
	goLimit.mu.Unlock()
	s.GoMemLimit.Updates = goLimit.updates.Load()
	readMaxMapCount()
	mc := uint64(account.mappings.Load())
	s.Mappings = MappingStats{
		Count:       mc,
		Budget:      uint64(account.mapBudget.Load()),
		MaxMapCount: uint64(account.maxMapCount.Load()),
		Refused:     account.mapRefused.Load(),
		Limited:     mc >= uint64(account.mapBudget.Load()),
	}
	s.Syscalls = readSyscalls()

	u := readUsage()
	s.Faults = Faults{
		Minor:      u.minor,
		Major:      u.major,
		MinorSince: u.minor - min(u.minor, start.minor),
		MajorSince: u.major - min(u.major, start.major),
	}
	s.RSS.Process = readStatmRSS()
	s.RSS.ProcessPeak = u.maxRSS
}

func arenaStats(in *arena.Info) ArenaStats {
	return ArenaStats{
		System:     uint64(in.System),
		SystemPeak: uint64(in.MaxSystem),
		Inuse:      uint64(in.System - in.Free),
		Free:       uint64(in.Free),
		Top:        uint64(in.Top),
		Fastbins:   uint64(in.FastBytes),
		FreeChunks: uint64(in.FreeChunks),
		FastChunks: uint64(in.FastChunks),
		Regions:    uint64(in.Regions),
		Mallocs:    in.Mallocs,
		Frees:      in.Frees,
		Kept:       uint64(in.Kept),
	}
}

// cacheFigures counts the chunks in the per-P caches and their bytes at
// their classes' chunk sizes. The owner of a cache changes its counts
// without atomics; a load here sees one count or the next.
func cacheFigures() (chunks, bytes uint64) {
	for i := range caches {
		c := lockedCache(i) // under -race: locked, and still P i's
		if c == nil {
			continue
		}
		for _, s := range cacheSlots {
			k := uint64(atomic.LoadUint32(&c.slot(s).count))
			chunks += k
			bytes += k * uint64(classChunk[slotClass(s)])
		}
		if raceEnabled {
			c.mu.Unlock()
		}
	}
	return chunks, bytes
}

// readSyscalls adds up the counters of brk and mmapper.
func readSyscalls() Syscalls {
	b, m := brk.ReadCounters(), mmapper.ReadCounters()
	conv := func(s ...mmapper.OpStats) OpStats { // brk.OpStats is the same type
		var o OpStats
		for _, x := range s {
			o.Calls += x.Calls
			o.Bytes += x.Bytes
			o.Errors += x.Errors
		}
		return o
	}
	return Syscalls{
		Brk:      conv(b.Brk),
		Mmap:     conv(m.Mmap, b.Mmap),
		Munmap:   conv(m.Munmap),
		Mremap:   conv(m.Mremap),
		Madvise:  conv(m.Madvise, b.Madvise),
		Mprotect: conv(m.Mprotect, b.Mprotect),
		Mincore:  conv(m.Mincore),
	}
}

// Sub returns the calls made between an earlier reading e and s.
func (s Syscalls) Sub(e Syscalls) Syscalls {
	sub := func(a, b OpStats) OpStats {
		return OpStats{Calls: a.Calls - b.Calls, Bytes: a.Bytes - b.Bytes, Errors: a.Errors - b.Errors}
	}
	return Syscalls{
		Brk:      sub(s.Brk, e.Brk),
		Mmap:     sub(s.Mmap, e.Mmap),
		Munmap:   sub(s.Munmap, e.Munmap),
		Mremap:   sub(s.Mremap, e.Mremap),
		Madvise:  sub(s.Madvise, e.Madvise),
		Mprotect: sub(s.Mprotect, e.Mprotect),
		Mincore:  sub(s.Mincore, e.Mincore),
	}
}

// Total returns the calls of every kind but Mincore (which measures, and
// is not the allocator's work).
func (s Syscalls) Total() uint64 {
	return s.Brk.Calls + s.Mmap.Calls + s.Munmap.Calls + s.Mremap.Calls + s.Madvise.Calls + s.Mprotect.Calls
}

// Usage is what a stretch of a program cost, as Measure reports it.
type Usage struct {
	Elapsed time.Duration // wall-clock time
	User    time.Duration // CPU time in user mode, the whole process
	System  time.Duration // CPU time in the kernel, the whole process
	// Syscalls are offheap's memory system calls during the stretch.
	Syscalls Syscalls
	// MinorFaults and MajorFaults are the process's page faults during
	// the stretch.
	MinorFaults, MajorFaults uint64
	// PeakRSS is the process's highest resident set during the stretch
	// when PeakRSSExact; otherwise (the kernel refused to reset the peak)
	// the highest since the process started.
	PeakRSS      uint64
	PeakRSSExact bool
	// SysBefore and SysAfter are Stats.Sys before and after; SysPeak the
	// highest Sys since start, as of the end.
	SysBefore, SysAfter, SysPeak uint64
}

// Measure runs f and reports what it cost: time, offheap's system calls,
// page faults, and the process's peak resident set over the run (reset
// before f through /proc/self/clear_refs, then read from VmHWM). Compare
// two settings of a workload by running it twice under different Mallopt
// values; measurements of the same process see each other's leftovers (a
// heap grown by the first run is there for the second), so trim between
// runs or run each in a fresh process for clean figures.
func Measure(f func()) Usage {
	theHeap()
	sc0, u0 := readSyscalls(), readUsage()
	exact := resetPeakRSS()
	sys0 := account.sys.Load()
	t0 := time.Now()
	f()
	elapsed := time.Since(t0)
	sc1, u1 := readSyscalls(), readUsage()
	peak := u1.maxRSS
	if exact {
		if v, ok := readPeakRSS(); ok {
			peak = v
		} else {
			exact = false
		}
	}
	return Usage{
		Elapsed:      elapsed,
		User:         u1.user - u0.user,
		System:       u1.system - u0.system,
		Syscalls:     sc1.Sub(sc0),
		MinorFaults:  u1.minor - u0.minor,
		MajorFaults:  u1.major - u0.major,
		PeakRSS:      peak,
		PeakRSSExact: exact,
		SysBefore:    uint64(sys0),
		SysAfter:     uint64(account.sys.Load()),
		SysPeak:      uint64(account.sysPeak.Load()),
	}
}
