// Package bench measures offheap against its peers: Go's own heap,
// modernc.org/memory (a pure-Go allocator), and C allocators (glibc,
// jemalloc, mimalloc) reached through cgo or running the same loop
// natively, on workloads whose rules others wrote: glibc's benchtests and
// mimalloc-bench, re-specified here, plus large blocks under several
// mmap-threshold settings, a GC-pressure cache, a churn of millions of
// live values, and the first malloc of a process. It holds the workloads,
// the peers written in Go, the measuring harness, the runner that runs
// every measurement in a child process, and the tables.
//
// Run the default set (a few minutes) with the offheap command, from the
// module:
//
//	go run ./cmd/offheap bench                 # -h for the flags, -list for the workloads
//	go run ./cmd/offheap bench -run 'larson|rptest' -peers offheap,glibc-cgo -count 9 -csv out.csv -plot out.svg
//
// or one peer family as Go benchmarks:
//
//	go test -run '^$' -bench . ./bench                  # offheap and Go's heap
//	go test -run '^$' -bench . ./bench/cpeer            # glibc through cgo and native
//	go test -run '^$' -bench . -tags jemalloc ./bench/cpeer
//
// # Peers
//
//   - offheap: alloc.Malloc, alloc.Free and alloc.Realloc, called from Go.
//   - go-heap: make([]byte, n), kept reachable in a ring of the 64 most
//     recent blocks so it is really allocated; the collector's work is
//     paid as it falls (assists, background workers on idle Ps).
//   - modernc-memory: modernc.org/memory v1.13.0, one Allocator for the
//     process shared by every worker behind a sync.Mutex, as its users
//     share it (Lock, UnsafeMalloc, Unlock). It is measured by the child
//     binary of bench/modernc, a module of its own, so that this module
//     does not require modernc.org/memory; when the go command cannot
//     build it (no module proxy, the module not in the cache), Run skips
//     the peer and says why.
//   - <lib>-cgo: C malloc and free through cgo, one crossing per call.
//   - <lib>-native: the same loop written in C (bench/cpeer/native.c and
//     workloads.c), entered once per Run: the floor a C program sees.
//
// The C peers live in bench/cpeer, a cgo package, for two reasons. Linking
// -ljemalloc or -lmimalloc replaces malloc for the whole process, so each C
// allocator needs a binary of its own (build tags jemalloc, mimalloc;
// glibc without a tag). And a binary that links C makes offheap leave the
// program break to glibc (brk.Default turns to a reserved stand-in), so
// offheap is measured only in pure Go binaries, on the real break
// (TestPureGo checks; the offheap peer's About names its break).
//
// Run measures every workload on every peer in a child process of its own
// that it builds with the go command: bench/cmd/gopeer (without cgo) for
// offheap and Go's heap, bench/modernc (without cgo, in that module) for
// modernc.org/memory, bench/cpeer/cmd/cpeer with each installed C
// allocator's tag (and, with the C compiler, the first-malloc program
// bench/cpeer/firstmalloc for each). A crash or a hang of an allocator
// then ends only that measurement, which is recorded as failed, and one
// workload's heap does not inflate the next one's memory figures.
//
// # Workloads
//
// Each workload's file says what it reproduces and where its rules come
// from (WorkloadsFor lists them; -list prints them):
//
//   - malloc-simple/<size>/<n> (simple.go): glibc's bench-malloc-simple.
//   - thread-shape, thread-shape-par: glibc's bench-malloc-thread on one
//     thread and on every P (the Mixed kind in peer.go).
//   - larson, xmalloc-test, alloc-test(-par), rptest, mstress,
//     cache-scratch(-par) (larson.go, xmalloc.go, alloctest.go, rptest.go,
//     mstress.go, scratch.go): mimalloc-bench's workloads of those names.
//   - large/dynamic, large/pinned, large/tuned: 8 live blocks of 200 KiB-8
//     MiB with glibc's dynamic mmap threshold, with it pinned at 128 KiB,
//     and tuned (OFFHEAP for offheap, GLIBC_TUNABLES for glibc).
//   - gc-cache/<N>M/<min>-<max> (gccache.go): the GC-pressure cache.
//   - churn/5M/64-256 (churn.go): 5 million live values replaced at
//     random, the timed run at least one turnover so that Go's heap
//     collects in it (issue 11, target 5).
//   - first-malloc (first.go): the first malloc(16) of a fresh process,
//     one sample per child process (issue 11, target 8).
//   - heap-destroy, heap-destroy/free (heapjob.go): issue 14's jobs of
//     100,000 blocks, each dropped whole by the peer's own means (offheap's
//     private heaps, Go's collector, mimalloc's and jemalloc's heaps,
//     modernc's Close; glibc frees each block), and offheap's process heap
//     freeing each block.
//   - pair/N, random-live, *-par, prodcons/64: issue 3's fast-path suite.
//
// An operation is one malloc and its eventual free in every workload but
// the GC-pressure cache, whose operation is a request, the churn, whose
// operation is a replacement (a free and a malloc), first-malloc, whose
// operation is the one call, and heap-destroy, whose operation is a block
// (its malloc and its share of its job's drop); ns/op is wall time over
// all threads together. The C loops (bench/cpeer) follow the Go loops statement for
// statement, with the same generators and tables, so every peer runs the
// same sequence of sizes and slots.
//
// # Figures
//
// For each sample Measure records wall ns per operation, the process's
// CPU time, minor faults (getrusage), the Go collector's cycles and CPU
// time (runtime/metrics), peak resident memory (VmHWM, reset when the
// measurement starts), resident memory at the end of the timed run and
// after everything was freed, and offheap's own memory system calls. A
// last pass runs each workload once more under ptrace, with a seccomp
// filter that stops only brk, mmap, munmap, mremap, madvise and mprotect,
// to count every peer's memory system calls alike (trace_linux.go). The
// tables show medians over the repetitions and each peer's ratio to
// offheap; -json, -csv and -plot write them for machines and people.
//
// # Building on it
//
// A new workload is a Kind with a Go loop (NewGoWorkerFunc) and, for the
// native peers, a C loop (bench/cpeer); a new allocator driven from Go is
// an Allocator wrapped by GoPeer; a figure is a field of Sample. Run
// returns a Report (JSON-ready) that another front end can print or plot;
// Main is the command-line front end, and bench/chart (a module of its
// own, so the library needs no plotting library) draws the chart.
package bench
