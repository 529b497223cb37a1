package creplay_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offheap/offheap/internal/creplay"
	"github.com/offheap/offheap/internal/replay"
)

// TestReplayHeapDestroy: glibc has no private heaps, so the replay of a
// destroy frees the heap's live blocks; a heap left live keeps them.
func TestReplayHeapDestroy(t *testing.T) {
	const blocks, size = 1000, 1000
	for _, destroy := range []bool{true, false} {
		var b strings.Builder
		b.WriteString("1 h 3\n1 h 4\n")
		for i := 1; i <= blocks; i++ {
			fmt.Fprintf(&b, "1 m %d %d @3\n", i, size)
		}
		// Blocks freed one by one, reallocated, of another heap, and of
		// the process heap do not go with heap 3.
		fmt.Fprintf(&b, "1 f 1\n1 r 2 %d %d @3\n1 m %d 64 @4\n1 m %d 64\n", blocks+1, 2*size, blocks+2, blocks+3)
		if destroy {
			b.WriteString("1 d 3\n")
		}
		path := filepath.Join(t.TempDir(), "heaps.trace")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		tr, err := replay.Load(path, false)
		if err != nil {
			t.Fatal(err)
		}
		if want := blocks - 2 + 1; destroy && len(tr.Ended) != want {
			t.Fatalf("the destroy ends %d blocks, want %d", len(tr.Ended), want)
		}
		before := creplay.InUse()
		if failed := creplay.Replay(tr, false); failed != 0 {
			t.Fatalf("%d allocations failed", failed)
		}
		grew := creplay.InUse() - before
		t.Logf("destroy %v: glibc holds %d more bytes in use", destroy, grew)
		switch {
		case destroy && (grew < 2*64 || grew > 64<<10):
			// glibc counts the chunks in its tcache as in use: 7 of
			// each size, 7 KiB here.
			t.Errorf("after the destroy glibc holds %d more bytes in use, want those of the two 64-byte blocks and its tcache's", grew)
		case !destroy && grew < (blocks-1)*size:
			t.Errorf("without the destroy glibc holds %d more bytes in use, want the heap's %d blocks", grew, blocks-1)
		}
	}
}
