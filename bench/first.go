package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The first-call workload: issue 11's target 8, "the first Malloc of a
// process: at most 50 us (a benchmark that starts fresh processes)".
//
// A sample is the first Malloc(Size) of the allocator in a fresh process,
// timed with the monotonic clock (the clock read once before, so that its
// own first call is not in the figure), then freed untimed. The runner
// starts a child process per measurement, so each sample is one fresh
// process, and ChildMain refuses the workload unless it is its first
// measurement. What each peer's first call pays differs:
//
//   - offheap: alloc's lazy set-up (settings, statistics, the arena, the
//     first heap memory) and the call. The child has queried the program
//     break before, for the peer's description (brk.Default: a brk call or
//     two, about a microsecond); BenchmarkFirstMalloc, whose child does
//     nothing before the call, is the exact figure.
//   - go-heap: make([]byte, 16); the runtime set its heap up before main.
//   - modernc-memory: the first UnsafeMalloc of a fresh Allocator (its
//     first 64 KiB mapping), under the mutex.
//   - <lib>-cgo: C malloc through cgo; the Go runtime's cgo start-up has
//     called malloc already, so the C allocator is set up before main.
//   - <lib>-native: a C program of its own (bench/cpeer/firstmalloc), run
//     by the cpeer child: the first malloc of a C process, which for glibc
//     sets up the main arena and grows the break.

// FirstMalloc is the name of the first-call workload.
const FirstMalloc = "first-malloc"

// FirstFunc is how a peer that cannot be timed in the measuring process
// (a native peer, whose first call is a C program's) measures its first
// call of size bytes: the sample of one operation, as Measure would fill
// it, with the figures the peer can know.
type FirstFunc func(size int) (Sample, error)

// MeasureFirst times the first Malloc(w.Size) of peer p in this process:
// through p.First when the peer has it, else through one of p's
// allocators. It is the first call only in a fresh process (ChildMain
// makes sure); elsewhere (a test) it times a call like any other.
func MeasureFirst(p Peer, w *Workload) (s Sample, err error) {
	defer func() {
		if e := recover(); e != nil {
			err = fmt.Errorf("%s %s: panic: %v", p.Name, w.Name, e)
		}
	}()
	if p.First != nil {
		s, err := p.First(w.Size)
		if err != nil {
			return Sample{}, fmt.Errorf("%s %s: %w", p.Name, w.Name, err)
		}
		return s, nil
	}
	if p.newAlloc == nil {
		return Sample{}, fmt.Errorf("%s %s: the peer cannot time its first call", p.Name, w.Name)
	}
	a := p.newAlloc()
	resetPeakRSS()
	before := readCounters(&p)
	time.Now() // the clock's own first reading (the vDSO's pages)
	start := time.Now()
	ptr := a.Malloc(w.Size)
	el := time.Since(start)
	after := readCounters(&p)
	*(*byte)(ptr) = 1
	a.Free(ptr)
	s = diff(&p, before, after, 1)
	s.Seconds = el.Seconds()
	s.NsPerOp = float64(el.Nanoseconds())
	s.MaxRSS = peakRSS()
	s.RSSAfter = residentBytes()
	return s, nil
}

// FirstMallocEnv is the environment variable through which Run gives a C
// allocator's child the path of the first-malloc program it built for that
// allocator (see BuildFirstProgram); the native peer runs it.
const FirstMallocEnv = "OFFHEAP_BENCH_FIRST_MALLOC"

// firstLine is the line a first-call process writes: a Sample, and for
// the C program the heap's growth before the timed call.
type firstLine struct {
	Sample
	HeapBefore *int64 `json:"heap_before,omitempty"`
}

// FirstChild is the main function of a process that times peer p's first
// Malloc(size) (MeasureFirst) and writes the sample as one line of JSON
// on stdout, for RunFirst; it returns the exit status. The process must
// not have called the allocator before, nor set it up (for offheap:
// build the peer with GoPeer, since OffheapPeer sets up the program
// break for its description).
func FirstChild(p Peer, size int) int {
	s, err := MeasureFirst(p, &Workload{Name: FirstMalloc, Kind: FirstCall, Size: size})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(s); err != nil {
		return 1
	}
	return 0
}

// RunFirst runs cmd, a process that times a first call (FirstChild, or the
// C program of BuildFirstProgram), and returns the sample it writes. A C
// program whose heap had grown before the timed call did not time a first
// call: that is an error.
func RunFirst(cmd *exec.Cmd) (Sample, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %v: %s", cmd.Path, err, lastLines(stderr.String(), 3))
	}
	var l firstLine
	if err := json.Unmarshal(bytes.TrimSpace(out), &l); err != nil {
		return Sample{}, fmt.Errorf("%s: output %q: %v", cmd.Path, out, err)
	}
	if l.HeapBefore != nil && *l.HeapBefore != 0 {
		return Sample{}, fmt.Errorf("%s: the heap had grown by %d bytes before the timed malloc: not the first call", cmd.Path, *l.HeapBefore)
	}
	if l.Ops != 1 || l.NsPerOp <= 0 {
		return Sample{}, fmt.Errorf("%s: output %q: not a sample of one call", cmd.Path, out)
	}
	return l.Sample, nil
}

// FirstProgramSource returns the path of the first-malloc C program's
// source (bench/cpeer/firstmalloc/firstmalloc.c), or an error when this
// binary does not know where the source is.
func FirstProgramSource() (string, error) {
	d := sourceDir()
	if d == "" {
		return "", fmt.Errorf("the first-malloc program is compiled from bench/cpeer/firstmalloc, and this binary does not know where the source is: run it with go run from the module")
	}
	return filepath.Join(d, "cpeer", "firstmalloc", "firstmalloc.c"), nil
}

// BuildFirstProgram compiles the first-malloc C program for C allocator
// lib into out, with $CC (or gcc), linking the allocator's library.
func BuildFirstProgram(lib CLib, out string) error {
	src, err := FirstProgramSource()
	if err != nil {
		return err
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	args := []string{"-O2", "-o", out, src}
	if lib.Tag != "" {
		args = append(args, "-l"+lib.Tag)
	}
	cmd := exec.Command(cc, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", cc, strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	return nil
}

// NativeFirst is a native peer's FirstFunc: it runs the C program that
// Run built for the child's allocator (FirstMallocEnv) with size.
func NativeFirst(size int) (Sample, error) {
	path := os.Getenv(FirstMallocEnv)
	if path == "" {
		return Sample{}, fmt.Errorf("no first-malloc program: the runner builds it (bench/cpeer/firstmalloc) and passes its path in %s", FirstMallocEnv)
	}
	return RunFirst(exec.Command(path, strconv.Itoa(size)))
}
