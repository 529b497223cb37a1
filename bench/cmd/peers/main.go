// Command peers compares offheap with Go's heap, glibc, jemalloc and
// mimalloc on issue 3's workloads and prints the table; see bench.Main.
//
//	go run ./bench/cmd/peers [-count 5] [-benchtime 100ms] [-run regexp] [-peers list] [-json file]
package main

import (
	"os"

	"github.com/offheap/offheap/bench"
)

func main() {
	os.Exit(bench.Main("go run ./bench/cmd/peers", os.Args[1:]))
}
