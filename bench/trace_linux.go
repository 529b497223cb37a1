package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/offheap/offheap/internal/sysregs"
)

// Counting every peer's memory system calls.
//
// offheap counts its own calls (brk and mmapper counters), but glibc,
// jemalloc, mimalloc and Go's runtime do not, so the runner counts them
// all the same way, in a pass of its own: the child, told so by the
// environment, installs a seccomp filter that sends brk, mmap, munmap,
// mremap, madvise and mprotect (and the marker, getpgid) to its tracer and
// lets every other call through, and the runner, its tracer, counts the
// stops between the markers that Measure makes around the timed run. Only
// those calls stop, so the pass costs little, but a stop costs some
// microseconds: its timings are not used, and syscalls are reported per
// operation of that pass. Every thread is counted (the Go runtime's calls
// included: few in a steady state).

// traceEnv tells a child that its parent traces it.
const traceEnv = "OFFHEAP_BENCH_TRACE=1"

// Marker arguments of getpgid, which the tracer recognizes.
const (
	markerStart = 0x0ff4eb70
	markerStop  = 0x0ff4eb71
)

// tracedSyscalls are the calls the filter traces.
var tracedSyscalls = []uint32{syscall.SYS_BRK, syscall.SYS_MMAP, syscall.SYS_MUNMAP, syscall.SYS_MREMAP,
	syscall.SYS_MADVISE, syscall.SYS_MPROTECT, syscall.SYS_GETPGID}

type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

type sockFprog struct {
	n      uint16
	_      [6]byte
	filter *sockFilter
}

const (
	bpfLdAbsW        = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeqK          = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfRetK          = 0x06 // BPF_RET | BPF_K
	seccompRetAllow  = 0x7fff0000
	seccompRetTrace  = 0x7ff00000
	seccompSetFilter = 1
	seccompTsync     = 1
	prSetNoNewPrivs  = 38
	ptraceEventSecc  = 7
	ptraceOExitKill  = 0x100000
	ptraceOSeccomp   = 0x80
)

// seccompProgram is the filter: trace the calls of tracedSyscalls made
// with this architecture's calling convention, allow everything else.
func seccompProgram() []sockFilter {
	m := uint8(len(tracedSyscalls))
	prog := []sockFilter{
		{bpfLdAbsW, 0, 0, 4}, // seccomp_data.arch
		{bpfJeqK, 0, m + 1, sysregs.AuditArch},
		{bpfLdAbsW, 0, 0, 0}, // seccomp_data.nr
	}
	for i, nr := range tracedSyscalls {
		prog = append(prog, sockFilter{bpfJeqK, m - uint8(i), 0, nr})
	}
	return append(prog, sockFilter{bpfRetK, 0, 0, seccompRetAllow}, sockFilter{bpfRetK, 0, 0, seccompRetTrace})
}

// maybeTraceSelf installs the filter when the environment says the parent
// traces this process, and returns whether it did. Without a tracer the
// traced calls would fail with ENOSYS, so it checks TracerPid first.
func maybeTraceSelf() (bool, error) {
	if !strings.Contains(os.Getenv(strings.Split(traceEnv, "=")[0]), "1") {
		return false, nil
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(status), "TracerPid:") || strings.Contains(string(status), "TracerPid:\t0\n") {
		return false, errors.New("bench: asked to be traced, but no tracer is attached")
	}
	if !sysregs.Supported {
		return false, errors.New("bench: system call tracing is written for amd64 and arm64")
	}
	prog := seccompProgram()
	fprog := sockFprog{n: uint16(len(prog)), filter: &prog[0]}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		return false, fmt.Errorf("bench: prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, seccompSetFilter, seccompTsync, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return false, fmt.Errorf("bench: seccomp: %w", e)
	}
	runtime.KeepAlive(prog)
	return true, nil
}

// traceSupported says why this machine cannot count system calls under
// ptrace with a seccomp filter, or returns nil.
func traceSupported() error {
	if !sysregs.Supported {
		return errors.New("the tracer is written for amd64 and arm64")
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(b), "\nSeccomp:") {
		return errors.New("the kernel has no seccomp filters")
	}
	return nil
}

// marker makes the getpgid call the tracer counts between.
func marker(m uintptr) { syscall.RawSyscall(syscall.SYS_GETPGID, m, 0, 0) }

// traceChild runs path with args and env (plus traceEnv) under ptrace and
// counts the traced calls of all its threads between the markers, each
// marked stretch separately. It calls out with the child's stdout and
// returns the counts and the child's exit status; stderr is collected into
// errOut.
func traceChild(path string, args, env []string, timeout time.Duration, out func(io.Reader), errOut io.Writer) (counts []int64, ws syscall.WaitStatus, err error) {
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, 0, err
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdoutR.Close()
		stdoutW.Close()
		return nil, 0, err
	}
	readers := make(chan struct{}, 2)
	go func() { out(stdoutR); io.Copy(io.Discard, stdoutR); stdoutR.Close(); readers <- struct{}{} }()
	go func() { io.Copy(errOut, stderrR); stderrR.Close(); readers <- struct{}{} }()
	defer func() { <-readers; <-readers }()

	// ptrace requests must come from the thread that is the tracer.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		stdoutW.Close()
		stderrW.Close()
		return nil, 0, err
	}
	pid, err := syscall.ForkExec(path, append([]string{path}, args...), &syscall.ProcAttr{
		Env:   append(env, traceEnv),
		Files: []uintptr{devnull.Fd(), stdoutW.Fd(), stderrW.Fd()},
		Sys:   &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL, Setpgid: true},
	})
	devnull.Close()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		return nil, 0, err
	}
	kill := time.AfterFunc(timeout, func() { syscall.Kill(-pid, syscall.SIGKILL) })
	defer kill.Stop()
	if _, err := wait4(pid, &ws); err != nil || !ws.Stopped() {
		syscall.Kill(pid, syscall.SIGKILL)
		return nil, ws, fmt.Errorf("ptrace: the child did not stop at exec (%v, status %v)", err, ws)
	}
	if err := syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACECLONE|ptraceOSeccomp|ptraceOExitKill); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		return nil, ws, fmt.Errorf("ptrace: %w", err)
	}
	if err := syscall.PtraceCont(pid, 0); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		return nil, ws, fmt.Errorf("ptrace: %w", err)
	}
	counting := false
	started := map[int]bool{pid: true}
	var status syscall.WaitStatus
	for {
		// The child leads a process group of its own: waiting for that
		// group sees its threads and no other child of this process.
		tid, err := wait4(-pid, &ws)
		if errors.Is(err, syscall.ECHILD) {
			break
		}
		if err != nil {
			return counts, status, fmt.Errorf("ptrace: wait: %w", err)
		}
		switch {
		case ws.Exited() || ws.Signaled():
			if tid == pid {
				status = ws
			}
			continue
		case !ws.Stopped():
			continue
		}
		sig, deliver := ws.StopSignal(), 0
		switch {
		case sig == syscall.SIGTRAP && ws.TrapCause() == ptraceEventSecc:
			var regs syscall.PtraceRegs
			if syscall.PtraceGetRegs(tid, &regs) == nil {
				switch nr, arg0 := sysregs.Call(&regs); {
				case nr == syscall.SYS_GETPGID && arg0 == markerStart:
					counting = true
					counts = append(counts, 0)
				case nr == syscall.SYS_GETPGID && arg0 == markerStop:
					counting = false
				case nr == syscall.SYS_GETPGID:
				case counting:
					counts[len(counts)-1]++
				}
			}
		case sig == syscall.SIGTRAP && ws.TrapCause() > 0: // clone, exec, ... events
		case sig == syscall.SIGSTOP && !started[tid]: // a new thread's first stop
		default:
			deliver = int(sig) // a signal for the child (Go uses SIGURG, ...)
		}
		started[tid] = true
		syscall.PtraceCont(tid, deliver) // fails only for a thread that died meanwhile
	}
	return counts, status, nil
}

func wait4(pid int, ws *syscall.WaitStatus) (int, error) {
	for {
		tid, err := syscall.Wait4(pid, ws, syscall.WALL, nil)
		if err == syscall.EINTR {
			continue
		}
		return tid, err
	}
}

// readLines calls f on each line of r.
func readLines(r io.Reader, f func([]byte)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f(sc.Bytes())
	}
}
