// Package alloc is offheap's public API: malloc, free and friends for Go
// programs, over memory outside the Go garbage-collected heap, with glibc
// 2.36's semantics (ptmalloc) and its tuning knobs.
//
// # What it promises
//
//   - Malloc, Calloc, Realloc, AlignedAlloc, Free and UsableSize behave as
//     glibc's malloc, calloc, realloc, aligned_alloc, free and
//     malloc_usable_size on x86_64: 16-byte alignment, an 8-byte header,
//     32-byte minimum chunks, requests at or above the mmap threshold on
//     their own mapping with glibc's dynamic threshold, the top trimmed back
//     to the OS. Mallopt, Mallinfo2 and Trim mirror mallopt, mallinfo2 and
//     malloc_trim; Check walks every structure and names the first broken
//     invariant.
//   - Every function may be called from any goroutine, and memory
//     allocated on one goroutine may be freed on another.
//   - The memory is invisible to the garbage collector: it is never moved or
//     scanned, and never freed until Free. It must not hold Go pointers:
//     the collector does not see them there, frees what they point to, and
//     the program later reads garbage. The generic helpers (New, MakeSlice)
//     refuse types that contain pointers; for raw memory this is the
//     caller's duty (GOEXPERIMENT=cgocheck2 catches a violation in tests).
//   - Bad pointers passed to Free or Realloc, double frees and corrupted
//     headers panic with glibc's message and the address, as an
//     *arena.CorruptionError, after releasing every lock: a program that
//     recovers can go on allocating.
//
// # Design
//
// One overview; each file holds one component.
//
//   - brk.Break: the program break (or, when C code shares the process, a
//     reserved range standing in for it): the main arena's heap.
//   - mmapper: mappings for other arenas' heaps and for large chunks.
//   - arena.Heap: arenas with bins, fastbins, the top chunk, trimming, and
//     the mapped chunks (package arena).
//   - the per-P cache (cache.go) and the fast paths (fast.go), as glibc's
//     tcache; the arena lists (remote.go), where caches give back and take
//     whole batches of chunks without a lock.
//   - tune: parameters from Mallopt and the environment (heap.go applies them).
//   - the heap profile: sampling on by default at Go's 512 KiB rate
//     (sample.go), stacks from the frame pointers (stack.go), buckets and
//     the table of sampled blocks without a global lock (samplebucket.go,
//     sampletable.go), the pprof writer (profile.go).
//   - private heaps (privheap.go): a Heap of its own with per-P caches of
//     its own, destroyed whole.
//
// Allocation (Malloc):
//
//  1. A request up to M_TCACHE_MAX (64 KiB by default) takes a chunk of its
//     size class from the calling P's cache. Malloc is go:nosplit (on
//     amd64 assembly, fast_malloc_amd64.s, as Free's fast path is,
//     fast_free_amd64.s): it cannot be preempted, so it
//     reads its P's id (getPid) and pops the chunk with no pin, no lock
//     and no atomic read-modify-write (fast.go).
//     A class of 1 KiB or less holds up to tcache_count chunks (64); a
//     class above holds up to 128 KiB of chunks (two at least, tcache_count
//     at most): full, a P's classes of 1 KiB or less hold 2.1 MiB (and
//     its foreign classes as much again: cache.go), those above 3.7 MiB. A
//     class of 1 KiB or less whose chunks go to the arena and straight
//     back doubles its limit, to 512 KiB of chunks, while the P's classes
//     grow by tcache_grow (2 MiB) at most (grow.go). A P idle for 250 ms
//     gives its cache back, Trim gives back every cache, and before an
//     arena grows, the calling P gives back its chunks above 1 KiB of that
//     arena and those of its grown classes, which go back to tcache_count
//     (growhook.go).
//  2. An empty class takes a batch off its arena's list (chunks other
//     caches gave back), or a batch carved from one free chunk of the P's
//     arena under its lock (MallocBatchLocked). The first P to allocate
//     takes the main arena (the program break), and so does a P whose
//     first allocation comes from the goroutine that used the main arena
//     last (one that migrated); a P first used by another goroutine takes
//     an arena of its own, as glibc gives each new thread one, and a P
//     whose arena is busy and shared, or that takes turns on it with
//     another P, moves to one, while fewer than M_ARENA_MAX exist (by
//     default one per P).
//  3. Larger requests go to the arena: exact small bins, the unsorted list,
//     sorted large bins, the binmap, the top; when the top cannot serve,
//     either a mapping of its own (at or above the mmap threshold) or growth
//     of the break or heap by the request plus M_TOP_PAD.
//
// Free:
//
//  1. The pointer is checked without trusting it and from its own cache
//     line: it must lie in a region offheap owns, carry a header whose tag
//     matches its address and size and that says it is in use (the arena
//     marks free chunks with the A bit and spoils the header of a chunk
//     merged away), and not carry the cache key (a double free). The checks
//     of the next chunk's header wait for the chunk to leave the cache, or
//     run at once with harden=1 (SECURITY.md).
//  2. A chunk of a cached size goes to the calling P's cache; a full class
//     first sends half its chunks, as one batch, to their arena's list.
//  3. Other chunks go back to the arena that owns them (found from the
//     address), coalesce with free neighbours, and a top above
//     M_TRIM_THRESHOLD is trimmed; a mapped chunk is unmapped and may raise
//     the dynamic threshold. A private heap's block goes to its heap.
//
// Giving memory back (tune.Decay, OFFHEAP=decay=1s): by default as glibc,
// at once. With decay, what step 3 would give back (and the free pages
// inside the heaps, and the mappings of freed mapped chunks) is kept for
// reuse and given back by a timer once it has stayed unused that long;
// Trim gives everything back at once (arena/decay.go). Huge pages
// (tune.HugeTLB, glibc.malloc.hugetlb): 1 advises the heaps and large
// mapped chunks for transparent huge pages and moves the heaps' ends in
// whole huge pages; 2 takes large chunks from the system's pool of huge
// pages, falling back to 1 when it is empty (huge.go). Populate
// (tune.Populate, on by default): an arena holding 1 MiB or more, in a
// heap of one arena, faults in the pages each growth adds beyond the
// request, up to top_pad, with one madvise(MADV_POPULATE_WRITE) rather
// than a fault a page.
//
// The environment (OFFHEAP, GLIBC_TUNABLES, MALLOC_*) is read once, at the
// first call; see package tune.
package alloc
