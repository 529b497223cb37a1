package mmapper

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw system calls. Each makes exactly one call and reports the kernel's
// answer as a syscall.Errno (0 = success); it neither validates nor counts.
// Contracts, as mimalloc's prim.h states them: addr is page aligned, n > 0 and
// a multiple of the page size, [addr, addr+n) does not wrap.

// pageSize is the kernel's page size, read once.
var pageSize = uintptr(unix.Getpagesize())

// sysMmap maps n bytes of private anonymous memory with prot and flags
// (MAP_PRIVATE|MAP_ANONYMOUS are added) wherever the kernel likes.
func sysMmap(n uintptr, prot, flags int) (uintptr, syscall.Errno) {
	p, err := unix.MmapPtr(-1, 0, nil, n, prot, flags|unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0, errnoOf(err)
	}
	return uintptr(p), 0
}

// sysMmapFile maps n bytes of file fd from offset off with prot and flags
// (MAP_SHARED or MAP_PRIVATE given by the caller, MAP_FIXED when addr must
// be kept), at addr or wherever the kernel likes when addr is 0.
func sysMmapFile(addr, n uintptr, prot, flags, fd int, off int64) (uintptr, syscall.Errno) {
	p, err := unix.MmapPtr(fd, off, unsafe.Add(nil, addr), n, prot, flags)
	if err != nil {
		return 0, errnoOf(err)
	}
	return uintptr(p), 0
}

// sysMsync writes back the dirty pages of [addr, addr+n) (flags MS_SYNC or
// MS_ASYNC, with MS_INVALIDATE if asked).
func sysMsync(addr, n uintptr, flags int) syscall.Errno {
	return errnoOf(unix.Msync(bytesAt(addr, n), flags))
}

func sysMunmap(addr, n uintptr) syscall.Errno {
	return errnoOf(unix.MunmapPtr(unsafe.Add(nil, addr), n))
}

// sysMremap resizes the mapping at addr; flags is 0 or MREMAP_MAYMOVE.
func sysMremap(addr, oldN, newN uintptr, flags int) (uintptr, syscall.Errno) {
	p, err := unix.MremapPtr(unsafe.Add(nil, addr), oldN, nil, newN, flags)
	if err != nil {
		return 0, errnoOf(err)
	}
	return uintptr(p), 0
}

func sysMadvise(addr, n uintptr, advice int) syscall.Errno {
	return errnoOf(unix.Madvise(bytesAt(addr, n), advice))
}

func sysMprotect(addr, n uintptr, prot int) syscall.Errno {
	return errnoOf(unix.Mprotect(bytesAt(addr, n), prot))
}

// sysMincore fills vec (at least n/pageSize bytes) with one byte per page;
// bit 0 set means resident. x/sys/unix has no Mincore, so this is the raw
// SYS_MINCORE. It is a Syscall, not a RawSyscall: on a large range the kernel
// walks many page tables, and the scheduler may run other goroutines meanwhile.
func sysMincore(addr, n uintptr, vec []byte) syscall.Errno {
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, addr, n, uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	return errno
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
