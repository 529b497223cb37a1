// Command gopeer is the child binary that bench.Run builds (without cgo)
// and runs to measure offheap, Go's heap and fileheap, so that offheap
// runs on the real program break and a crash in it ends only this process.
// It writes JSON lines; see bench.ChildMain.
//
//	go build -o /tmp/gopeer ./bench/cmd/gopeer && /tmp/gopeer -run pair/64 -peers offheap
package main

import (
	"os"

	"github.com/offheap/offheap/bench"
)

func main() {
	os.Exit(bench.ChildMain(os.Args[1:], []bench.Peer{bench.OffheapPeer(), bench.GoHeapPeer(), bench.FileHeapPeer()}, nil))
}
