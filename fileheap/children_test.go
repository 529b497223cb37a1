package fileheap_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/offheap/offheap/fileheap"
)

// children are the programs the multi-process tests run in a child
// process: the test binary again, with FILEHEAP_CHILD set (TestMain).
var children = map[string]func() error{
	"writer":     writerChild,
	"churn":      churnChild,
	"die-locked": dieLockedChild,
}

// startChild starts this test binary as child kind with extra environment
// variables, and waits until it prints "ready".
func startChild(t testing.TB, kind string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "FILEHEAP_CHILD="+kind), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child %s did not start: %q, %v", kind, line, err)
	}
	return cmd
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envUint(name string) uint64 {
	v, _ := strconv.ParseUint(os.Getenv(name), 10, 64)
	return v
}

// A node of the writer's list: next, seed, size (the request), then the
// pattern of seed over the rest.
const nodeHdr = 24

func writeNode(b []byte, next fileheap.Offset, seed uint64, n int) {
	binary.LittleEndian.PutUint64(b[8:], seed)
	binary.LittleEndian.PutUint64(b[16:], uint64(n))
	fill(b[nodeHdr:n], seed)
	binary.LittleEndian.PutUint64(b[0:], uint64(next))
}

// writerChild allocates, writes and links blocks into a list under the
// root, unlinks and frees them, and reallocates the block it holds, until
// it is killed. It holds at most one block outside the list at any time.
func writerChild() error {
	h, err := fileheap.Open(os.Getenv("FILEHEAP_PATH"), fileheap.Options{Size: 64 << 20})
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(envUint("FILEHEAP_SEED"), 3))
	fmt.Println("ready")
	length := 0
	for off := h.Root(); off != 0; off = fileheap.Offset(binary.LittleEndian.Uint64(h.Bytes(off))) {
		length++
	}
	target := 50 + r.IntN(400)
	for {
		switch k := r.IntN(100); {
		case k < 50 && length < 2*target || length == 0:
			n := nodeHdr + r.IntN(4096)
			if r.IntN(50) == 0 {
				n = 64<<10 + r.IntN(256<<10)
			}
			off, err := h.Alloc(n)
			if err != nil {
				return err
			}
			seed := r.Uint64()
			writeNode(h.Bytes(off), 0, seed, n)
			if r.IntN(8) == 0 {
				// Resize it while it is held outside the list.
				n = nodeHdr + r.IntN(8192)
				if off, err = h.Realloc(off, n); err != nil {
					return err
				}
				writeNode(h.Bytes(off), 0, seed, n)
			}
			binary.LittleEndian.PutUint64(h.Bytes(off), uint64(h.Root()))
			h.SetRoot(off)
			length++
		case k < 90:
			off := h.Root()
			h.SetRoot(fileheap.Offset(binary.LittleEndian.Uint64(h.Bytes(off))))
			if err := h.Free(off); err != nil {
				return err
			}
			length--
		default:
			// Unlink one from the middle.
			if length < 3 {
				continue
			}
			prev := h.Root()
			for i := r.IntN(length - 2); i > 0; i-- {
				prev = fileheap.Offset(binary.LittleEndian.Uint64(h.Bytes(prev)))
			}
			off := fileheap.Offset(binary.LittleEndian.Uint64(h.Bytes(prev)))
			binary.LittleEndian.PutUint64(h.Bytes(prev), binary.LittleEndian.Uint64(h.Bytes(off)))
			if err := h.Free(off); err != nil {
				return err
			}
			length--
		}
	}
}

// churnChild allocates, fills and frees FILEHEAP_BLOCKS blocks of 16-4096
// bytes, with 1,000 live at a time, checking each block's pattern before
// freeing it: a block handed out twice, here or to another process at the
// same time, shows as a broken pattern.
func churnChild() error {
	h, err := fileheap.Open(os.Getenv("FILEHEAP_PATH"), fileheap.Options{})
	if err != nil {
		return err
	}
	defer h.Close()
	r := rand.New(rand.NewPCG(envUint("FILEHEAP_SEED"), uint64(os.Getpid())))
	fmt.Println("ready")
	type slot struct {
		off  fileheap.Offset
		n    int
		seed uint64
	}
	var slots [1000]slot
	release := func(s *slot) error {
		if s.off == 0 {
			return nil
		}
		if !hasPattern(h.Bytes(s.off)[:s.n], s.seed) {
			return fmt.Errorf("block %#x (%d bytes) was overwritten: handed out twice?", s.off, s.n)
		}
		if err := h.Free(s.off); err != nil {
			return err
		}
		s.off = 0
		return nil
	}
	for i := envInt("FILEHEAP_BLOCKS", 100000); i > 0; i-- {
		s := &slots[r.IntN(len(slots))]
		if err := release(s); err != nil {
			return err
		}
		n := 16 + r.IntN(4096-16+1)
		off, err := h.Alloc(n)
		if err != nil {
			return err
		}
		s.off, s.n, s.seed = off, n, r.Uint64()
		fill(h.Bytes(off)[:n], s.seed)
	}
	for i := range slots {
		if err := release(&slots[i]); err != nil {
			return err
		}
	}
	return nil
}

// dieLockedChild takes the lock, starts freeing the block at
// FILEHEAP_OFFSET (journaling half of the free) and dies holding the lock,
// as a process killed inside Free would.
func dieLockedChild() error {
	h, err := fileheap.Open(os.Getenv("FILEHEAP_PATH"), fileheap.Options{})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	if err := h.BeginFree(envUint("FILEHEAP_OFFSET")); err != nil {
		return err
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
