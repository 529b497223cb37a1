// Command peers is bench.Main under another name, as "offheap bench" is:
// it compares offheap with Go's heap, glibc, jemalloc and mimalloc and
// prints the tables (run -h for the flags, -list for the workloads).
//
//	go run ./bench/cmd/peers [-count 5] [-benchtime 100ms] [-run regexp] [-peers list] [-json file] [-csv file] [-plot file]
package main

import (
	"os"

	"github.com/offheap/offheap/bench"
)

func main() {
	os.Exit(bench.Main("go run ./bench/cmd/peers", os.Args[1:]))
}
