package brk

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw system calls. Each makes exactly one call and reports the kernel's
// answer as a syscall.Errno (0 = success); it neither validates nor counts.
// Addresses and sizes are page aligned, sizes > 0.

// pageSize is the kernel's page size, read once.
var pageSize = uintptr(unix.Getpagesize())

// sysBrkQuery returns the current break: brk(0) answers with it.
func sysBrkQuery() (uintptr, syscall.Errno) {
	cur, _, errno := unix.RawSyscall(unix.SYS_BRK, 0, 0, 0)
	if errno == 0 && cur == 0 {
		errno = syscall.ENOMEM // no break at all: nothing to build on
	}
	return cur, errno
}

// sysBrkSet moves the break to addr. The brk system call reports no errno: it
// returns the new break, or the old one when it refuses (RLIMIT_DATA, a
// mapping in the way, overcommit), which is ENOMEM to glibc's sbrk and to us.
// An errno can still come back from a seccomp filter.
func sysBrkSet(addr uintptr) syscall.Errno {
	got, _, errno := unix.RawSyscall(unix.SYS_BRK, addr, 0, 0)
	if errno == 0 && got != addr {
		errno = syscall.ENOMEM
	}
	return errno
}

// sysMmap maps n bytes of private anonymous memory with prot and flags
// (MAP_PRIVATE|MAP_ANONYMOUS are added) wherever the kernel likes.
func sysMmap(n uintptr, prot, flags int) (uintptr, syscall.Errno) {
	p, err := unix.MmapPtr(-1, 0, nil, n, prot, flags|unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0, errnoOf(err)
	}
	return uintptr(p), 0
}

func sysMprotect(addr, n uintptr, prot int) syscall.Errno {
	return errnoOf(unix.Mprotect(bytesAt(addr, n), prot))
}

func sysMadvise(addr, n uintptr, advice int) syscall.Errno {
	return errnoOf(unix.Madvise(bytesAt(addr, n), advice))
}

// bytesAt views off-heap memory as a slice, for the x/sys/unix functions that
// take one. The slice never outlives the call.
func bytesAt(addr, n uintptr) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(nil, addr)), n)
}

// errnoOf extracts the errno from an x/sys/unix error (always a
// syscall.Errno today; EIO keeps a failure a failure if that ever changes).
func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return errno
	}
	return syscall.EIO
}
