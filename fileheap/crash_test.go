package fileheap_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/offheap/offheap/fileheap"
)

// block is a live block of the model: its request size and pattern seed.
type block struct {
	n    int
	seed uint64
}

// tryBytes returns h.Bytes(off), or nil if it panics (not a block).
func tryBytes(h *fileheap.Heap, off fileheap.Offset) (b []byte) {
	defer func() {
		if recover() != nil {
			b = nil
		}
	}()
	return h.Bytes(off)
}

// TestCrashAtEveryStore kills an operation, in effect, at every point
// where a process killed inside it leaves a state of its own: before each
// journaled store, just before the commit and just after it. The file is
// copied at each point (the store hook), and each copy is opened as a heap
// whose lock is held by a dead process: Open must undo the operation in
// flight, Check must pass, every block allocated before it (but the one
// being freed or moved) must be there with its contents, and the heap must
// go on working. The operations cover the slow paths: bins, splitting,
// coalescing on both sides, the top, growing and cutting the file, hole
// punching, a full quick list, and Realloc in place and moving.
func TestCrashAtEveryStore(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 2))
	dir := t.TempDir()
	h, err := fileheap.Open(filepath.Join(dir, "heap"), fileheap.Options{Size: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	live := map[fileheap.Offset]block{}
	var order []fileheap.Offset
	alloc := func(n int) fileheap.Offset {
		off, err := h.Alloc(n)
		if err != nil {
			t.Fatalf("Alloc(%d): %v", n, err)
		}
		s := r.Uint64()
		fill(h.Bytes(off)[:n], s)
		live[off] = block{n, s}
		order = append(order, off)
		return off
	}
	forget := func(off fileheap.Offset) {
		delete(live, off)
		for i, o := range order {
			if o == off {
				order = append(order[:i], order[i+1:]...)
				break
			}
		}
	}
	// A mixed start: small and middle blocks, some freed (bins, quick lists).
	for i := 0; i < 60; i++ {
		alloc([]int{24, 64, 200, 1000, 3000, 20000}[r.IntN(6)])
	}
	for i := 0; i < 20; i++ {
		off := order[r.IntN(len(order))]
		if err := h.Free(off); err != nil {
			t.Fatal(err)
		}
		forget(off)
	}

	// A full quick list of 100-byte blocks, and three more blocks of that
	// size whose frees go to the bins.
	var extra []fileheap.Offset
	for i := 0; i < fileheap.QuickCap+3; i++ {
		extra = append(extra, alloc(100))
	}
	for _, off := range extra[:fileheap.QuickCap] {
		if err := h.Free(off); err != nil {
			t.Fatal(err)
		}
		forget(off)
	}
	order = order[:len(order)-3] // the three stay live, out of the random picks

	type opCase struct {
		name string
		run  func() (inFlight fileheap.Offset)
	}
	allocOp := func(n int) opCase {
		return opCase{fmt.Sprintf("Alloc(%d)", n), func() fileheap.Offset { alloc(n); return 0 }}
	}
	freeOp := func(pick func() fileheap.Offset) opCase {
		return opCase{"Free", func() fileheap.Offset {
			off := pick()
			if err := h.Free(off); err != nil {
				t.Fatal(err)
			}
			forget(off)
			delete(live, off)
			return off
		}}
	}
	randomBlock := func() fileheap.Offset { return order[r.IntN(len(order))] }
	lastBlock := func() fileheap.Offset { return order[len(order)-1] }
	var ops []opCase
	for i := 0; i < 30; i++ {
		switch k := r.IntN(6); k {
		case 0, 1:
			ops = append(ops, allocOp([]int{1500, 2500, 6000, 40000}[r.IntN(4)]))
		case 2, 3:
			ops = append(ops, freeOp(randomBlock))
		default:
			ops = append(ops, opCase{"Realloc", func() fileheap.Offset {
				off := randomBlock()
				b := live[off]
				n := []int{16, b.n / 2, b.n + 100, 3 * b.n}[r.IntN(4)] + 1
				noff, err := h.Realloc(off, n)
				if err != nil {
					t.Fatal(err)
				}
				forget(off)
				fill(h.Bytes(noff)[:n], b.seed^1)
				live[noff] = block{n, b.seed ^ 1}
				order = append(order, noff)
				return off
			}})
		}
	}
	// Large blocks: growing the file, punching holes, cutting it.
	ops = append(ops, allocOp(200<<10), allocOp(300<<10), freeOp(func() fileheap.Offset { return order[len(order)-2] }),
		allocOp(1300<<10), freeOp(lastBlock), freeOp(lastBlock))
	// Frees past the full quick list.
	ops = append(ops, freeOp(func() fileheap.Offset { return extra[fileheap.QuickCap] }),
		freeOp(func() fileheap.Offset { return extra[fileheap.QuickCap+1] }))

	points, verified := 0, 0
	for _, o := range ops {
		// Each crash point is verified as it is reached (the hook runs
		// inside the operation, holding this heap's lock; the copy is
		// another file).
		before := map[fileheap.Offset]block{}
		for k, v := range live {
			before[k] = v
		}
		// An operation that empties the quick lists (before the file
		// grows) has thousands of points: keep a sample of them
		// (reservoir sampling), the same for every operation.
		const keep = 32
		var snaps [][]byte
		var labels []int
		n := 0
		fileheap.SetStoreHook(func(x *fileheap.Heap) {
			if x != h {
				return
			}
			if n < keep {
				snaps = append(snaps, x.Snapshot())
				labels = append(labels, n)
			} else if j := r.IntN(n + 1); j < keep {
				snaps[j] = x.Snapshot()
				labels[j] = n
			}
			n++
		})
		inFlight := o.run()
		fileheap.SetStoreHook(nil)
		mustCheck(t, h)
		for i, s := range snaps {
			verifyRecovery(t, fmt.Sprintf("%s, point %d of %d", o.name, labels[i], n), filepath.Join(dir, "copy"), s, before, inFlight)
		}
		points += n
		verified += len(snaps)
	}
	t.Logf("%d operations, %d crash points, %d of them recovered and checked", len(ops), points, verified)
	if points < 200 {
		t.Errorf("only %d crash points: the scenario misses the slow paths", points)
	}
}

// verifyRecovery opens a copy of the heap taken while its lock was held
// and checks what a kill at that point would leave.
func verifyRecovery(t *testing.T, what, path string, snap []byte, live map[fileheap.Offset]block, inFlight fileheap.Offset) {
	t.Helper()
	os.Remove(path)
	if err := os.WriteFile(path, snap, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := fileheap.Open(path, fileheap.Options{})
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	defer h.Close()
	if h.Recovered() != 1 {
		t.Fatalf("%s: Open undid %d operations, want 1", what, h.Recovered())
	}
	if err := h.Check(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for off, b := range live {
		if off == inFlight {
			continue
		}
		got := tryBytes(h, off)
		if got == nil {
			t.Fatalf("%s: block %#x (%d bytes) is no longer allocated", what, off, b.n)
		}
		if !hasPattern(got[:b.n], b.seed) {
			t.Fatalf("%s: block %#x lost its contents", what, off)
		}
	}
	blocks, _ := h.InUse()
	if want := len(live); blocks != want && blocks != want+1 && !(inFlight != 0 && blocks == want-1) {
		t.Fatalf("%s: InUse %d blocks, the model %d", what, blocks, want)
	}
	// And it goes on working.
	var offs []fileheap.Offset
	for _, n := range []int{40, 700, 5000, 100 << 10} {
		off, err := h.Alloc(n)
		if err != nil {
			t.Fatalf("%s: Alloc after recovery: %v", what, err)
		}
		offs = append(offs, off)
	}
	for _, off := range offs {
		if err := h.Free(off); err != nil {
			t.Fatalf("%s: Free after recovery: %v", what, err)
		}
	}
	if err := h.Check(); err != nil {
		t.Fatalf("%s: after more operations: %v", what, err)
	}
}
