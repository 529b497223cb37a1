// Command cpeer is the child binary that bench.Main builds and runs to
// measure a C allocator: glibc by default, jemalloc or mimalloc with that
// build tag. It writes JSON lines; see bench.ChildMain.
//
//	go build -tags jemalloc -o /tmp/cpeer ./bench/cpeer/cmd/cpeer && /tmp/cpeer -run pair
package main

import (
	"os"

	"github.com/offheap/offheap/bench"
	"github.com/offheap/offheap/bench/cpeer"
)

func main() {
	peers, err := cpeer.Peers()
	os.Exit(bench.ChildMain(os.Args[1:], peers, err))
}
