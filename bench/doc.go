// Package bench measures offheap against its peers: Go's own heap, and C
// allocators (glibc, jemalloc, mimalloc) reached through cgo or running the
// same loop natively. It holds the workloads, the peers written in Go, the
// measuring harness and the runner that prints the comparison table.
//
// Run everything with one command, from the module:
//
//	go run ./bench/cmd/peers              # or: -count 10 -benchtime 200ms -run pair -peers offheap,glibc-cgo
//
// or one peer family as Go benchmarks:
//
//	go test -run '^$' -bench . ./bench                  # offheap and Go's heap
//	go test -run '^$' -bench . ./bench/cpeer            # glibc through cgo and native
//	go test -run '^$' -bench . -tags jemalloc ./bench/cpeer
//
// # Peers
//
//   - offheap: alloc.Malloc and alloc.Free, called from Go.
//   - go-heap: make([]byte, n), kept reachable in a ring of the 64 most
//     recent blocks so it is really allocated; the collector's work is
//     paid as it falls (assists, background workers on idle Ps).
//   - <lib>-cgo: C malloc and free through cgo, one crossing per call.
//   - <lib>-native: the same loop written in C (bench/cpeer/native.c),
//     entered once per 1,024 operations: the floor a C program sees.
//
// The C peers live in bench/cpeer, a cgo package, for two reasons. Linking
// -ljemalloc or -lmimalloc replaces malloc for the whole process, so each C
// allocator needs a binary of its own (build tags jemalloc, mimalloc;
// glibc without a tag). And a binary that links C makes offheap leave the
// program break to glibc (brk.Default turns to a reserved stand-in), so
// offheap is measured only in pure Go binaries, on the real break
// (TestPureGo checks; the offheap peer's About names its break).
//
// Run measures every family of peers in a child process that it builds
// with the go command: bench/cmd/gopeer (without cgo) for offheap and Go's
// heap, bench/cpeer/cmd/cpeer with each installed C allocator's tag. A
// crash or a hang of an allocator then ends only its child: the workload
// it was running is recorded as failed, and the run goes on.
//
// # Workloads
//
// An operation is always one malloc and one free, and the first byte of
// every block is written, so ns/op is ns per pair in every workload (see
// Workloads for the list):
//
//   - pair/N: malloc(N), write, free, for N in 16, 64, 256, 1024, 4096,
//     65536: the fast path.
//   - random-live: 1,000 live blocks of 16-1024 bytes (uniform); each
//     operation frees the block of a pseudo-random slot and puts a new one
//     of a pseudo-random size there.
//   - thread-shape: the same loop with glibc benchtests/bench-malloc-thread.c's
//     working set: 1,024 slots, inverse-square sizes on [4, 32768].
//   - <name>-par: the workload on every P at once (b.RunParallel), each
//     goroutine with its own live set; ns/op is wall time over all
//     operations, so the throughput of two goroutines is one's when ns/op
//     halves.
//   - prodcons/64: one goroutine allocates and passes the blocks through a
//     lock-free single-producer single-consumer ring (Ring) to a second,
//     which frees them; compare with pair/64 on one goroutine.
//
// # Figures
//
// For each sample Measure records wall ns per pair, the allocator's memory
// system calls (offheap only: brk.ReadCounters and mmapper.ReadCounters;
// the C peers are not counted, Go's heap neither), the process's minor
// faults (getrusage), and the Go collector's cycles and CPU time
// (runtime/metrics). The table shows medians over the repetitions and each
// peer's ratio to offheap, and checks issue 3's targets (Report.Targets).
//
// # Building on it
//
// A new workload is a Kind with a Go loop (NewGoWorker) and, for the native
// peers, a C loop (bench/cpeer); a new allocator driven from Go is an
// Allocator wrapped by GoPeer; a figure is a field of Sample. Run returns a
// Report (JSON-ready) that another front end (cmd/offheap) can print or
// plot; Main is the command-line front end.
package bench
