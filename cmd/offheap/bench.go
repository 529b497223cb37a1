package main

import (
	"os"

	"github.com/offheap/offheap/bench"
)

func init() {
	register("bench", "compare offheap with Go's heap, modernc.org/memory, glibc, jemalloc and mimalloc on published workloads, GC pressure, churn, large blocks and the first call", runBench)
}

// runBench is bench.Main, which prints its own errors: its exit status is
// passed on as is.
func runBench(args []string) error {
	if code := bench.Main("offheap bench", args); code != 0 {
		os.Exit(code)
	}
	return nil
}
