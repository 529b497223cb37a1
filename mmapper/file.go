package mmapper

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// File mappings: memory that is a window on a file, shared with every other
// process that maps the same file (MAP_SHARED) or a private copy-on-write
// view of it (MAP_PRIVATE). Package fileheap keeps a heap in one. The
// mapping may extend past the file's end: pages there exist once the file
// is grown (ftruncate), and touching one before that raises SIGBUS, so the
// caller keeps its accesses below the file's length. Unmap releases a file
// mapping as it does any other.

// MapFile maps n bytes (n > 0, a multiple of PageSize) of the open file fd
// from offset off (>= 0, a multiple of PageSize), readable and writable,
// wherever the kernel likes, and returns the address. With shared, writes
// go to the file and are seen by every process mapping it; without, the
// mapping is a private copy-on-write view.
func MapFile(fd int, off int64, n uintptr, shared bool) (uintptr, error) {
	if err := checkFile("MapFile", fd, off, n); err != nil {
		return 0, err
	}
	addr, err := mmapFile(0, n, protRW, fileFlags(shared), fd, off)
	if err != nil {
		return 0, callError(err, "mmap %d bytes of fd %d at offset %d", n, fd, off)
	}
	return addr, nil
}

// MapFileFixed maps n bytes of file fd from offset off at exactly addr
// (page aligned), replacing whatever the caller had there: it is for
// mapping a file into (part of) a range the caller reserved with Reserve,
// and for extending such a mapping within the reservation (MAP_FIXED;
// never use it on memory the caller does not own).
func MapFileFixed(addr uintptr, fd int, off int64, n uintptr, shared bool) error {
	if err := checkRange("MapFileFixed", addr, n); err != nil {
		return err
	}
	if err := checkFile("MapFileFixed", fd, off, n); err != nil {
		return err
	}
	got, err := mmapFile(addr, n, protRW, fileFlags(shared)|unix.MAP_FIXED, fd, off)
	if err != nil {
		return callError(err, "mmap %d bytes of fd %d at offset %d to %#x", n, fd, off, addr)
	}
	if got != addr {
		// MAP_FIXED places the mapping at addr or fails; anything else is
		// a kernel bug, reported rather than used.
		_ = munmap(got, n)
		return callError(syscall.EINVAL, "mmap %d bytes of fd %d at offset %d to %#x: placed at %#x", n, fd, off, addr, got)
	}
	return nil
}

// Msync writes the dirty pages of [addr, addr+n) of a shared file mapping
// back to the file and waits until they are on the device (MS_SYNC).
func Msync(addr, n uintptr) error {
	if err := checkRange("Msync", addr, n); err != nil {
		return err
	}
	if err := msync(addr, n, unix.MS_SYNC); err != nil {
		return callError(err, "msync %#x %d bytes", addr, n)
	}
	return nil
}

func fileFlags(shared bool) int {
	if shared {
		return unix.MAP_SHARED
	}
	return unix.MAP_PRIVATE
}

// checkFile requires a file descriptor, a page-aligned offset >= 0 that
// does not overflow with n, and n valid for checkSize.
func checkFile(fn string, fd int, off int64, n uintptr) error {
	switch {
	case fd < 0:
		return invalid(fn, "file descriptor %d", fd)
	case off < 0 || uintptr(off)&(pageSize-1) != 0:
		return invalid(fn, "file offset %d is not a page-aligned offset >= 0", off)
	}
	if err := checkSize(fn, n); err != nil {
		return err
	}
	if uint64(off)+uint64(n) < uint64(off) || uint64(off)+uint64(n) > 1<<63-1 {
		return invalid(fn, "file offset %d + %d bytes overflows", off, n)
	}
	return nil
}
