package fileheap_test

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/offheap/offheap/fileheap"
)

// TestTwoProcesses is issue 15's target 1: two processes, each allocating,
// filling and freeing FILEHEAP_BLOCKS blocks of 16-4096 bytes (default
// 200,000; the target is 1,000,000) in the same file at once, checking
// every block's pattern before freeing it (churnChild). No block is handed
// out twice, every pattern is intact, and Check passes; nothing is left.
func TestTwoProcesses(t *testing.T) {
	blocks := envInt("FILEHEAP_BLOCKS", 200000)
	if testing.Short() || raceEnabled {
		blocks = min(blocks, 20000)
	}
	seed := testSeed(t)
	h, path := open(t, 0) // creates the file; kept open: a third client
	defer h.Close()
	start := time.Now()
	var cmds []*exec.Cmd
	procs := envInt("FILEHEAP_PROCS", 2)
	for i := 0; i < procs; i++ {
		cmds = append(cmds, startChild(t, "churn", "FILEHEAP_PATH="+path,
			fmt.Sprintf("FILEHEAP_SEED=%d", seed+uint64(i)), fmt.Sprintf("FILEHEAP_BLOCKS=%d", blocks)))
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	elapsed := time.Since(start)
	mustCheck(t, h)
	if b, n := h.InUse(); b != 0 || n != 0 {
		t.Errorf("InUse after both processes freed everything: %d blocks, %d bytes", b, n)
	}
	st, err := h.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d processes x %d blocks in %v (%.0f ns per block per process); file %d bytes, %d on the device; recoveries %d",
		procs, blocks, elapsed, float64(elapsed.Nanoseconds())/float64(blocks), st.FileSize, st.DiskBytes, st.Recoveries)
	if st.Recoveries != 0 {
		t.Errorf("%d recoveries, but no process died", st.Recoveries)
	}
}

// Goroutines of one process share a Heap (the -race build checks the Go
// side; the file's memory is checked by the patterns).
func TestGoroutines(t *testing.T) {
	seed := testSeed(t)
	h, _ := open(t, 0)
	defer h.Close()
	const workers, ops = 4, 20000
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			type slot struct {
				off  fileheap.Offset
				n    int
				seed uint64
			}
			var slots [64]slot
			for i := 0; i < ops; i++ {
				s := &slots[r.IntN(len(slots))]
				if s.off != 0 {
					if !hasPattern(h.Bytes(s.off)[:s.n], s.seed) {
						errs <- fmt.Errorf("block %#x overwritten", s.off)
						return
					}
					var err error
					if r.IntN(4) == 0 {
						n := 1 + r.IntN(3000)
						if s.off, err = h.Realloc(s.off, n); err != nil {
							errs <- err
							return
						}
						if !hasPattern(h.Bytes(s.off)[:min(n, s.n)], s.seed) {
							errs <- fmt.Errorf("Realloc lost the contents of %#x", s.off)
							return
						}
						s.n, s.seed = n, r.Uint64()
						fill(h.Bytes(s.off)[:n], s.seed)
						continue
					}
					if err := h.Free(s.off); err != nil {
						errs <- err
						return
					}
				}
				n := r.IntN(2000)
				off, err := h.Alloc(n)
				if err != nil {
					errs <- err
					return
				}
				*s = slot{off, n, r.Uint64()}
				fill(h.Bytes(off)[:n], s.seed)
			}
			for _, s := range slots {
				if s.off != 0 {
					if err := h.Free(s.off); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mustCheck(t, h)
	if b, _ := h.InUse(); b != 0 {
		t.Errorf("InUse %d blocks after all were freed", b)
	}
}
