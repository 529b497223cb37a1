package arena_test

import (
	"testing"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// TestDestroy fills a Heap without a Break (two arenas, heap chunks and
// mapped chunks), destroys it, and checks that every reservation and
// mapping went back (as many unmaps as maps and reservations, the pool's
// budget kept aside), that no pointer into it is its own any more
// (OwnerID, Lookup), and that the next Heap takes its heaps from the pool,
// with old contents that Calloc clears, and its ID.
func TestDestroy(t *testing.T) {
	m := newPlainMemory(t, 0)
	pool := arena.NewHeapPool(m, 32<<20)
	p := arena.DefaultParams()
	h, err := arena.New(arena.Config{Memory: m, Params: p, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	a0 := h.Arena(0)
	a1, err := h.NewArena()
	if err != nil {
		t.Fatal(err)
	}
	var blocks []uintptr
	for i := 0; i < 3000; i++ {
		a := a0
		if i%3 == 0 {
			a = a1
		}
		n := uintptr(16 + i%2000)
		if i%500 == 0 {
			n = 300 << 10 // mapped
		}
		q := a.Malloc(n)
		if q == 0 {
			t.Fatal("Malloc failed")
		}
		clear(m.bytes(q, n))
		m.bytes(q, 1)[0] = 0xAB
		blocks = append(blocks, q)
	}
	mustCheck(t, h)
	id := h.ID()
	if got := arena.OwnerID(blocks[1]); got != id {
		t.Fatalf("OwnerID of a heap block = %d, want %d", got, id)
	}
	mapsBefore, reservesBefore, unmapsBefore := m.Calls("map"), m.Calls("reserve"), m.Calls("unmap")
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
	kept, nkept := pool.Bytes()
	if nkept == 0 || kept > 32<<20 {
		t.Fatalf("the pool kept %d heaps, %d bytes; want some, within 32 MiB", nkept, kept)
	}
	// Every mapping (the mapped chunks and the mapped-set table) and every
	// reservation not pooled was given back.
	unmaps := m.Calls("unmap") - unmapsBefore
	if want := mapsBefore + reservesBefore - nkept; unmaps != want {
		t.Errorf("Destroy made %d unmaps; want %d (maps %d + reservations %d - pooled %d)", unmaps, want, mapsBefore, reservesBefore, nkept)
	}
	for _, q := range blocks {
		if arena.OwnerID(q) == id {
			t.Fatalf("OwnerID(%#x) still names the destroyed Heap", q)
		}
		if k, _ := h.Lookup(q); k != arena.NotOurs {
			t.Fatalf("Lookup(%#x) = %d after Destroy, want NotOurs", q, k)
		}
	}

	// The next Heap reuses the pooled heaps: no reservation.
	reserves := m.Calls("reserve")
	h2, err := arena.New(arena.Config{Memory: m, Params: p, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if m.Calls("reserve") != reserves {
		t.Errorf("the new Heap reserved a heap; the pool held %d", nkept)
	}
	if reused, _ := pool.Counts(); reused == 0 {
		t.Error("the pool counts no heap reused")
	}
	for i := 0; i < 2000; i++ {
		q := h2.Arena(0).Calloc(100)
		for j, b := range m.bytes(q, 100) {
			if b != 0 {
				t.Fatalf("Calloc in a reused heap: byte %d is %#x", j, b)
			}
		}
	}
	mustCheck(t, h2)
	if h2.ID() != id {
		t.Errorf("the new Heap has ID %d, want the destroyed one's, %d (IDs are reused)", h2.ID(), id)
	}
	if err := h2.Destroy(); err != nil {
		t.Fatal(err)
	}
	pool.Release()
	if b, n := pool.Bytes(); b != 0 || n != 0 {
		t.Errorf("after Release the pool holds %d heaps, %d bytes", n, b)
	}

	// A Heap on a break cannot be destroyed.
	hb, _ := newHeap(t, 1<<20, p)
	if err := hb.Destroy(); err != arena.ErrDestroyBreak {
		t.Errorf("Destroy of a Heap with a Break: %v, want ErrDestroyBreak", err)
	}
}

// rangeMemory is a plainMemory that gives back runs of mappings in one
// call (arena.RangeUnmapper), recording each.
type rangeMemory struct {
	*plainMemory
	runs []rangeRun
}

type rangeRun struct {
	addr, n uintptr
	count   int
}

func (m *rangeMemory) UnmapRange(addr, n uintptr, count int) error {
	m.runs = append(m.runs, rangeRun{addr, n, count})
	clear(m.bytes(addr, n))
	return nil
}

// TestDestroyUnmapsRuns: the mapped chunks of a destroyed Heap that lie
// side by side go back in one call per run, through a RangeUnmapper, and
// the runs cover each chunk's mapping exactly once.
func TestDestroyUnmapsRuns(t *testing.T) {
	m := &rangeMemory{plainMemory: newPlainMemory(t, 0)}
	h, err := arena.New(arena.Config{Memory: m, Params: arena.DefaultParams()})
	if err != nil {
		t.Fatal(err)
	}
	const chunks = 12
	var total uintptr
	spans := map[uintptr]uintptr{} // mapping start -> length
	for i := 0; i < chunks; i++ {
		n := uintptr(300<<10 + i*4096) // mapped: over the mmap threshold
		q := h.Arena(0).Malloc(n)
		if q == 0 {
			t.Fatal("Malloc failed")
		}
		c := q - 16
		if !arena.IsMmapped(c) {
			t.Fatalf("block %d of %d bytes is not mapped", i, n)
		}
		// A mapped chunk's prev_size word is its offset in its mapping.
		off := *(*uintptr)(unsafe.Pointer(&m.bytes(c, 8)[0]))
		start, length := c-off, off+arena.ChunkSize(c)
		spans[start] = length
		total += length
	}
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
	var count int
	var bytes uintptr
	for _, r := range m.runs {
		count += r.count
		bytes += r.n
		// A run is whole mappings, side by side.
		for a := r.addr; a < r.addr+r.n; {
			l, ok := spans[a]
			if !ok {
				t.Fatalf("run %#x+%d does not start a mapping at %#x", r.addr, r.n, a)
			}
			delete(spans, a)
			a += l
		}
	}
	if count != chunks || bytes != total || len(spans) != 0 {
		t.Errorf("runs cover %d mappings, %d bytes (%d left over); want %d, %d", count, bytes, len(spans), chunks, total)
	}
	if len(m.runs) >= chunks {
		t.Errorf("%d calls for %d mappings made side by side; want them joined", len(m.runs), chunks)
	}
}
