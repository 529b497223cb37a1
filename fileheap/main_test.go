package fileheap_test

import (
	"fmt"
	"os"
	"testing"
)

// The tests that need other processes run this test binary again with
// FILEHEAP_CHILD naming what the child does (children_test.go).
func TestMain(m *testing.M) {
	child := os.Getenv("FILEHEAP_CHILD")
	if child == "" {
		os.Exit(m.Run())
	}
	f := children[child]
	if f == nil {
		fmt.Fprintf(os.Stderr, "unknown FILEHEAP_CHILD %q\n", child)
		os.Exit(2)
	}
	if err := f(); err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", child, err)
		os.Exit(1)
	}
	os.Exit(0)
}
