package fileheap_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/offheap/offheap/fileheap"
)

// gibHeap makes a heap whose file has grown to 1 GiB (16,384 blocks of 64
// KiB, written only at their headers: the file is sparse) and returns its
// path, and the header as it was in the middle of a Free of one of the
// blocks, with the journal holding the words the Free had changed.
func gibHeap(b *testing.B) (path string, midFree []byte) {
	b.Helper()
	path = filepath.Join(b.TempDir(), "heap")
	h, err := fileheap.Open(path, fileheap.Options{Size: 2 << 30})
	if err != nil {
		b.Fatal(err)
	}
	var offs []fileheap.Offset
	for st := stats(b, h); st.FileSize < 1<<30; st = stats(b, h) {
		for i := 0; i < 1024; i++ {
			off, err := h.Alloc(64 << 10)
			if err != nil {
				b.Fatal(err)
			}
			offs = append(offs, off)
		}
	}
	fileheap.SetStoreHook(func(x *fileheap.Heap) {
		if x == h && x.Word(fileheap.OffJCount) > 0 {
			midFree = x.Header()
		}
	})
	if err := h.Free(offs[len(offs)/2]); err != nil { // between two blocks in use: no coalescing
		b.Fatal(err)
	}
	fileheap.SetStoreHook(nil)
	if err := h.Close(); err != nil {
		b.Fatal(err)
	}
	if midFree == nil {
		b.Fatal("no journaled store in Free")
	}
	return path, midFree
}

// BenchmarkOpen is issue 15's target 3: Open of a 1 GiB heap closed
// cleanly (at most 1 ms), and of one whose last lock owner died in the
// middle of a Free (at most 1 s): the journal is undone, no walk. Close is
// not timed.
func BenchmarkOpen(b *testing.B) {
	path, midFree := gibHeap(b)
	b.Run("clean-1GiB", func(b *testing.B) {
		for b.Loop() {
			h, err := fileheap.Open(path, fileheap.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			h.Close()
			b.StartTimer()
		}
	})
	b.Run("unclean-1GiB", func(b *testing.B) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		for b.Loop() {
			b.StopTimer()
			if _, err := f.WriteAt(midFree, 0); err != nil { // the lock held by a dead process, mid-Free
				b.Fatal(err)
			}
			b.StartTimer()
			h, err := fileheap.Open(path, fileheap.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if h.Recovered() != 1 {
				b.Fatalf("Open undid %d operations, want 1", h.Recovered())
			}
			h.Close()
			b.StartTimer()
		}
	})
}
