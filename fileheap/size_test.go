package fileheap_test

import (
	"errors"
	"os"
	"testing"

	"github.com/offheap/offheap/fileheap"
)

func stats(t testing.TB, h *fileheap.Heap) fileheap.Stats {
	t.Helper()
	st, err := h.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func fileLen(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// The Size: 1 GiB by default, taken from the file when 0, raised by a
// larger one, lowered by a smaller one, refused below what the heap uses;
// an allocation past it fails with ErrFull and changes nothing.
func TestSize(t *testing.T) {
	h, path := open(t, 0)
	if got := stats(t, h).MaxSize; got != fileheap.DefaultSize {
		t.Errorf("new heap's MaxSize %d, want %d", got, fileheap.DefaultSize)
	}
	big, err := h.Alloc(3 << 20)
	if err != nil {
		t.Fatal(err)
	}
	used := stats(t, h).FileSize
	h.Close()

	h = reopen(t, path, 0)
	if got := stats(t, h).MaxSize; got != fileheap.DefaultSize {
		t.Errorf("MaxSize after reopening with 0: %d", got)
	}
	h.Close()
	h = reopen(t, path, 2<<30)
	if got := stats(t, h).MaxSize; got != 2<<30 {
		t.Errorf("MaxSize after reopening with 2 GiB: %d", got)
	}
	h.Close()
	if _, err := fileheap.Open(path, fileheap.Options{Size: used - 4096}); !errors.Is(err, fileheap.ErrInvalid) {
		t.Fatalf("Open with a Size below what the heap uses: %v, want ErrInvalid", err)
	}
	h = reopen(t, path, used+1<<20) // lowered, above what it uses
	defer h.Close()
	if got := stats(t, h).MaxSize; got != used+1<<20 {
		t.Errorf("MaxSize after lowering: %d, want %d", got, used+1<<20)
	}
	if _, err := h.Alloc(2 << 20); !errors.Is(err, fileheap.ErrFull) {
		t.Fatalf("Alloc past the Size: %v, want ErrFull", err)
	}
	mustCheck(t, h)
	if err := h.Free(big); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Alloc(2 << 20); err != nil {
		t.Fatalf("Alloc after freeing room: %v", err)
	}
	mustCheck(t, h)
}

// A Heap opened with a small Size follows another that raised it and grew
// the heap past the first one's mapping.
func TestSizeRaisedByAnother(t *testing.T) {
	small, path := open(t, 1<<20)
	defer small.Close()
	large := reopen(t, path, 64<<20)
	defer large.Close()
	off, err := large.Alloc(10 << 20)
	if err != nil {
		t.Fatal(err)
	}
	fill(large.Bytes(off)[:10<<20], 7)
	if b := small.Bytes(off); len(b) < 10<<20 || !hasPattern(b[:10<<20], 7) {
		t.Fatal("the small Heap does not see the large one's block")
	}
	if err := small.Free(off); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, small)
	mustCheck(t, large)
}

// The file grows in steps and is cut when the top grows past the trim
// threshold; big free chunks have their pages punched out of the file.
func TestFileGrowsAndShrinks(t *testing.T) {
	h, path := open(t, 0)
	defer h.Close()
	if n := fileLen(t, path); n != 256<<10 {
		t.Errorf("new file: %d bytes, want 256 KiB", n)
	}
	var offs []fileheap.Offset
	for i := 0; i < 40; i++ {
		off, err := h.Alloc(100 << 10)
		if err != nil {
			t.Fatal(err)
		}
		fill(h.Bytes(off), uint64(i))
		offs = append(offs, off)
	}
	grown := fileLen(t, path)
	if grown < 4<<20 || grown > 6<<20 {
		t.Errorf("after 4 MB of blocks the file has %d bytes", grown)
	}
	if st := stats(t, h); st.FileSize != grown {
		t.Errorf("Stats.FileSize %d, the file %d", st.FileSize, grown)
	}
	// Free every other block but the last: holes in the middle, punched.
	disk := stats(t, h).DiskBytes
	for i := 0; i < len(offs)-1; i += 2 {
		if err := h.Free(offs[i]); err != nil {
			t.Fatal(err)
		}
	}
	mustCheck(t, h)
	// Free the rest: everything coalesces into the top, and the file is cut.
	for i := 1; i < len(offs); i += 2 {
		if err := h.Free(offs[i]); err != nil {
			t.Fatal(err)
		}
	}
	mustCheck(t, h)
	st := stats(t, h)
	if n := fileLen(t, path); n > 1<<20 || n != st.FileSize {
		t.Errorf("after freeing everything the file has %d bytes (heap %d), want it cut to under 1 MiB", n, st.FileSize)
	}
	t.Logf("file %d -> %d bytes; on the device %d -> %d", grown, st.FileSize, disk, st.DiskBytes)
}

// Freeing blocks in the middle punches their pages out of the file: the
// file keeps its length, the device gets the space back.
func TestPunchHoles(t *testing.T) {
	h, path := open(t, 0)
	defer h.Close()
	a, _ := h.Alloc(2 << 20)
	b, _ := h.Alloc(100)
	fill(h.Bytes(a), 1)
	fill(h.Bytes(b), 2)
	if err := h.Sync(); err != nil { // blocks on the device
		t.Fatal(err)
	}
	before := stats(t, h)
	if err := h.Free(a); err != nil {
		t.Fatal(err)
	}
	after := stats(t, h)
	if after.FileSize != before.FileSize || fileLen(t, path) != before.FileSize {
		t.Errorf("the file's length changed: %d -> %d", before.FileSize, after.FileSize)
	}
	if after.DiskBytes > before.DiskBytes-(2<<20)+64<<10 {
		t.Skipf("the file system did not give back the punched pages (%d -> %d bytes): no FALLOC_FL_PUNCH_HOLE?", before.DiskBytes, after.DiskBytes)
	}
	if !hasPattern(h.Bytes(b), 2) {
		t.Error("the block after the hole lost its contents")
	}
	mustCheck(t, h)
	t.Logf("device bytes %d -> %d", before.DiskBytes, after.DiskBytes)
}

// Sync writes the heap to the device; the blocks and root are in the file
// (read back through the file, not the mapping).
func TestSync(t *testing.T) {
	h, path := open(t, 0)
	off, _ := h.Alloc(5000)
	fill(h.Bytes(off)[:5000], 9)
	h.SetRoot(off)
	if err := h.Sync(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !hasPattern(b[off:off+5000], 9) {
		t.Error("the file does not hold the block after Sync")
	}
	h.Close()
	if err := h.Sync(); !errors.Is(err, fileheap.ErrClosed) {
		t.Errorf("Sync after Close: %v, want ErrClosed", err)
	}
	if _, err := h.Alloc(1); !errors.Is(err, fileheap.ErrClosed) {
		t.Errorf("Alloc after Close: %v, want ErrClosed", err)
	}
	if err := h.Free(off); !errors.Is(err, fileheap.ErrClosed) {
		t.Errorf("Free after Close: %v, want ErrClosed", err)
	}
	if err := h.Close(); !errors.Is(err, fileheap.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}
