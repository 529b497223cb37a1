package alloc

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/offheap/offheap/alloc/tracefmt"
)

// TestTraceEmitStaleAddress feeds the trace writer records in an order
// that happens when one goroutine destroys a heap while another creates
// one (taking the destroyed heap's memory) and allocates at an address of
// a block of the first heap before the destroy is numbered: the new block
// takes the address, the destroy still ends the old block, and a later
// free of the address frees the new block. Also: calls of a heap the
// trace does not hold are left out, and a heap recorded twice is created
// once.
func TestTraceEmitStaleAddress(t *testing.T) {
	var buf bytes.Buffer
	w, err := tracefmt.NewWriter(&buf, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracer{out: w, addrs: map[uintptr]tracedBlock{}, heaps: map[uint32]map[uintptr]struct{}{}, reallocs: map[uint64]tracedBlock{}}
	const x, y, z = 0x10000, 0x20000, 0x30000
	seq := uint64(0)
	emit := func(r traceRec) {
		seq++
		r.seq = seq
		tr.emit(&r)
	}
	emit(traceRec{op: recHeapNew, heap: 5})
	emit(traceRec{op: recHeapNew, heap: 5}) // StartTrace and NewHeap both
	emit(traceRec{op: recMalloc, addr: x, size: 10, heap: 5})
	emit(traceRec{op: recMalloc, addr: y, size: 11, heap: 5})
	// Heap 5 is destroyed; its destroy is numbered after these.
	emit(traceRec{op: recHeapNew, heap: 6})
	emit(traceRec{op: recMalloc, addr: x, size: 12, heap: 6})
	emit(traceRec{op: recReallocBegin, addr: x})
	emit(traceRec{op: recRealloc, arg: seq, old: x, addr: y, size: 13, heap: 6})
	emit(traceRec{op: recHeapDestroy, heap: 5})
	emit(traceRec{op: recMalloc, addr: z, size: 14, heap: 9}) // heap 9: not in the trace
	emit(traceRec{op: recFree, addr: z})
	emit(traceRec{op: recHeapDestroy, heap: 9})
	emit(traceRec{op: recFree, addr: y})
	if tr.err != nil {
		t.Fatal(tr.err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := tracefmt.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		s := e.String()
		if e.Op == tracefmt.HeapDestroy {
			s += fmt.Sprintf(" ends %v", r.Ended())
		}
		got = append(got, s)
	}
	want := []string{
		"heap_create(5)",
		"malloc(10) = #1 in heap 5",
		"malloc(11) = #2 in heap 5",
		"heap_create(6)",
		"malloc(12) = #3 in heap 6",
		"realloc(#3, 13) = #4 in heap 6",
		"heap_destroy(5) ends [1 2]",
		"free(#4)",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("trace:\n got %q\nwant %q", got, want)
	}
	if d := r.Info().Dropped; d != 3 {
		t.Errorf("%d calls dropped, want 3 (heap 9's malloc, free and destroy)", d)
	}
}
