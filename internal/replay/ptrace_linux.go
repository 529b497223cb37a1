package replay

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"github.com/offheap/offheap/internal/sysregs"
)

// memorySyscalls names the system calls the ptrace counter counts.
var memorySyscalls = map[uint64]string{
	syscall.SYS_BRK:      "brk",
	syscall.SYS_MMAP:     "mmap",
	syscall.SYS_MUNMAP:   "munmap",
	syscall.SYS_MREMAP:   "mremap",
	syscall.SYS_MADVISE:  "madvise",
	syscall.SYS_MPROTECT: "mprotect",
}

// countSyscalls runs exe with argv and env under ptrace, following every
// thread, and counts the memory system calls any thread makes between the
// child's start and stop markers. It returns the counts by name and the
// child's exit status.
func countSyscalls(exe string, argv, env []string) (map[string]int64, syscall.WaitStatus, error) {
	if !sysregs.Supported {
		return nil, 0, errors.New("ptrace: counting system calls is written for amd64 and arm64, not " + runtime.GOARCH)
	}
	// ptrace requests must come from the thread that is the tracer.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, 0, err
	}
	defer devnull.Close()
	pid, err := syscall.ForkExec(exe, argv, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{devnull.Fd(), os.Stderr.Fd(), os.Stderr.Fd()},
		Sys:   &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL, Setpgid: true},
	})
	if err != nil {
		return nil, 0, err
	}
	var ws syscall.WaitStatus
	if _, err := wait(pid, &ws); err != nil || !ws.Stopped() {
		syscall.Kill(pid, syscall.SIGKILL)
		return nil, ws, fmt.Errorf("ptrace: the child did not stop at exec (%v, status %v)", err, ws)
	}
	const opts = syscall.PTRACE_O_TRACESYSGOOD | syscall.PTRACE_O_TRACECLONE | 0x100000 // PTRACE_O_EXITKILL
	if err := syscall.PtraceSetOptions(pid, opts); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		return nil, ws, fmt.Errorf("ptrace: %w", err)
	}
	if err := syscall.PtraceSyscall(pid, 0); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		return nil, ws, fmt.Errorf("ptrace: %w", err)
	}

	counts := map[string]int64{}
	inSyscall := map[int]bool{}
	started := map[int]bool{pid: true}
	counting := false
	var status syscall.WaitStatus
	for {
		// The child leads a process group of its own: waiting for that
		// group sees its threads and no other child of this process.
		tid, err := wait(-pid, &ws)
		if errors.Is(err, syscall.ECHILD) {
			break
		}
		if err != nil {
			return nil, status, fmt.Errorf("ptrace: wait: %w", err)
		}
		switch {
		case ws.Exited() || ws.Signaled():
			delete(inSyscall, tid)
			if tid == pid {
				status = ws
			}
			continue
		case !ws.Stopped():
			continue
		}
		sig := ws.StopSignal()
		deliver := 0
		switch {
		case sig == syscall.SIGTRAP|0x80: // a system call stop
			entering := !inSyscall[tid]
			inSyscall[tid] = entering
			if entering {
				var regs syscall.PtraceRegs
				if syscall.PtraceGetRegs(tid, &regs) == nil {
					nr, arg0 := sysregs.Call(&regs)
					switch {
					case nr == syscall.SYS_GETPGID && arg0 == markerStart:
						counting = true
					case nr == syscall.SYS_GETPGID && arg0 == markerStop:
						counting = false
					case counting:
						if name, ok := memorySyscalls[nr]; ok {
							counts[name]++
						}
					}
				}
			}
		case sig == syscall.SIGTRAP && ws.TrapCause() > 0: // clone, exec, ... events
		case sig == syscall.SIGSTOP && !started[tid]: // a new thread's first stop
			started[tid] = true
		default:
			deliver = int(sig) // a signal for the child (Go uses SIGURG, ...)
		}
		started[tid] = true
		syscall.PtraceSyscall(tid, deliver) // fails only for a thread that died meanwhile
	}
	return counts, status, nil
}

func wait(pid int, ws *syscall.WaitStatus) (int, error) {
	for {
		tid, err := syscall.Wait4(pid, ws, syscall.WALL, nil)
		if err == syscall.EINTR {
			continue
		}
		return tid, err
	}
}
