package tracefmt_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/offheap/offheap/alloc/tracefmt"
)

var seed = flag.Uint64("seed", 0, "seed of the randomized tests (0: from the clock)")

func testSeed(t *testing.T) uint64 {
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed %d)", s, s)
	return s
}

// randomTrace makes n valid events (ids, live blocks and sequence numbers
// consistent) and writes them. With heaps, private heaps come and go and
// take a share of the allocations; a Free event carries its block's heap,
// as the reader returns it.
func randomTrace(t testing.TB, rng *rand.Rand, n int, tick time.Duration, heaps bool) ([]tracefmt.Event, []byte) {
	var buf bytes.Buffer
	w, err := tracefmt.NewWriter(&buf, time.Unix(1700000000, 0), tick)
	if err != nil {
		t.Fatal(err)
	}
	type block struct {
		id   uint64
		heap uint32
	}
	var evs []tracefmt.Event
	var live []block
	var liveHeaps []uint32
	nextHeap, again := uint32(2), uint32(0) // again: a destroyed heap's number, to create again
	seq := uint64(0)
	now := int64(0)
	take := func(j int) block {
		b := live[j]
		live[j] = live[len(live)-1]
		live = live[:len(live)-1]
		return b
	}
	for i := 0; i < n; i++ {
		seq += 1 + uint64(rng.IntN(3))*uint64(rng.IntN(2))
		now += int64(rng.IntN(3)) * int64(time.Millisecond)
		e := tracefmt.Event{Seq: seq, Time: -1, Thread: uint32(rng.IntN(4))}
		if tick > 0 {
			e.Time = now / int64(tick) * int64(tick)
		}
		if heaps && len(liveHeaps) > 0 && rng.IntN(3) == 0 {
			e.Heap = liveHeaps[rng.IntN(len(liveHeaps))]
		}
		switch k := rng.IntN(10); {
		case heaps && k == 9 && rng.IntN(4) == 0:
			if len(liveHeaps) == 0 || rng.IntN(2) == 0 {
				e.Op, e.Heap = tracefmt.HeapCreate, nextHeap
				if again != 0 {
					e.Heap, again = again, 0
				} else {
					nextHeap += 1 + uint32(rng.IntN(1000))
				}
				liveHeaps = append(liveHeaps, e.Heap)
				break
			}
			j := rng.IntN(len(liveHeaps))
			e.Op, e.Heap = tracefmt.HeapDestroy, liveHeaps[j]
			liveHeaps[j] = liveHeaps[len(liveHeaps)-1]
			liveHeaps = liveHeaps[:len(liveHeaps)-1]
			live = slices.DeleteFunc(live, func(b block) bool { return b.heap == e.Heap })
			if rng.IntN(2) == 0 {
				again = e.Heap
			}
		case k < 4 || len(live) == 0:
			e.Op, e.Size = tracefmt.Malloc, uint64(rng.IntN(1<<uint(rng.IntN(24))))
		case k == 4:
			e.Op, e.Arg, e.Size = tracefmt.Calloc, uint64(rng.IntN(100)), uint64(rng.IntN(5000))
		case k == 5:
			e.Op, e.Arg, e.Size = tracefmt.Aligned, 1<<uint(rng.IntN(20)), uint64(rng.IntN(5000))
		case k == 6:
			b := take(rng.IntN(len(live)))
			e.Op, e.Old, e.Size, e.Heap = tracefmt.Realloc, b.id, uint64(rng.IntN(100000)), b.heap
		default:
			b := take(rng.IntN(len(live)))
			e.Op, e.ID, e.Heap = tracefmt.Free, b.id, b.heap
		}
		if e.Op.Allocates() {
			e.ID = w.NextID()
			live = append(live, block{e.ID, e.Heap})
		}
		if err := w.Write(&e); err != nil {
			t.Fatalf("event %d %v: %v", i, e, err)
		}
		evs = append(evs, e)
	}
	w.Drop()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return evs, buf.Bytes()
}

func readAll(data []byte) ([]tracefmt.Event, tracefmt.Info, error) {
	r, err := tracefmt.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, tracefmt.Info{}, err
	}
	var evs []tracefmt.Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			return evs, r.Info(), nil
		}
		if err != nil {
			return evs, r.Info(), err
		}
		evs = append(evs, e)
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	for _, tc := range []struct {
		tick  time.Duration
		heaps bool
	}{{0, false}, {time.Millisecond, false}, {0, true}, {time.Millisecond, true}} {
		tick := tc.tick
		want, data := randomTrace(t, rng, 50000, tick, tc.heaps)
		got, info, err := readAll(data)
		if err != nil {
			t.Fatalf("tick %v: %v", tick, err)
		}
		if len(got) != len(want) {
			t.Fatalf("tick %v: read %d events, wrote %d", tick, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("tick %v: event %d: read %+v, wrote %+v", tick, i, got[i], want[i])
			}
		}
		if !info.Ended || info.Dropped != 1 || info.Format != tracefmt.Binary || info.Timestamps != (tick > 0) || info.Version != 2 {
			t.Errorf("tick %v: info %+v", tick, info)
		}
		heaps := 0
		for _, e := range want {
			if e.Op == tracefmt.HeapCreate {
				heaps++
			}
		}
		if info.Heaps != int64(heaps) || tc.heaps != (heaps > 0) {
			t.Errorf("tick %v: %d heaps read, %d written", tick, info.Heaps, heaps)
		}
		// gzipped, the same.
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		got2, info2, err := readAll(z.Bytes())
		if err != nil || len(got2) != len(want) || !info2.Gzipped {
			t.Errorf("gzipped: %d events, %+v, %v", len(got2), info2, err)
		}
		t.Logf("tick %v, %d heaps: %d events in %d bytes (%.2f bytes per event)", tick, heaps, len(want), len(data), float64(len(data))/float64(len(want)))
	}
}

// TestTruncated cuts a trace at every offset: each cut is an *Error naming
// an offset at or before the cut (ErrUnterminated exactly at the end of a
// block), never a silent success.
func TestTruncated(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 2))
	want, data := randomTrace(t, rng, 1000, time.Millisecond, true)
	blockEnds := 0
	for cut := 0; cut < len(data); cut++ {
		evs, _, err := readAll(data[:cut])
		var te *tracefmt.Error
		if !errors.As(err, &te) {
			t.Fatalf("cut at %d: error %v, want a *tracefmt.Error", cut, err)
		}
		if te.Offset > int64(cut) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", te.Offset)) {
			t.Fatalf("cut at %d: %v names offset %d", cut, err, te.Offset)
		}
		if errors.Is(err, tracefmt.ErrUnterminated) {
			blockEnds++
			if int64(cut) != te.Offset {
				t.Fatalf("cut at %d: unterminated at offset %d", cut, te.Offset)
			}
		}
		if len(evs) > len(want) {
			t.Fatalf("cut at %d: %d events", cut, len(evs))
		}
	}
	if blockEnds == 0 {
		t.Error("no cut fell between blocks")
	}
}

// TestCorrupt flips bytes: the reader reports an error naming an offset
// (the checksum catches what decoding would not).
func TestCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 3))
	_, data := randomTrace(t, rng, 3000, time.Millisecond, true)
	for i := 0; i < 2000; i++ {
		bad := bytes.Clone(data)
		at := rng.IntN(len(bad))
		bad[at] ^= byte(1 + rng.IntN(255))
		_, _, err := readAll(bad)
		var te *tracefmt.Error
		if !errors.As(err, &te) {
			t.Fatalf("byte %d flipped: error %v, want a *tracefmt.Error", at, err)
		}
		if !strings.Contains(err.Error(), "offset") {
			t.Fatalf("byte %d flipped: %v does not name the offset", at, err)
		}
	}
	// A flip in a record's payload is reported at that block.
	bad := bytes.Clone(data)
	bad[len(data)/2] ^= 0x40
	_, _, err := readAll(bad)
	t.Logf("one flipped byte at %d: %v", len(data)/2, err)
}

func TestText(t *testing.T) {
	const trace = `1 m 1 48
1 c 2 13 16
2 a 3 64 100
1 r 1 4 200
1 r 0 5 30
1 r 5 0 0
1 r 4 0 99999999
1 f 2
2 f 3
`
	evs, info, err := readAll([]byte(trace))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.String())
	}
	want := []string{"malloc(48) = #1", "calloc(13, 16) = #2", "aligned_alloc(64, 100) = #3",
		"realloc(#1, 200) = #4", "malloc(30) = #5", "free(#5)", "free(#2)", "free(#3)"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if info.Format != tracefmt.Text || info.Skipped != 1 || evs[2].Thread != 2 || evs[0].Time != -1 {
		t.Errorf("info %+v, thread %d", info, evs[2].Thread)
	}

	for _, tc := range []struct{ trace, err string }{
		{"1 m 2 48\n", "offset 0 (record 1): block id 2, 1 expected"},
		{"1 m 1 48\n1 f 2\n", "offset 9 (record 2): block 2 is not live"},
		{"1 m 1 48\n1 f 1\n1 f 1\n", "offset 15 (record 3): block 1 is not live"},
		{"1 m 1 48\n1 x 1\n", `offset 9 (record 2): unknown operation "x"`},
		{"1 m 1\n", `operation "m" takes 4 fields, the line has 3`},
		{"1 m 1 4x8\n", `field 4: "4x8" is not a number`},
		{"1 a 1 48 10\n", "alignment 48 is not a power of two"},
		{"1 r 7 1 10\n", "block 7 is not live"},
		{"zz\n", "not a trace"},
		{"", "empty trace"},
	} {
		_, _, err := readAll([]byte(tc.trace))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want one containing %q", tc.trace, err, tc.err)
		}
	}
}

func TestWriterChecks(t *testing.T) {
	w, _ := tracefmt.NewWriter(io.Discard, time.Now(), 0)
	for _, tc := range []struct {
		e   tracefmt.Event
		err string
	}{
		{tracefmt.Event{Op: tracefmt.Malloc, Seq: 1, ID: 2}, "allocation id 2, want 1"},
		{tracefmt.Event{Op: tracefmt.Free, Seq: 1, ID: 1}, "does not exist yet"},
		{tracefmt.Event{Op: 9, Seq: 1}, "bad op"},
	} {
		if err := w.Write(&tc.e); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: %v, want %q", tc.e, err, tc.err)
		}
	}
	if err := w.Write(&tracefmt.Event{Op: tracefmt.Malloc, Seq: 5, ID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&tracefmt.Event{Op: tracefmt.Malloc, Seq: 5, ID: 2}); err == nil {
		t.Error("a repeated sequence number was accepted")
	}
}

// FuzzReader feeds the reader arbitrary bytes: it must return events or an
// *Error, never panic, and never take more memory than the input warrants.
// Seeds: testdata/fuzz/FuzzReader, and the valid traces added here.
func FuzzReader(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	_, bin := randomTrace(f, rng, 40, time.Millisecond, false)
	f.Add(bin)
	_, bin = randomTrace(f, rng, 40, 0, false)
	f.Add(bin)
	_, bin = randomTrace(f, rng, 60, time.Millisecond, true)
	f.Add(bin)
	_, bin = randomTrace(f, rng, 60, 0, true)
	f.Add(bin)
	if v1, err := os.ReadFile("testdata/v1.trace"); err == nil {
		f.Add(v1)
	}
	f.Add([]byte("1 m 1 48\n1 c 2 13 16\n1 r 1 3 200\n1 f 2\n1 f 3\n"))
	f.Add([]byte("1 h 2\n1 m 1 48 @2\n1 c 2 13 16\n1 r 1 3 200 @2\n2 h 5\n2 a 4 64 10 @5\n1 d 2\n1 f 2\n2 f 4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := tracefmt.NewReader(bytes.NewReader(data))
		if err != nil {
			var te *tracefmt.Error
			if !errors.As(err, &te) {
				t.Fatalf("NewReader: %v is not a *tracefmt.Error", err)
			}
			return
		}
		for n := 0; ; n++ {
			e, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var te *tracefmt.Error
				if !errors.As(err, &te) {
					t.Fatalf("Next: %v is not a *tracefmt.Error", err)
				}
				return
			}
			if n > 2*len(data)+1 {
				t.Fatalf("%d events from %d bytes", n, len(data))
			}
			if e.Op.Allocates() && e.ID == 0 {
				t.Fatalf("allocation without an id: %+v", e)
			}
			if e.Op.OnHeap() && e.Heap == 0 {
				t.Fatalf("heap event without a heap: %+v", e)
			}
			if len(r.Ended()) > 0 && e.Op != tracefmt.HeapDestroy {
				t.Fatalf("%v ended blocks %v", e, r.Ended())
			}
		}
	})
}
