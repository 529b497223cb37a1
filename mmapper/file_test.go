package mmapper_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/offheap/offheap/mmapper"
)

// tempFile returns a file of n bytes (zeros) in a test directory.
func tempFile(t *testing.T, n uintptr) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "map"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(n)); err != nil {
		t.Fatal(err)
	}
	return f
}

// A shared mapping writes through to the file, and a second mapping of the
// same file sees what the first wrote; Msync is counted.
func TestMapFileShared(t *testing.T) {
	n := 4 * page
	f := tempFile(t, n)
	defer f.Close()
	var a, b uintptr
	got := counting(func() {
		var err error
		if a, err = mmapper.MapFile(int(f.Fd()), 0, n, true); err != nil {
			t.Fatal(err)
		}
		if b, err = mmapper.MapFile(int(f.Fd()), int64(page), page, true); err != nil {
			t.Fatal(err)
		}
	})
	check(t, "MapFile x2", mmapper.Counters{Mmap: mmapper.OpStats{Calls: 2, Bytes: uint64(n + page)}}, got)
	defer mustUnmap(t, a, n)
	defer mustUnmap(t, b, page)
	if a%page != 0 || a == b {
		t.Fatalf("addresses %#x, %#x", a, b)
	}
	fill(mem(a, n), 5)
	if !hasPattern(mem(b, page), 5+byte(page*7)) {
		t.Error("the second mapping (offset one page) does not see the first one's writes")
	}
	got = counting(func() {
		if err := mmapper.Msync(a, n); err != nil {
			t.Fatal(err)
		}
	})
	check(t, "Msync", mmapper.Counters{Msync: mmapper.OpStats{Calls: 1, Bytes: uint64(n)}}, got)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if !hasPattern(buf, 5) {
		t.Error("the file does not hold what the shared mapping wrote")
	}
}

// A private mapping does not write to the file.
func TestMapFilePrivate(t *testing.T) {
	f := tempFile(t, page)
	defer f.Close()
	a, err := mmapper.MapFile(int(f.Fd()), 0, page, false)
	if err != nil {
		t.Fatal(err)
	}
	defer mustUnmap(t, a, page)
	fill(mem(a, page), 9)
	buf := make([]byte, page)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if !allZero(buf) {
		t.Error("a private mapping wrote to the file")
	}
}

// MapFileFixed maps a file into a reservation and extends the mapping
// within it.
func TestMapFileFixed(t *testing.T) {
	f := tempFile(t, 2*page)
	defer f.Close()
	fd := int(f.Fd())
	r, err := mmapper.Reserve(4*page, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer mustUnmap(t, r, 4*page)
	got := counting(func() { err = mmapper.MapFileFixed(r, fd, 0, page, true) })
	if err != nil {
		t.Fatal(err)
	}
	check(t, "MapFileFixed", mmapper.Counters{Mmap: mmapper.OpStats{Calls: 1, Bytes: uint64(page)}}, got)
	fill(mem(r, page), 3)
	if !faultsOn(t, r+page) {
		t.Fatal("the reservation past the mapping is accessible")
	}
	if err := mmapper.MapFileFixed(r+page, fd, int64(page), page, true); err != nil {
		t.Fatal(err)
	}
	fill(mem(r+page, page), 4)
	buf := make([]byte, 2*page)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if !hasPattern(buf[:page], 3) || !hasPattern(buf[page:], 4) {
		t.Error("the file does not hold what the two mappings wrote")
	}
	if !faultsOn(t, r+2*page) {
		t.Error("the reservation past the extension is accessible")
	}
}
