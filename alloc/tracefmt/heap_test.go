package tracefmt_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offheap/offheap/alloc/tracefmt"
)

// writeEvents writes evs (ids and sequence numbers filled in) as a binary
// trace without timestamps.
func writeEvents(t *testing.T, evs []tracefmt.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := tracefmt.NewWriter(&buf, time.Unix(1700000000, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		e := evs[i]
		e.Seq = uint64(i + 1)
		if e.Op.Allocates() {
			e.ID = w.NextID()
		}
		if err := w.Write(&e); err != nil {
			t.Fatalf("writing %v: %v", e, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readEnded reads a trace and returns its events as strings, each destroy
// followed by the blocks it ended.
func readEnded(data []byte) ([]string, tracefmt.Info, error) {
	r, err := tracefmt.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, tracefmt.Info{}, err
	}
	var got []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			return got, r.Info(), nil
		}
		if err != nil {
			return got, r.Info(), err
		}
		s := e.String()
		if e.Op == tracefmt.Free && e.Heap != 0 {
			s += fmt.Sprintf(" of heap %d", e.Heap)
		}
		if e.Op == tracefmt.HeapDestroy {
			s += fmt.Sprintf(" ends %v", r.Ended())
		}
		got = append(got, s)
	}
}

var (
	mallocIn = func(h uint32, size uint64) tracefmt.Event {
		return tracefmt.Event{Op: tracefmt.Malloc, Heap: h, Size: size}
	}
	create  = func(h uint32) tracefmt.Event { return tracefmt.Event{Op: tracefmt.HeapCreate, Heap: h} }
	destroy = func(h uint32) tracefmt.Event { return tracefmt.Event{Op: tracefmt.HeapDestroy, Heap: h} }
	free    = func(id uint64) tracefmt.Event { return tracefmt.Event{Op: tracefmt.Free, ID: id} }
)

// TestHeaps writes heap events and reads them back, in binary and text:
// allocations name their heap, frees learn it, a destroy ends the heap's
// live blocks (Ended) and a heap number may be created again.
func TestHeaps(t *testing.T) {
	evs := []tracefmt.Event{
		create(7),
		mallocIn(7, 10), // #1
		mallocIn(0, 20), // #2
		{Op: tracefmt.Calloc, Heap: 7, Arg: 3, Size: 8},   // #3
		{Op: tracefmt.Realloc, Heap: 7, Old: 1, Size: 99}, // #4
		{Op: tracefmt.Aligned, Heap: 7, Arg: 64, Size: 5}, // #5
		free(3),
		create(9),
		mallocIn(9, 1), // #6
		destroy(7),
		mallocIn(9, 2), // #7
		create(7),      // again
		mallocIn(7, 3), // #8
		free(6),
		{Op: tracefmt.Realloc, Heap: 9, Old: 7, Size: 4}, // #9
		destroy(9),
		free(2),
	}
	want := []string{
		"heap_create(7)",
		"malloc(10) = #1 in heap 7",
		"malloc(20) = #2",
		"calloc(3, 8) = #3 in heap 7",
		"realloc(#1, 99) = #4 in heap 7",
		"aligned_alloc(64, 5) = #5 in heap 7",
		"free(#3) of heap 7",
		"heap_create(9)",
		"malloc(1) = #6 in heap 9",
		"heap_destroy(7) ends [4 5]",
		"malloc(2) = #7 in heap 9",
		"heap_create(7)",
		"malloc(3) = #8 in heap 7",
		"free(#6) of heap 9",
		"realloc(#7, 4) = #9 in heap 9",
		"heap_destroy(9) ends [9]",
		"free(#2)",
	}
	got, info, err := readEnded(writeEvents(t, evs))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("binary:\n got %q\nwant %q", got, want)
	}
	if info.Heaps != 3 || info.Allocs != 9 || info.Version != 2 {
		t.Errorf("info %+v: want 3 heaps, 9 allocations, version 2", info)
	}

	const text = `1 h 7
1 m 1 10 @7
1 m 2 20
1 c 3 3 8 @7
1 r 1 4 99 @7
2 a 5 64 5 @7
1 f 3
1 h 9
1 m 6 1 @9
1 d 7
1 m 7 2 @9
1 h 7
1 m 8 3 @7
1 f 6
1 r 7 9 4 @9
1 d 9
1 f 2
`
	got, info, err = readEnded([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("text:\n got %q\nwant %q", got, want)
	}
	if info.Heaps != 3 || info.Format != tracefmt.Text {
		t.Errorf("text info %+v", info)
	}
	// realloc(NULL) and realloc(p, 0) in a heap.
	got, _, err = readEnded([]byte("1 h 2\n1 r 0 1 30 @2\n1 r 1 0 0 @2\n1 r 0 0 5 @2\n"))
	if err != nil || fmt.Sprint(got) != fmt.Sprint([]string{"heap_create(2)", "malloc(30) = #1 in heap 2", "free(#1) of heap 2"}) {
		t.Errorf("realloc(NULL) and realloc(p, 0) in a heap: %q, %v", got, err)
	}
}

// TestHeapErrors: bad heap events are errors naming the record, in binary
// traces (which the Writer writes without checking liveness) and text.
func TestHeapErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		evs  []tracefmt.Event
		err  string
	}{
		{"destroy of an unknown heap", []tracefmt.Event{mallocIn(0, 1), destroy(3)},
			"(record 2): destruction of heap 3, which was never created"},
		{"destroy twice", []tracefmt.Event{create(3), destroy(3), destroy(3)},
			"(record 3): destruction of heap 3, which was destroyed already"},
		{"create twice", []tracefmt.Event{create(3), create(3)},
			"(record 2): creation of heap 3, which is live already"},
		{"allocation in a destroyed heap", []tracefmt.Event{create(3), mallocIn(3, 8), destroy(3), mallocIn(3, 8)},
			"(record 4): malloc in heap 3, which was destroyed"},
		{"allocation in an unknown heap", []tracefmt.Event{create(3), {Op: tracefmt.Calloc, Heap: 4, Arg: 1, Size: 1}},
			"(record 2): calloc in heap 4, which was never created"},
		{"free of a block of a destroyed heap", []tracefmt.Event{create(3), mallocIn(3, 8), destroy(3), free(1)},
			"(record 4): free of block 1, which is not live (its heap was destroyed)"},
		{"realloc of a block of a destroyed heap", []tracefmt.Event{create(3), mallocIn(3, 8), destroy(3), {Op: tracefmt.Realloc, Old: 1, Heap: 3, Size: 9}},
			"(record 4): realloc of block 1, which is not live (its heap was destroyed)"},
		{"realloc into another heap", []tracefmt.Event{create(3), mallocIn(3, 8), {Op: tracefmt.Realloc, Old: 1, Size: 9}},
			"(record 3): realloc of block 1 of heap 3 names heap 0"},
		{"realloc out of the process heap", []tracefmt.Event{create(3), mallocIn(0, 8), {Op: tracefmt.Realloc, Old: 1, Heap: 3, Size: 9}},
			"(record 3): realloc of block 1 of heap 0 names heap 3"},
		{"a free after the destroy, the heap created again", []tracefmt.Event{create(3), mallocIn(3, 8), destroy(3), create(3), free(1)},
			"(record 5): free of block 1, which is not live (its heap was destroyed)"},
	} {
		_, _, err := readEnded(writeEvents(t, tc.evs))
		var te *tracefmt.Error
		if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want a *tracefmt.Error containing %q", tc.name, err, tc.err)
		}
	}

	for _, tc := range []struct{ trace, err string }{
		{"1 d 3\n", "offset 0 (record 1): destruction of heap 3, which was never created"},
		{"1 h 3\n1 m 1 8 @3\n1 d 3\n1 m 2 8 @3\n", "offset 23 (record 4): malloc in heap 3, which was destroyed"},
		{"1 h 3\n1 m 1 8 @3\n1 d 3\n1 f 1\n", "(record 4): block 1 is not live (its heap was destroyed)"},
		{"1 h 3\n1 m 1 8 @3\n1 r 1 2 9\n", "(record 3): realloc of block 1 of heap 3 names heap 0"},
		{"1 h 3\n1 h 3\n", "(record 2): creation of heap 3, which is live already"},
		{"1 m 1 8 @4\n", "malloc in heap 4, which was never created"},
		{"1 h 0\n", "heap 0 out of range"},
		{"1 h 3\n1 f 1 @3\n", `operation "f" names no heap`},
		{"1 m 1 8 @0\n", `"@0" is not a private heap`},
		{"1 m 1 8 @x\n", `"@x" is not a private heap`},
		{"1 h 3 @3\n", `operation "h" names no heap`},
		{"1 h\n", "want <thread> <op> <args>"},
	} {
		_, _, err := readAll([]byte(tc.trace))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want one containing %q", tc.trace, err, tc.err)
		}
	}

	// The Writer refuses heap events without a heap.
	w, _ := tracefmt.NewWriter(io.Discard, time.Now(), 0)
	if err := w.Write(&tracefmt.Event{Op: tracefmt.HeapCreate, Seq: 1}); err == nil || !strings.Contains(err.Error(), "heap 0") {
		t.Errorf("HeapCreate of heap 0: %v", err)
	}
}

// TestVersion1 reads testdata/v1.trace, written by the version 1 writer
// (before private heaps): the same events as then. A version 1 trace
// holding a heap record is corrupt.
func TestVersion1(t *testing.T) {
	evs, info, err := tracefmt.ReadAll("testdata/v1.trace", false)
	if err != nil {
		t.Fatal(err)
	}
	ms := int64(time.Millisecond)
	want := []tracefmt.Event{
		{Op: tracefmt.Malloc, Seq: 1, Time: 0, Thread: 0, ID: 1, Size: 24},
		{Op: tracefmt.Calloc, Seq: 2, Time: 1 * ms, Thread: 1, ID: 2, Arg: 10, Size: 300},
		{Op: tracefmt.Aligned, Seq: 4, Time: 1 * ms, Thread: 0, ID: 3, Arg: 4096, Size: 5000},
		{Op: tracefmt.Malloc, Seq: 5, Time: 3 * ms, Thread: 2, ID: 4, Size: 204800},
		{Op: tracefmt.Realloc, Seq: 7, Time: 3 * ms, Thread: 0, ID: 5, Old: 1, Size: 5000},
		{Op: tracefmt.Free, Seq: 8, Time: 4 * ms, Thread: 1, ID: 2},
		{Op: tracefmt.Malloc, Seq: 9, Time: 4 * ms, Thread: 0, ID: 6, Size: 40},
		{Op: tracefmt.Free, Seq: 11, Time: 9 * ms, Thread: 0, ID: 5},
		{Op: tracefmt.Free, Seq: 12, Time: 9 * ms, Thread: 2, ID: 4},
	}
	if fmt.Sprint(evs) != fmt.Sprint(want) {
		t.Errorf("read\n%+v\nwant\n%+v", evs, want)
	}
	for i := range min(len(evs), len(want)) {
		if evs[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, evs[i], want[i])
		}
	}
	if info.Version != 1 || !info.Ended || info.Dropped != 1 || !info.Timestamps || info.Start != time.Unix(1700000000, 0) {
		t.Errorf("info %+v", info)
	}

	// A version 2 trace with a heap record, relabelled version 1 (its
	// header's checksum made right): the record is an unknown operation.
	data := writeEvents(t, []tracefmt.Event{mallocIn(0, 1), create(2)})
	hdr := len(tracefmt.Magic) + 1 + 1 + 8 + 1 // magic version flags start tick
	if data[len(tracefmt.Magic)] != 2 {
		t.Fatalf("the writer writes version %d", data[len(tracefmt.Magic)])
	}
	data[len(tracefmt.Magic)] = 1
	binary.LittleEndian.PutUint32(data[hdr:], crc32.ChecksumIEEE(data[:hdr]))
	evs, _, err = readAll(data)
	if len(evs) != 1 || err == nil || !strings.Contains(err.Error(), "(record 2): unknown operation 6 in a version 1 trace") {
		t.Errorf("a heap record in a version 1 trace: %d events, %v", len(evs), err)
	}
	// A version beyond this reader's.
	data[len(tracefmt.Magic)] = 3
	binary.LittleEndian.PutUint32(data[hdr:], crc32.ChecksumIEEE(data[:hdr]))
	if _, _, err := readAll(data); err == nil || !strings.Contains(err.Error(), "format version 3; this reader reads versions 1 to 2") {
		t.Errorf("version 3: %v", err)
	}
}

// TestSharedTraces reads the traces of real programs in shared/traces
// (when present): they read as before, without heaps.
func TestSharedTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	var dir string
	for _, d := range []string{"../../../shared/traces", "/work/shared/traces"} {
		if _, err := os.Stat(d); err == nil {
			dir = d
			break
		}
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.trace.gz"))
	if dir == "" || len(paths) == 0 {
		t.Skip("no shared/traces here")
	}
	for _, p := range paths {
		evs, info, err := tracefmt.ReadAll(p, false)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		var byOp [tracefmt.NumOps]int
		for _, e := range evs {
			byOp[e.Op]++
			if e.Heap != 0 {
				t.Fatalf("%s: %v names a heap", p, e)
			}
		}
		t.Logf("%s: %d events %v, %d skipped", filepath.Base(p), len(evs), byOp, info.Skipped)
		if len(evs) < 100000 || info.Heaps != 0 || !info.Gzipped || info.Format != tracefmt.Text {
			t.Errorf("%s: %d events, info %+v", p, len(evs), info)
		}
	}
}
