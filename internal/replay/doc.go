// Package replay replays allocation traces (package alloc/tracefmt, binary
// or text) against an allocator and measures what it costs: the time of
// the replay, the memory system calls, the page faults, the peak resident
// set and the resident set at the end. It also holds the logic of the
// offheap command's tune and trace-stats subcommands.
//
// # Targets
//
//   - "offheap": alloc.Malloc, Calloc, Realloc, AlignedAlloc and Free, with
//     whatever OFFHEAP (or GLIBC_TUNABLES, MALLOC_*) settings the child's
//     environment holds; a trace's private heaps with alloc.NewHeap, the
//     Heap's Malloc, Calloc, Realloc and Free, and Destroy (a Heap has no
//     aligned allocation: one in a private heap takes size+alignment-16
//     bytes from it).
//   - "go": Go's heap, make([]byte, n) and dropping the reference to free;
//     a heap's destroy drops its live blocks.
//   - "glibc": glibc's malloc through cgo; the whole replay loop runs in C
//     (one cgo call), so glibc itself is measured, not the crossings. It
//     runs in a binary of its own (internal/creplay/cmd/creplay), built
//     with the go command on demand, because a binary that links C makes
//     offheap leave the program break to glibc. glibc has no private
//     heaps: their blocks come from the process heap, and a destroy frees
//     the heap's live blocks one by one.
//
// The loader (Load) numbers a trace's private heaps in the order it
// creates them and lists, for each destroy, the blocks it ends (the
// trace reader's Ended), so the replay loops do no bookkeeping of their
// own.
//
// Every replay runs in a child process: offheap's settings are
// process-wide (and its dynamic mmap threshold, once raised, stays
// raised), and a fresh process gives each allocator the same clean start
// and its own resident set. The child loads the trace, resets its peak
// RSS (/proc/self/clear_refs), replays every call in order on one
// goroutine, touching one byte of every page of every block it gets (as
// a program using its memory would), and reports a Result as JSON.
//
// # Counting system calls
//
// For offheap the counters of packages brk and mmapper give the memory
// system calls exactly. For the other targets the parent runs the child a
// second time under ptrace and counts brk, mmap, munmap, mremap, madvise
// and mprotect between two marker calls the child makes around the replay
// (getpgid of a pid that does not exist). The first run gives the time,
// faults and RSS, which ptrace would distort. Where ptrace is not
// permitted the count is reported as unknown.
package replay
