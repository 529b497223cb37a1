package fileheap_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/offheap/offheap/fileheap"
)

// fuzzBases are the heap files FuzzOpen mutates: a small heap (64 KiB)
// with blocks in use, in a bin and in quick lists, and copies of it taken
// in the middle of a Free, with the lock held by a process that is gone and
// the journal half written. The client slots are cleared, so that every
// fuzzing process builds the same bytes (the slots hold pids and times).
var fuzzBases = sync.OnceValue(func() [][]byte {
	dir, err := os.MkdirTemp("", "fileheap-fuzz")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	h, err := fileheap.Open(filepath.Join(dir, "base"), fileheap.Options{Size: 64 << 10})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	var offs []fileheap.Offset
	for _, n := range []int{10, 100, 1500, 3000, 50, 20000, 700} {
		off, err := h.Alloc(n)
		if err != nil {
			panic(err)
		}
		fill(h.Bytes(off)[:n], uint64(n))
		offs = append(offs, off)
	}
	h.Free(offs[4]) // an exact quick list
	h.Free(offs[2]) // a class quick list
	h.SetRoot(offs[0])
	bases := [][]byte{h.Snapshot()}
	fileheap.SetStoreHook(func(x *fileheap.Heap) {
		if x == h {
			bases = append(bases, x.Snapshot())
		}
	})
	h.Free(offs[5]) // into a bin: a few journaled stores
	fileheap.SetStoreHook(nil)
	for _, b := range bases {
		clear(b[fileheap.OffSlots:fileheap.HdrSize])
	}
	return bases
})

// FuzzOpen opens mutated heap files and uses what opens: Open, Check,
// Stats, InUse, Alloc, Bytes, Realloc and Free must return errors (or, for
// Bytes, panic with a message of the package) and never crash or hang.
//
// An input is a patch of a base file (fuzzBases), which keeps inputs small
// and the fuzzer's minimizing quick: byte 0 picks the base; then each 3
// bytes {offset (2 bytes, little-endian, modulo the length), value} XOR a
// byte of the file; 2 bytes left over cut the file to that length (modulo
// the length + 1).
func FuzzOpen(f *testing.F) {
	bases := fuzzBases()
	for i := range bases {
		f.Add([]byte{byte(i)})
	}
	f.Add([]byte{0, 0x40, 0, 1})                   // the lock word
	f.Add([]byte{1, 0x80, 0, 0x20})                // the journal's count
	f.Add([]byte{0, 0x98, 0x04, 0x10, 0x00, 0x50}) // the top, then a cut
	f.Fuzz(func(t *testing.T, patch []byte) {
		if len(patch) == 0 {
			return
		}
		data := append([]byte(nil), bases[int(patch[0])%len(bases)]...)
		p := patch[1:]
		for ; len(p) >= 3; p = p[3:] {
			data[int(binary.LittleEndian.Uint16(p))%len(data)] ^= p[2]
		}
		if len(p) == 2 {
			data = data[:int(binary.LittleEndian.Uint16(p))%(len(data)+1)]
		}
		fuzzOpen(t, data)
	})
}

// fuzzOpen is FuzzOpen's body, for one file.
func fuzzOpen(t *testing.T, data []byte) {
	path := filepath.Join(t.TempDir(), "heap")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := fileheap.Open(path, fileheap.Options{})
	if err != nil {
		return
	}
	defer h.Close()
	h.Check()
	h.Stats()
	h.InUse()
	var got []fileheap.Offset
	for _, n := range []int{24, 64, 1000, 2000, 5000} {
		off, err := h.Alloc(n)
		if err != nil {
			continue
		}
		if b := bytesOrPanic(t, h, off); b != nil {
			fill(b[:min(n, len(b))], 1)
		}
		got = append(got, off)
	}
	if len(got) > 0 {
		if off, err := h.Realloc(got[0], 3000); err == nil {
			got[0] = off
		}
	}
	for _, off := range got {
		h.Free(off)
	}
	if r := h.Root(); r != 0 {
		bytesOrPanic(t, h, r)
		h.Free(r)
	}
	h.Check()
}

// bytesOrPanic returns h.Bytes(off), or nil if Bytes panicked, as it may
// on a damaged heap, with one of its own messages.
func bytesOrPanic(t *testing.T, h *fileheap.Heap, off fileheap.Offset) (b []byte) {
	defer func() {
		if r := recover(); r != nil {
			if s, ok := r.(string); !ok || !strings.HasPrefix(s, "fileheap: Bytes(): ") {
				t.Fatalf("Bytes(%#x) panicked with %v", off, r)
			}
			b = nil
		}
	}()
	return h.Bytes(off)
}
