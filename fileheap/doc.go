// Package fileheap keeps a heap in a file: blocks allocated and freed as
// with malloc, shared by every process that opens the file, kept across
// restarts, and brought back to a consistent state by itself after a
// process is killed at any instruction (kill -9). It is for the caches a
// Go service would otherwise warm again for minutes after every restart,
// and for read-mostly data that worker processes would otherwise each copy
// (C programs have Boost.Interprocess's managed_mapped_file, LLNL's Metall
// and PMDK's libpmemobj for this).
//
//	h, err := fileheap.Open("/var/cache/app/heap", fileheap.Options{Size: 8 << 30})
//	off, err := h.Alloc(100)        // an Offset: the block's position in the file
//	copy(h.Bytes(off), value)       // the block's bytes, mapped
//	h.SetRoot(off)                  // one offset to find everything again
//	...
//	h, err = fileheap.Open(...)     // after a restart: h.Root() is off, the bytes are there
//
// Blocks hold bytes, never Go pointers (the collector does not see the
// file's memory); they link to each other by Offset. Nothing is written to
// the device until Sync (msync) or until the kernel writes the pages back:
// the heap survives its processes, whatever kills them, but not a crash of
// the machine. The kernel writes pages back in any order, so after such a
// crash the file may hold parts of several moments, even of moments after
// the last Sync: Open and Check find what that breaks of the heap's
// structure, not contents older than they should be. Sync right before a
// planned shutdown of the machine. (Surviving a machine crash would take ordered writes to the device,
// a write-ahead log synced at each operation, which costs milliseconds an
// operation: not this package's trade.)
//
// # Design
//
// One overview, the files one idea each:
//
//   - format.go: the file: a 16 KiB header (magic, version, checksum of the
//     fixed fields, lock word, journal, sizes, root, counters, quick lists,
//     bins, client slots), then chunks up to the file's end.
//   - chunk.go: glibc's chunks: an 8-byte size word before each block,
//     16-byte alignment, the P bit, boundary tags (the foot) on free chunks,
//     coalescing, a top chunk at the end of the used part, and a 16-bit tag
//     in every size word that binds it to its offset.
//   - malloc.go: Alloc, Free, Realloc, their fast paths, and the frame of
//     a slow operation (commit, work after it, unwinding on a panic).
//   - quick.go: the quick lists, exact sizes and classes; bins.go: the
//     bins; top.go: the top chunk, growing and cutting the file, punching
//     holes; chunks.go: serving and freeing chunks on the slow paths, and
//     the checks every chunk, link and offset passes before it is followed.
//   - journal.go: the undo log that makes every operation atomic.
//   - lock.go: the lock in the file, and taking it over from a dead process.
//   - heap.go: Open, Close, Sync, the root; check.go: Check and Stats.
//
// The design is glibc's, as package arena's is, but not arena's code:
// arena keeps its bins, top and locks in Go memory and links chunks by
// address, so its heaps cannot outlive a process nor be shared by two. A
// file heap needs every piece of its state in the file, and every change
// to it atomic against a kill; it is smaller (no arenas, no mapped chunks,
// one lock) and each change goes through the journal.
//
// Every piece of the heap's state is in the file, and every link in it
// (bins, quick lists, the journal's entries, the root, what applications
// store in blocks) is an offset from the file's start, not an address.
// That was chosen over mapping the file at one fixed address recorded in it
// (MAP_FIXED_NOREPLACE): an address that is free in one process can be
// taken in another (by the Go heap, a library, another file heap, address
// space randomization), and then that process could not open the heap at
// all; with offsets each process maps the file wherever the kernel puts it,
// and turning an offset into an address is one addition. The cost is that
// blocks cannot hold pointers to each other, only offsets, which they could
// not usefully do anyway for Go values.
//
// Open reserves address space for 8 times the heap's Size (at least 64
// GiB; PROT_NONE and MAP_NORESERVE, so it costs no memory) and maps the
// whole Size of the file at its start (MAP_SHARED), both through package
// mmapper, the only code making memory system calls. The file then grows
// under the mapping (ftruncate, in steps of an eighth of its length, 256
// KiB to 64 MiB) without mapping again; pages past the file's end are never
// touched. If another process raises the Size and grows the heap past what
// this one mapped, the mapping is extended inside the reservation when an
// operation meets the larger file; past the reservation the operation
// fails with ErrFull (reopen the heap).
//
// # Allocation
//
// Requests are rounded to chunks as glibc does (max(32, n+8 rounded up to
// 16)). A freed chunk of up to 16 KiB goes to a quick list (glibc's tcache
// and fastbins in one: singly linked, LIFO, not coalesced, the chunk marked
// by its Q bit): one list per exact size up to 1008 bytes (256 chunks at
// most), then one per class of the bins' spacing up to 16 KiB (eight per
// power of two; 512 KiB of chunks at most); Alloc takes from them first (a
// class list's first chunk if it fits, or the next class's). Those paths,
// the common case, take the lock with one compare-and-swap, journal two or
// three words, change them and release the lock with a plain store: no
// system call, no walk. Everything else goes to 360 bins (exact sizes below
// 1024 bytes, then eight per power of two, TLSF's spacing, with a bit map of
// the non-empty ones) with coalescing on free, then to the top, then to a
// bigger file. Before the file grows, the quick lists are emptied into the
// bins. When a free leaves the top larger than 1 MiB + 256 KiB, the file is
// cut to leave 256 KiB (as M_TRIM_THRESHOLD and M_TOP_PAD); a free chunk of
// 128 KiB or more has the whole pages inside it punched out of the file
// (fallocate(FALLOC_FL_PUNCH_HOLE)), so the file takes on the device about
// what its blocks hold. A mapped file that is sparse has one known hazard:
// writing to a hole when the device is full raises SIGBUS, as for any
// sparse file mapping.
//
// # Sharing and the lock
//
// Any number of processes and goroutines may use the heap at once. The
// lock is a futex word in the header: 0 when free, else the owner's slot
// number, the slot's generation and a contended bit. Taking it is one
// compare-and-swap; releasing it is a plain store (amd64 keeps stores in
// order, so that is a release), followed by a futex wake only when the
// contended bit says someone sleeps (a process stopped while it holds the
// lock, by SIGSTOP or a debugger, stops the others, as any lock would). A
// locker that finds it taken reads it
// again a hundred times, then yields for a few microseconds, then sleeps on
// the futex. Each open Heap takes a client slot at Open (128 of them),
// records its pid, its start time and the time in it, and holds an OFD
// write lock (fcntl F_OFD_SETLK) on the slot's first byte until Close. A
// sleeping locker asks, every 5 ms at most, whether the owner is alive: the
// kernel drops an OFD lock when the last descriptor of its open file is
// closed, which for a killed process happens once all its threads have
// stopped, so a free byte lock, or a slot taken again by another Heap (a new
// generation), means the owner is dead. This was chosen over kill(pid, 0)
// and /proc start times: a pid is reused, a zombie still answers, and the
// OFD lock is released by the kernel exactly when no thread of the process
// can write to the heap any more. The first locker to find the owner dead
// takes the word over with a compare-and-swap and undoes the owner's
// operation (below); the others go on waiting for it.
//
// # Crash consistency
//
// Every operation that changes the heap's structure does so under the lock
// and through the journal (journal.go), an undo log in the header: before a
// word is written, its offset and old value are appended, and the count
// that covers them is raised; the operation ends by setting the count to 0
// (its commit), then releases the lock. Stores reach memory in program
// order: the processor retires them in order, and a process killed by
// SIGKILL stops between two instructions with every earlier store in the
// shared page cache; the Go compiler keeps stores in order and only drops
// one that a later store to the same word overwrites with no load in
// between, which the code rules out (the slow paths journal through a call
// that is not inlined; the fast paths load the lock word before they reset
// the count). So the heap is always in one of these states:
//
//  1. Lock free, journal empty: consistent. A process that dies outside the
//     lock leaves nothing to repair.
//  2. Lock held by a live process: an operation is in flight; others wait.
//  3. Lock held by a dead process, journal empty: it died before its first
//     write or after its commit (cutting the file or punching holes in free
//     chunks, which come after the commit, may be undone or half done,
//     which is harmless: the file is never shorter than the header says).
//     The next locker takes the lock over; nothing to undo.
//  4. Lock held by a dead process, journal of n entries: it died in the
//     middle of an operation. The next locker (in another process that has
//     the heap open, or Open) writes the n old values back, last first,
//     which restores the heap as it was before the operation, then goes on.
//
// Recovery costs the journal, at most 63 words, plus the wait to notice
// the death (microseconds at Open): never a walk of the heap. So after a
// kill every block whose Alloc returned and whose Free had not started is
// allocated and intact; the block in flight is allocated if its Alloc (or
// Free) had committed, otherwise as before (free, or allocated but with
// its first 8 bytes overwritten by a quick list's link: a Free had begun);
// no block is handed out twice; Check passes. A Realloc that moves a block
// is one operation: the old block stays, or the new one holds the contents
// and the old one is free. Growing the file happens before the journaled
// writes that use the new space (an undone growth leaves a longer file,
// harmless); cutting it happens after the commit that shortens the heap.
//
// # The file format
//
// Version 1. All words are 8 bytes, little-endian (the byte order of amd64
// and arm64; the magic tells a file written by a big-endian machine), at
// fixed offsets from the start of the file:
//
//	offset  size   field
//	     0     8   magic "offheapF"
//	     8     4   format version (1)
//	    12     4   header size (16384): where the first chunk starts
//	    16     8   secret: the key of the chunk tags (random per file)
//	    24     8   creation time, Unix nanoseconds
//	    32     8   CRC-64 (ECMA) of bytes 0-31: the fields that never change
//	    64     4   the lock word (a futex): 0, or owner slot+1 | generation<<8 | contended<<31
//	   128     8   journal: number of entries
//	   144  1008   journal: 63 entries {offset of a word, its value before}
//	  1152     8   the Size: the most the file may grow to
//	  1160     8   the heap's length; the file is at least this long
//	  1168     8   offset of the top chunk, which ends at the heap's length
//	  1176     8   the root (Root, SetRoot)
//	  1184     8   chunks in use, the quick lists' included
//	  1192     8   their usable bytes
//	  1200     8   recoveries: operations of dead processes undone
//	  1208     8   bytes of the chunks in the class quick lists
//	  1280   768   quick lists: 96 words {count<<44 | offset of the first chunk>>4}, one per bin 2-95
//	  2048    48   bin map: one bit per non-empty bin
//	  2112  5760   bins: 360 list heads {fd, bk}
//	  8192  8192   client slots: 128 of 64 bytes {generation, state, pid, start time, opened}
//	 16384         the first chunk; chunks follow each other up to the heap's length
//
// A chunk is glibc's: an 8-byte word before it (the previous chunk's size
// when that one is free, its last bytes otherwise), then the size word:
// bits 4-47 the chunk's size (a multiple of 16, at least 32), bit 0 P (the
// previous chunk is in use), bit 1 Q (the chunk is in a quick list), bits
// 48-63 a tag, a hash of the chunk's offset, its size and the file's
// secret. The block (what Offset names) starts 16 bytes into the chunk and
// holds size-8 bytes, the last 8 of them the next chunk's first word. A
// free chunk in a bin holds the offsets of its neighbours in the bin where
// the block would start, and its size in the next chunk's first word (the
// foot), whose P bit is clear; a chunk in a quick list holds the offset of
// the next one of its list there. The top chunk ends at the heap's length.
//
// Open refuses, with an
// error wrapping ErrFormat, a file that is not a heap (no magic), of
// another version, truncated (shorter than its header says), or whose
// header is damaged (a checksum covers the fixed fields; the others are
// checked for range and against each other, and the journal's entries
// before anything is undone). Damage among the chunks is found by the
// operations that meet it (an error wrapping ErrCorrupt; they check every
// size word's tag and every link before following it) and by Check, which
// names the first broken invariant and its offset. A process killed while
// Open creates a new file leaves a file without magic, which Open refuses.
//
// # Speed
//
// See BenchmarkPair (go test -bench Pair ./fileheap) and the bench's
// fileheap peer (go run ./cmd/offheap bench -run '^pair/' -peers
// offheap,fileheap), which runs the same loop as alloc.Malloc's pair/N.
package fileheap
