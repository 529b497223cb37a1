// Package tracefmt is the format of offheap's allocation traces: a writer
// for the compact binary format that alloc.StartTrace records, and a reader
// for it and for the text traces of /work/shared/traces (one malloc-family
// call per line, usually gzipped), so that every tool takes either.
//
// A trace is a sequence of [Event]s in the order the calls happened. Blocks
// are named by object ids, not addresses: ids number the successful
// allocations (Malloc, Calloc, Realloc, AlignedAlloc) from 1 in trace order,
// so the n-th allocation of a trace creates block n, and a Free or Realloc
// names the live block it ends. A Realloc always creates a new id, whether
// or not the block moved.
//
// # Private heaps
//
// Besides the process heap (heap 0), a program may allocate in private
// heaps (alloc.NewHeap), which it destroys with all their blocks at once.
// A trace names them by a number other than 0 (offheap writes the heap's
// ID): a HeapCreate event makes heap h live, an allocation names the heap
// it is made in (a Realloc's is its old block's: a block never changes
// heaps), a Free needs no heap (its block names it), and a HeapDestroy
// ends heap h and every block of it still live, as if each were freed
// there ([Reader.Ended] lists them). A number may be created again once
// destroyed. An allocation in a heap that is not live, a destruction of a
// heap that is not, and a free or realloc of a block whose heap was
// destroyed are errors, as a free of a freed block is.
//
// # Binary format, version 2
//
// All integers are unsigned LEB128 varints (encoding/binary's Uvarint)
// unless said otherwise.
//
//	file    = header { block } end
//	header  = magic version flags start tick hcrc
//	magic   = "offheap-trace\n"           14 bytes
//	version = varint                      2 (1: without private heaps)
//	flags   = varint                      bit 0: records carry a timestamp
//	start   = 8 bytes, little endian      Unix time of the start, nanoseconds
//	tick    = varint                      nanoseconds per timestamp unit
//	hcrc    = 4 bytes, little endian      CRC-32 (IEEE) of the header's bytes before it
//
//	block   = kind length crc payload
//	kind    = 1 byte                      'B' (records) or 'E' (end)
//	length  = varint                      bytes of payload, at most 1 MiB
//	crc     = 4 bytes, little endian      CRC-32 (IEEE) of payload
//
//	'B' payload = seq0 time0 id0 count { record }   (count records)
//	'E' payload = records allocs dropped
//
//	record  = op seqgap [ time ] thread [ heap ] args
//	op      = 1 byte: 1 malloc, 2 calloc, 3 realloc, 4 aligned alloc, 5 free,
//	          6 heap creation, 7 heap destruction; 0x11 to 0x14: malloc,
//	          calloc, realloc, aligned alloc in a private heap
//	seqgap  = varint: seq - (previous seq + 1); the first record of a block
//	          has seq seq0 + seqgap
//	time    = varint, if flags bit 0: ticks since the previous record (the
//	          first: since time0, which counts ticks since start)
//	thread  = varint: the recording thread (offheap writes its P number)
//	heap    = varint, ops 6, 7 and 0x11 to 0x14 only: the private heap,
//	          1 to 2^32-1 (ops 1 to 4 allocate in the process heap)
//	args    = malloc: size
//	          calloc: count size           (count elements of size bytes)
//	          realloc: oldref size         (size in bytes)
//	          aligned: alignment size
//	          free: ref
//	          heap creation, destruction: none
//
// A block is self-contained: it names the sequence number, the timestamp and
// the next object id at its start (id0), and every allocation in it takes
// the next id. A free names its block by ref = next id - id (1 is the newest
// block), so short-lived blocks cost one byte; a realloc's oldref is 0 for
// realloc(NULL, size), which offheap never writes (it records the Malloc it
// is). Sequence numbers rise strictly; they are the recorder's global
// counter and may skip (offheap's realloc takes two numbers, and a free of a
// block allocated before the trace started is left out). The end block
// repeats the number of records and allocations, so a missing block is
// noticed, and counts the frees and reallocs that were dropped because
// their block predates the trace.
//
// The end block's record count counts the heap events too. Version 1 is
// version 2 without ops 6, 7 and 0x11 to 0x14: every version 1 trace is
// read as the version 2 trace it would be, its allocations all in the
// process heap. The Writer writes version 2; the blocks of a trace of the
// process heap alone are the same bytes as in version 1.
//
// A reader checks everything: the magic and version, each block's length
// and checksum, that records decode and fill their block exactly, that
// sequence numbers rise, that every free or realloc names a live block and
// every allocation a live heap, and the end block's totals. Its errors are [*Error]s naming the byte offset
// (and the record). A file that ends cleanly after a block but without the
// end block (a recording process that never called StopTrace) gives
// [ErrUnterminated] after the last event; a tool may accept such a trace
// for what it holds.
//
// # Text format
//
// One call per line, fields separated by one space (the traces captured by
// interposing glibc's malloc):
//
//	<thread> m <id> <size>              malloc(size) returned block id
//	<thread> c <id> <nmemb> <size>      calloc(nmemb, size)
//	<thread> r <oldid> <newid> <size>   realloc(old, size); oldid 0 = realloc(NULL, ...);
//	                                    newid 0 = NULL returned (size 0 frees the block)
//	<thread> a <id> <align> <size>      memalign / aligned_alloc / posix_memalign / valloc
//	<thread> f <id>                     free(block)
//	<thread> h <heap>                   private heap created (heap >= 1)
//	<thread> d <heap>                   private heap destroyed, with its live blocks
//
// An allocation line (m, c, r, a) made in a private heap ends with one more
// field, @<heap> ("1 m 7 48 @3": malloc(48) in heap 3 returned block 7);
// without it the allocation is in the process heap. A realloc's heap is its
// old block's, and must be written so. The traces captured from C programs
// have neither heap lines nor heap fields.
//
// The reader turns realloc(NULL, size) into a Malloc event, realloc(p, 0)
// returning NULL into a Free, and drops a failed realloc (which changes
// nothing); it checks that ids number the allocations from 1, that frees
// and reallocs name live blocks and allocations live heaps. Either format
// may be gzipped.
package tracefmt
