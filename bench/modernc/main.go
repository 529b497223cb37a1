// Command modernc is the child binary that bench.Run builds (without cgo)
// and runs to measure modernc.org/memory, the pure-Go allocator under
// modernc.org/sqlite and modernc.org/libc, as the peer "modernc-memory".
// It is a module of its own so that the offheap library's go.mod keeps
// only golang.org/x/sys and github.com/google/pprof; the runner builds it
// with the go command in this directory, and when that fails (no module
// proxy and modernc.org/memory not in the module cache, say) the report
// lists the peer as skipped with the reason. It writes JSON lines; see
// bench.ChildMain.
//
//	go -C bench/modernc build -o /tmp/modernc . && /tmp/modernc -run pair/64
//	go -C bench/modernc test .
package main

import (
	"os"

	"github.com/offheap/offheap/bench"
)

func main() {
	os.Exit(bench.ChildMain(os.Args[1:], []bench.Peer{Peer()}, nil))
}
