package fileheap_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/offheap/offheap/fileheap"
)

// TestKill is issue 15's target 2: a writer (writerChild) that allocates,
// frees, reallocates and links blocks into a list under the root is killed
// with SIGKILL at a random moment, FILEHEAP_KILL_RUNS times (default 20;
// the target is 200). After every kill the heap is checked, alternately by
// a fresh Open and by a Heap this process has kept open all along (the
// next locker recovers). Open succeeds, Check passes, every block in the
// list has its pattern, and InUse counts at most one block more than the
// list, beyond the blocks earlier kills left (each kill may lose the one
// block the writer held outside the list).
func TestKill(t *testing.T) {
	runs := envInt("FILEHEAP_KILL_RUNS", 20)
	if testing.Short() {
		runs = min(runs, 5)
	}
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 4))
	path := filepath.Join(t.TempDir(), "heap")
	kept, err := fileheap.Open(path, fileheap.Options{Size: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	baseline := 0 // blocks outside the list left by earlier kills
	inFlight := 0 // kills that landed inside an operation
	var maxList, totalDelay int
	for run := 0; run < runs; run++ {
		recoveriesBefore := recoveries(t, kept)
		delay := time.Duration(r.IntN(40000)) * time.Microsecond
		cmd := startChild(t, "writer", "FILEHEAP_PATH="+path, fmt.Sprintf("FILEHEAP_SEED=%d", r.Uint64()))
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("run %d: the writer ended by itself before the kill: %v", run, err)
		}
		what := fmt.Sprintf("run %d (kill after %v)", run, delay)
		h := kept
		if run%2 == 0 {
			if h, err = fileheap.Open(path, fileheap.Options{}); err != nil {
				t.Fatalf("%s: Open: %v", what, err)
			}
		}
		if err := h.Check(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		n := walkList(t, what, h)
		blocks, _ := h.InUse()
		if blocks > n+baseline+1 || blocks < n {
			t.Fatalf("%s: InUse %d blocks, the list %d, left by earlier kills %d: more than one block lost", what, blocks, n, baseline)
		}
		baseline = blocks - n
		if h != kept {
			h.Close()
		}
		if recoveries(t, kept) > recoveriesBefore {
			inFlight++
		}
		maxList = max(maxList, n)
		totalDelay += int(delay / time.Millisecond)
	}
	t.Logf("%d kills, %d of them inside an operation (undone by the next locker); list up to %d blocks; %d blocks lost in all",
		runs, inFlight, maxList, baseline)
}

// recoveries returns the heap's count of undone operations.
func recoveries(t *testing.T, h *fileheap.Heap) int64 {
	st, err := h.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.Recoveries
}

// walkList checks every node of the writer's list and returns its length.
func walkList(t *testing.T, what string, h *fileheap.Heap) int {
	n := 0
	for off := h.Root(); off != 0; n++ {
		b := tryBytes(h, off)
		if b == nil {
			t.Fatalf("%s: node %d of the list, %#x, is not an allocated block", what, n, off)
		}
		seed, size := binary.LittleEndian.Uint64(b[8:]), int(binary.LittleEndian.Uint64(b[16:]))
		if size < nodeHdr || size > len(b) || !hasPattern(b[nodeHdr:size], seed) {
			t.Fatalf("%s: node %d of the list, %#x, lost its contents", what, n, off)
		}
		if n > 1<<20 {
			t.Fatalf("%s: the list loops", what)
		}
		off = fileheap.Offset(binary.LittleEndian.Uint64(b))
	}
	return n
}

// A process that dies holding the lock, in the middle of a Free, is
// noticed by the next locker in a process that has the heap open, which
// undoes the half-done Free: the block is still allocated and intact.
func TestNextLockerRecovers(t *testing.T) {
	h, path := open(t, 0)
	defer h.Close()
	var offs []fileheap.Offset
	for _, n := range []int{5000, 6000, 7000} {
		off, err := h.Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		fill(h.Bytes(off)[:n], uint64(n))
		offs = append(offs, off)
	}
	if err := h.Free(offs[0]); err != nil { // a free neighbour to coalesce with
		t.Fatal(err)
	}
	cmd := startChild(t, "die-locked", "FILEHEAP_PATH="+path, fmt.Sprintf("FILEHEAP_OFFSET=%d", offs[1]))
	cmd.Wait()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() {
		t.Fatalf("the child did not die by SIGKILL: %v", cmd.ProcessState)
	}
	if w := h.LockWord(); w == 0 {
		t.Fatal("the child died without holding the lock: the test tests nothing")
	}
	start := time.Now()
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the lock was taken over and the free undone in %v", time.Since(start))
	if h.Recovered() != 1 {
		t.Errorf("Recovered = %d, want 1", h.Recovered())
	}
	for i, n := range []int{6000, 7000} {
		if b := tryBytes(h, offs[i+1]); b == nil || !hasPattern(b[:n], uint64(n)) {
			t.Errorf("block %d lost by the undone free", i+1)
		}
	}
	// A new Heap in this process takes the dead child's slot (a new
	// generation of it) and works.
	h2 := reopen(t, path, 0)
	defer h2.Close()
	if _, err := h2.Alloc(10); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, h2)
}
