package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/brk"
	"github.com/offheap/offheap/mmapper"
)

// childEnv carries a ChildSpec (as JSON) to a child process.
const childEnv = "OFFHEAP_REPLAY_CHILD"

// ChildSpec says what a child replays.
type ChildSpec struct {
	Target  string `json:"target"`
	Trace   string `json:"trace"`
	Partial bool   `json:"partial,omitempty"`
	NoTouch bool   `json:"no_touch,omitempty"` // do not touch the blocks' pages
	Markers bool   `json:"markers,omitempty"`  // make the marker calls for a ptrace count
	Out     string `json:"out"`                // file for the Result
}

// Result is what one replay measured.
type Result struct {
	Target   string        `json:"target"`
	Settings string        `json:"settings,omitempty"` // the OFFHEAP line of an offheap replay
	Ops      int           `json:"ops"`
	Elapsed  time.Duration `json:"elapsed_ns"` // the replay loop's wall time
	// Syscalls is the number of memory system calls during the replay,
	// -1 when unknown; SyscallsBy splits it by call.
	Syscalls   int64            `json:"syscalls"`
	SyscallsBy map[string]int64 `json:"syscalls_by,omitempty"`
	Faults     int64            `json:"faults"`    // minor and major page faults during the replay
	StartRSS   int64            `json:"start_rss"` // bytes resident before the replay (the loaded trace included)
	PeakRSS    int64            `json:"peak_rss"`  // the most bytes resident during the replay
	EndRSS     int64            `json:"end_rss"`   // bytes resident after it
	Failed     int64            `json:"failed"`    // allocations that returned nil
	Mallinfo   *alloc.Mallinfo  `json:"mallinfo,omitempty"`
	// PrivateHeaps is, for offheap and a trace with private heaps, what
	// the replay did with them.
	PrivateHeaps *PrivateHeaps `json:"private_heaps,omitempty"`
	Note         string        `json:"note,omitempty"`
}

// PrivateHeaps counts the private heaps of an offheap replay.
type PrivateHeaps struct {
	Created   uint64 `json:"created"`
	Destroyed uint64 `json:"destroyed"`
	Live      int    `json:"live"`  // live at the end
	Inuse     uint64 `json:"inuse"` // bytes in use in the live ones at the end
	Sys       uint64 `json:"sys"`   // their memory from the system
}

// MaybeChild runs the replay a parent asked for, and exits, when this
// process is such a child; otherwise it returns at once. Call it first
// thing in main (the offheap command does it from an init function) or
// in TestMain.
func MaybeChild() {
	v := os.Getenv(childEnv)
	if v == "" {
		return
	}
	os.Unsetenv(childEnv)
	var spec ChildSpec
	if err := json.Unmarshal([]byte(v), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "replay child: bad %s: %v\n", childEnv, err)
		os.Exit(2)
	}
	res, err := runChild(&spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "replay child (%s): %v\n", spec.Target, err)
		os.Exit(1)
	}
	data, _ := json.Marshal(res)
	if err := os.WriteFile(spec.Out, data, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "replay child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ReplayFunc replays the ops of t with a slot table of t.IDs+1 entries
// (and a heap table of t.Heaps+1), touching the pages of every block
// unless noTouch, and returns how many allocations failed.
type ReplayFunc func(t *Trace, noTouch bool) (failed int64)

// targets holds the replayers this binary has: offheap and go always,
// glibc in the creplay binary (RegisterTarget).
var targets = map[string]ReplayFunc{
	"offheap": replayOffheap,
	"go":      replayGo,
}

// RegisterTarget adds a replayer under name (the creplay binary adds
// "glibc").
func RegisterTarget(name string, f ReplayFunc) { targets[name] = f }

// Marker arguments of getpgid, which the ptrace counter recognizes.
const (
	markerStart = 0x0ff4ea70
	markerStop  = 0x0ff4ea71
)

func marker(m uintptr) { syscall.RawSyscall(syscall.SYS_GETPGID, m, 0, 0) }

func runChild(spec *ChildSpec) (*Result, error) {
	f := targets[spec.Target]
	if f == nil {
		return nil, fmt.Errorf("this binary cannot replay target %q", spec.Target)
	}
	t, err := Load(spec.Trace, spec.Partial)
	if err != nil {
		return nil, err
	}
	res := &Result{Target: spec.Target, Ops: len(t.Ops), Syscalls: -1}
	if spec.Target == "offheap" {
		res.Settings = os.Getenv("OFFHEAP")
	}
	debug.FreeOSMemory() // what loading left behind
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		res.Note = "peak RSS covers the whole process (clear_refs: " + err.Error() + ")"
	}
	res.StartRSS, _ = rss()
	faults0 := faults()
	sys0 := offheapSyscallsBy()
	if spec.Markers {
		marker(markerStart)
	}
	start := time.Now()
	res.Failed = f(t, spec.NoTouch)
	res.Elapsed = time.Since(start)
	if spec.Markers {
		marker(markerStop)
	}
	res.Faults = faults() - faults0
	if spec.Target == "offheap" {
		by := offheapSyscallsBy()
		for k, v := range sys0 {
			by[k] -= v
			if by[k] == 0 {
				delete(by, k)
			}
		}
		res.SyscallsBy = by
		res.Syscalls = 0
		for _, v := range by {
			res.Syscalls += v
		}
		m := alloc.Mallinfo2()
		res.Mallinfo = &m
	}
	res.EndRSS, res.PeakRSS = rss()
	if spec.Target == "offheap" && t.Heaps > 0 {
		var st alloc.Stats
		alloc.ReadStats(&st)
		ph := &PrivateHeaps{Created: st.HeapCache.Created, Destroyed: st.HeapCache.Destroyed, Live: len(st.Heaps), Sys: st.PrivateSys}
		for _, h := range st.Heaps {
			ph.Inuse += h.Inuse
		}
		res.PrivateHeaps = ph
	}
	return res, nil
}

// offheapSyscallsBy reads the brk and mmapper counters by call.
func offheapSyscallsBy() map[string]int64 {
	b, m := brk.ReadCounters(), mmapper.ReadCounters()
	return map[string]int64{
		"brk":      int64(b.Brk.Calls),
		"mmap":     int64(b.Mmap.Calls + m.Mmap.Calls),
		"munmap":   int64(m.Munmap.Calls),
		"mremap":   int64(m.Mremap.Calls),
		"madvise":  int64(b.Madvise.Calls + m.Madvise.Calls),
		"mprotect": int64(b.Mprotect.Calls + m.Mprotect.Calls),
		"mincore":  int64(m.Mincore.Calls),
	}
}

func faults() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Minflt + ru.Majflt
}

// rss returns VmRSS and VmHWM in bytes.
func rss() (cur, peak int64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1, -1
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		for _, f := range []struct {
			name string
			dst  *int64
		}{{"VmRSS:", &cur}, {"VmHWM:", &peak}} {
			if rest, ok := strings.CutPrefix(line, f.name); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				*f.dst = kb << 10
			}
		}
	}
	return cur, peak
}

const pageSize = 4096

// touch writes one byte of every page of n bytes at p.
func touch(p unsafe.Pointer, n uint64) {
	for off := uint64(0); off < n; off += pageSize {
		*(*byte)(unsafe.Add(p, off)) = 1
	}
	if n > 0 {
		*(*byte)(unsafe.Add(p, n-1)) = 1
	}
}

// replayOffheap replays t against offheap: the process heap's calls with
// the package's functions, a private heap's with its Heap's methods, and
// a heap's destroy with Destroy. A Heap has no aligned allocation: an
// aligned allocation in one takes size+alignment-16 bytes from it.
func replayOffheap(t *Trace, noTouch bool) (failed int64) {
	if t.Heaps == 0 {
		return replayOffheapFlat(t, noTouch)
	}
	slots := make([]unsafe.Pointer, t.IDs+1)
	heaps := make([]*alloc.Heap, t.Heaps+1)
	for i := range t.Ops {
		o := &t.Ops[i]
		var p unsafe.Pointer
		n := o.Size
		h := heaps[o.Heap] // nil: the process heap
		switch o.Kind {
		case 1:
			if h != nil {
				p = h.Malloc(clampInt(o.Size))
			} else {
				p = alloc.Malloc(clampInt(o.Size))
			}
		case 2:
			if h != nil {
				p = h.Calloc(clampInt(o.Arg), clampInt(o.Size))
			} else {
				p = alloc.Calloc(clampInt(o.Arg), clampInt(o.Size))
			}
			n = o.Size * o.Arg // the product fits when Calloc succeeded
		case 3:
			if h != nil {
				p = h.Realloc(slots[o.Old], clampInt(o.Size))
			} else {
				p = alloc.Realloc(slots[o.Old], clampInt(o.Size))
			}
			if p != nil || o.Size == 0 {
				slots[o.Old] = nil
			}
		case 4:
			if h != nil {
				need := o.Size + max(o.Arg, 16) - 16
				if need < o.Size {
					need = ^uint64(0) // overflowed: fails as it should
				}
				p = h.Malloc(clampInt(need))
			} else {
				p = alloc.AlignedAlloc(clampInt(o.Arg), clampInt(o.Size))
			}
		case 5:
			if h != nil {
				h.Free(slots[o.ID])
			} else {
				alloc.Free(slots[o.ID])
			}
			slots[o.ID] = nil
			continue
		case 6:
			heaps[o.Heap] = alloc.NewHeap()
			continue
		case 7:
			// The heap's blocks go with it; their slots are never read
			// again (the trace's reader checked).
			h.Destroy()
			heaps[o.Heap] = nil
			continue
		}
		if p == nil {
			failed++
			continue
		}
		if !noTouch {
			touch(p, n)
		}
		slots[o.ID] = p
	}
	runtime.KeepAlive(slots)
	return failed
}

// replayOffheapFlat is replayOffheap for a trace without private heaps
// (cc1's and CPython's), with a loop as lean as the C replayer's (creplay):
// no heap table, and the slot table a []uintptr indexed without bounds
// checks (the trace's reader checked every id against t.IDs), so that
// storing a block is a plain store, without the garbage collector's write
// barrier check. Replaying cc1, the loop of replayOffheap took 66
// instructions an op besides offheap's calls, the C one 25 (callgrind):
// the difference, a fifth of the replay's time, was the harness's, not the
// allocator's.
func replayOffheapFlat(t *Trace, noTouch bool) (failed int64) {
	slots := make([]uintptr, t.IDs+1)
	base := unsafe.Pointer(unsafe.SliceData(slots))
	slot := func(id uint32) *uintptr { return (*uintptr)(unsafe.Add(base, uintptr(id)*8)) }
	ops := t.Ops
	for i := range ops {
		o := &ops[i]
		var p unsafe.Pointer
		n := o.Size
		switch o.Kind {
		case 1:
			p = alloc.Malloc(clampInt(o.Size))
		case 2:
			p = alloc.Calloc(clampInt(o.Arg), clampInt(o.Size))
			n = o.Size * o.Arg // the product fits when Calloc succeeded
		case 3:
			s := slot(o.Old)
			p = alloc.Realloc(unsafe.Add(nil, *s), clampInt(o.Size))
			if p != nil || o.Size == 0 {
				*s = 0
			}
		case 4:
			p = alloc.AlignedAlloc(clampInt(o.Arg), clampInt(o.Size))
		case 5:
			s := slot(o.ID)
			alloc.Free(unsafe.Add(nil, *s))
			*s = 0
			continue
		default:
			continue // heap ops: none in a trace with no heaps
		}
		if p == nil {
			failed++
			continue
		}
		if !noTouch {
			touch(p, n)
		}
		*slot(o.ID) = uintptr(p)
	}
	runtime.KeepAlive(slots)
	return failed
}

// goSink keeps the Go target's blocks reachable until the next replay.
var goSink [][]byte

// replayGo replays t against Go's heap: make to allocate, dropping the
// reference to free; a heap's destroy drops its live blocks.
func replayGo(t *Trace, noTouch bool) (failed int64) {
	slots := make([][]byte, t.IDs+1)
	for i := range t.Ops {
		o := &t.Ops[i]
		var b []byte
		n, hi := o.Size, uint64(0)
		if o.Kind == 2 {
			hi, n = bits.Mul64(o.Size, o.Arg)
		}
		if o.Kind <= 4 && (hi != 0 || n > goMaxAlloc) {
			failed++ // make would panic where malloc returns NULL
			continue
		}
		switch o.Kind {
		case 1, 2, 4:
			b = make([]byte, n)
		case 3:
			b = make([]byte, clampInt(o.Size))
			copy(b, slots[o.Old])
			slots[o.Old] = nil
		case 5:
			slots[o.ID] = nil
			continue
		case 6:
			continue
		case 7:
			for _, id := range t.Ended[o.Size : o.Size+o.Arg] {
				slots[id] = nil
			}
			continue
		}
		if !noTouch && len(b) > 0 {
			touch(unsafe.Pointer(unsafe.SliceData(b)), uint64(len(b)))
		}
		slots[o.ID] = b
	}
	goSink = slots
	return failed
}

// goMaxAlloc bounds what the Go target allocates (make panics where malloc
// returns NULL).
const goMaxAlloc = 1 << 40

// clampInt converts a trace's size to int; sizes beyond int fail in the
// allocator as they would have.
func clampInt(v uint64) int {
	if v > 1<<62 {
		return -1
	}
	return int(v)
}
