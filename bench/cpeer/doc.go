// Package cpeer holds the C peers of package bench: a C allocator reached
// through cgo, one crossing per malloc and one per free ("<lib>-cgo"), and
// the same workloads written in C and run natively ("<lib>-native", the
// floor a Go program cannot reach through cgo).
//
// Which C allocator serves them is chosen at build time, because linking
// -ljemalloc or -lmimalloc replaces malloc for the whole process:
//
//	go test -bench . ./bench/cpeer                 # glibc's malloc
//	go test -bench . -tags jemalloc ./bench/cpeer  # jemalloc (libjemalloc-dev)
//	go test -bench . -tags mimalloc ./bench/cpeer  # mimalloc (libmimalloc-dev)
//
// Without the library installed a tagged build fails at link time; the
// runner (bench.Main) looks for the library first and skips the peer with
// a message saying what to install. Each binary checks at start that its
// malloc really is the allocator it names (Identify).
//
// The package uses cgo and is kept apart from package bench on purpose: in
// a binary that links C, offheap must leave the program break to glibc and
// run on its reserved stand-in, so offheap itself is measured only in the
// pure Go package bench.
package cpeer
