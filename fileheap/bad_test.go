package fileheap_test

import (
	"encoding/binary"
	"errors"
	"hash/crc64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offheap/offheap/fileheap"
)

// newHeapFile makes a heap file with a few blocks (one freed), closes it
// and returns its path, its bytes and the blocks' offsets.
func newHeapFile(t testing.TB, size int64) (string, []byte, []fileheap.Offset) {
	t.Helper()
	h, path := open(t, size)
	var offs []fileheap.Offset
	for _, n := range []int{10, 100, 20000, 3000, 50} {
		off, err := h.Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		fill(h.Bytes(off)[:n], uint64(n))
		offs = append(offs, off)
	}
	if err := h.Free(offs[2]); err != nil { // into a bin
		t.Fatal(err)
	}
	if err := h.Free(offs[4]); err != nil { // into a quick list
		t.Fatal(err)
	}
	h.SetRoot(offs[0])
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b, offs
}

// reseal recomputes the header checksum after a change to its fixed part.
func reseal(b []byte) {
	binary.LittleEndian.PutUint64(b[fileheap.OffChecksum:], crc64.Checksum(b[:32], crc64.MakeTable(crc64.ECMA)))
}

// Files that are not heaps, of another version, truncated or with a
// damaged header get a clear error from Open, never a crash.
func TestOpenBadFiles(t *testing.T) {
	_, good, _ := newHeapFile(t, 1<<20)
	put64 := func(off int, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint64(b[off:], v); return b }
	}
	for _, tc := range []struct {
		name   string
		change func([]byte) []byte
		want   string
	}{
		{"text file", func([]byte) []byte { return []byte(strings.Repeat("not a heap\n", 4000)) }, "not a heap file"},
		{"short text file", func([]byte) []byte { return []byte("hello") }, "not a heap file"},
		{"no magic", func(b []byte) []byte { b[0] = 'O'; return b }, "not a heap file"},
		{"other version", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[fileheap.OffVersion:], 2)
			reseal(b)
			return b
		}, "format version 2, this package reads version 1"},
		{"checksum", func(b []byte) []byte { b[17] ^= 1; return b }, "corrupted header: checksum"},
		{"truncated in the header", func(b []byte) []byte { return b[:5000] }, "truncated: 5000 bytes"},
		{"truncated in the chunks", func(b []byte) []byte { return b[:fileheap.HdrSize+4096] }, "truncated: the file has 20480 bytes"},
		{"heap length", put64(fileheap.OffFileSize, 12345), "corrupted header: heap length 12345"},
		{"top", put64(fileheap.OffTop, 7), "corrupted header: top chunk at 0x7"},
		{"top's size word", func(b []byte) []byte {
			top := binary.LittleEndian.Uint64(b[fileheap.OffTop:])
			b[top+8] ^= 0x40
			return b
		}, "corrupted header: top chunk at"},
		{"journal with the lock free", put64(fileheap.OffJCount, 3), "the journal holds 3 entries with the lock free"},
		{"journal entry outside the heap", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[fileheap.OffLock:], 5|1<<8) // a dead owner
			binary.LittleEndian.PutUint64(b[fileheap.OffJCount:], 1)
			binary.LittleEndian.PutUint64(b[fileheap.OffJournal:], 1<<40)
			return b
		}, "journal entry 0 names offset 0x10000000000, outside the heap"},
		{"journal entry on the lock", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[fileheap.OffLock:], 5|1<<8)
			binary.LittleEndian.PutUint64(b[fileheap.OffJCount:], 1)
			binary.LittleEndian.PutUint64(b[fileheap.OffJournal:], fileheap.OffLock)
			return b
		}, "a word never journaled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "heap")
			if err := os.WriteFile(path, tc.change(append([]byte(nil), good...)), 0o600); err != nil {
				t.Fatal(err)
			}
			h, err := fileheap.Open(path, fileheap.Options{})
			if err == nil {
				h.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, fileheap.ErrFormat) && !errors.Is(err, fileheap.ErrCorrupt) {
				t.Errorf("error %q wraps neither ErrFormat nor ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "Open()") {
				t.Errorf("error %q, want it to say %q and name the file", err, tc.want)
			}
		})
	}
}

// An empty file is made a heap; a directory is an error.
func TestOpenEmptyAndDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "empty")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := fileheap.Open(path, fileheap.Options{Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, h)
	h.Close()
	if _, err := fileheap.Open(dir, fileheap.Options{}); err == nil {
		t.Error("Open of a directory succeeded")
	}
	if _, err := fileheap.Open(path, fileheap.Options{Size: -1}); !errors.Is(err, fileheap.ErrInvalid) {
		t.Errorf("Size -1: %v, want ErrInvalid", err)
	}
}

// A damaged chunk is named by Check, and the operations that meet it
// refuse with ErrCorrupt instead of following it.
func TestCorruptChunk(t *testing.T) {
	path, good, offs := newHeapFile(t, 1<<20)
	for _, tc := range []struct {
		name string
		off  int // byte to change
		want string
	}{
		{"size word of a block", int(offs[1]) - 8 + 2, "chunk's size word"},
		{"tag of a block", int(offs[3]) - 2, "chunk's size word"},
		{"link of a free chunk", int(offs[2]) + 3, "list link"},
		{"foot of a free chunk", int(offs[3]) - 16, "prev_size"},
		{"link in a quick list", int(offs[4]) + 1, "quick list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), good...)
			b[tc.off] ^= 0x5a
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			h := reopen(t, path, 0)
			defer h.Close()
			err := h.Check()
			if !errors.Is(err, fileheap.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Check(): ") {
				t.Fatalf("Check() = %v, want ErrCorrupt about %q", err, tc.want)
			}
			t.Logf("Check: %v", err)
			// Freeing the neighbours meets the damage or not, but never
			// crashes; the heap stays usable for other sizes.
			for _, off := range offs {
				h.Free(off)
			}
			h.Alloc(40) // the quick list
			h.Alloc(40)
			if _, err := h.Alloc(100000); err != nil && !errors.Is(err, fileheap.ErrCorrupt) {
				t.Errorf("Alloc: %v", err)
			}
		})
	}
}
