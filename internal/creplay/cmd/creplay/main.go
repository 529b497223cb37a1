// Command creplay is the child binary in which internal/replay replays a
// trace against glibc's malloc (target "glibc"). It is built and run by
// the offheap command's replay subcommand; run by hand it does nothing.
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/offheap/offheap/internal/creplay"
	"github.com/offheap/offheap/internal/replay"
)

// The replay runs on the main thread, so glibc serves it from its main
// arena (the program break), as it would a single-threaded C program;
// from another thread it would use a mapped arena of its own.
func init() { runtime.LockOSThread() }

func main() {
	replay.RegisterTarget("glibc", creplay.Replay)
	replay.MaybeChild()
	fmt.Fprintln(os.Stderr, "creplay: the child of `offheap replay`; it does nothing on its own")
	os.Exit(2)
}
