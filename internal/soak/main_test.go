package main

import (
	"os"
	"testing"
	"time"
)

// TestSoakShort runs the soak for two seconds with a small table, so that
// the program keeps working between real soak runs (scripts/soak.sh). It
// asserts what the real run asserts: every pattern intact, Check nil, RSS
// back near the start after Trim(0), private heaps made and destroyed
// alongside.
func TestSoakShort(t *testing.T) {
	d := 2 * time.Second
	if testing.Short() {
		d = 500 * time.Millisecond
	}
	res, err := run(config{duration: d, slots: 256, check: 500 * time.Millisecond,
		sample: 250 * time.Millisecond, maxBlock: 1 << 20, heapBlocks: 1000}, os.Stdout)
	t.Log(res)
	if err != nil {
		t.Fatal(err)
	}
	if res.ops == 0 || res.checks < 2 || res.heaps == 0 || res.heapOps == 0 {
		t.Fatalf("the load did not run: %d operations, %d Checks, %d private heaps (%d operations)", res.ops, res.checks, res.heaps, res.heapOps)
	}
}
