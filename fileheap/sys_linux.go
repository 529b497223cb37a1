package fileheap

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The file and process system calls fileheap makes itself (none of them is
// a memory system call: mappings and msync go through package mmapper).

// The futex operations (linux/futex.h), without FUTEX_PRIVATE_FLAG.
const (
	futexWaitOp = 0
	futexWakeOp = 1
)

// futexWait sleeps while the shared word at p holds val, for at most d.
// Wake-ups may be spurious; the caller re-reads the word. The futex is not
// FUTEX_PRIVATE: other processes wait on the same word of the file.
func futexWait(p *uint32, val uint32, d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(p)), futexWaitOp, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWake wakes one process (or thread) sleeping on the word at p.
func futexWake(p *uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(p)), futexWakeOp, 1, 0, 0, 0)
}

// Open file description (OFD) locks tell which processes are alive: each
// Heap write-locks one byte of the file, its slot's first byte, for as long
// as it has the heap open. The kernel drops the lock when the last file
// descriptor of that open file goes away, which for a process killed by
// SIGKILL is once all its threads have stopped: a slot whose byte is not
// locked belongs to nobody, whatever pid is written in it. Unlike
// kill(pid, 0), that cannot be fooled by a reused pid or a zombie.

func ofdRange(typ int16, off int64) unix.Flock_t {
	return unix.Flock_t{Type: typ, Whence: 0, Start: off, Len: 1}
}

// ofdTryLock write-locks the byte at off for this open file, without
// waiting; it reports false when another open file holds it.
func ofdTryLock(fd int, off int64) (bool, error) {
	lk := ofdRange(unix.F_WRLCK, off)
	err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EACCES):
		return false, nil
	}
	return false, os.NewSyscallError("fcntl(F_OFD_SETLK)", err)
}

// ofdUnlock releases the byte at off.
func ofdUnlock(fd int, off int64) error {
	lk := ofdRange(unix.F_UNLCK, off)
	return os.NewSyscallError("fcntl(F_OFD_SETLK)", unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk))
}

// ofdHeld reports whether another open file holds a lock on the byte at
// off. A lock of this open file does not count (the kernel reports no
// conflict with one's own locks), so callers never ask about their own slot.
func ofdHeld(fd int, off int64) (bool, error) {
	lk := ofdRange(unix.F_WRLCK, off)
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
		return false, os.NewSyscallError("fcntl(F_OFD_GETLK)", err)
	}
	return lk.Type != unix.F_UNLCK, nil
}

// fileLength returns the length of the open file.
func fileLength(fd int) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, os.NewSyscallError("fstat", err)
	}
	return st.Size, nil
}

// diskBytes returns the bytes the file occupies on its device.
func diskBytes(fd int) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, os.NewSyscallError("fstat", err)
	}
	return st.Blocks * 512, nil
}

// setLength sets the file's length (ftruncate): growing leaves a hole that
// reads as zeros and takes no space on the device until written.
func setLength(fd int, n int64) error {
	for {
		err := unix.Ftruncate(fd, n)
		if err != unix.EINTR {
			return os.NewSyscallError("ftruncate", err)
		}
	}
}

// punch gives the file's pages in [off, off+n) back to the device; they
// read as zeros afterwards. It returns the error of fallocate
// (EOPNOTSUPP on a file system without FALLOC_FL_PUNCH_HOLE).
func punch(fd int, off, n int64) error {
	return unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// startTime returns the start time of process pid in clock ticks after
// boot (field 22 of /proc/pid/stat), or 0 if it cannot be read. It is
// recorded with the pid, so that a reader of the slots can tell a reused
// pid from the process that opened the heap.
func startTime(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0
	}
	v, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

var selfStart = sync.OnceValue(func() uint64 { return startTime(os.Getpid()) })
