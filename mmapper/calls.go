package mmapper

import "syscall"

// Every system call the package makes goes through one of the functions in
// this file, the choke point of the OS boundary: apply an armed fault or make
// the call, then count it. They return a bare syscall.Errno as the error (nil
// on success); the exported functions add what was asked.

func mmap(n uintptr, prot, flags int) (uintptr, error) {
	addr, errno := uintptr(0), injected(OpMmap)
	if errno == 0 {
		addr, errno = sysMmap(n, prot, flags)
	}
	return addr, counted(OpMmap, n, errno)
}

func munmap(addr, n uintptr) error {
	errno := injected(OpMunmap)
	if errno == 0 {
		errno = sysMunmap(addr, n)
	}
	return counted(OpMunmap, n, errno)
}

func mremap(addr, oldN, newN uintptr, flags int) (uintptr, error) {
	newAddr, errno := uintptr(0), injected(OpMremap)
	if errno == 0 {
		newAddr, errno = sysMremap(addr, oldN, newN, flags)
	}
	return newAddr, counted(OpMremap, newN, errno)
}

func madvise(addr, n uintptr, advice int) error {
	errno := injected(OpMadvise)
	if errno == 0 {
		errno = sysMadvise(addr, n, advice)
	}
	return counted(OpMadvise, n, errno)
}

func mprotect(addr, n uintptr, prot int) error {
	errno := injected(OpMprotect)
	if errno == 0 {
		errno = sysMprotect(addr, n, prot)
	}
	return counted(OpMprotect, n, errno)
}

// mincore fills vec, one byte per page of [addr, addr+n).
func mincore(addr, n uintptr, vec []byte) error {
	errno := injected(OpMincore)
	if errno == 0 {
		errno = sysMincore(addr, n, vec)
	}
	return counted(OpMincore, n, errno)
}

// injected returns the errno a call of op must fail with, or 0 to make the
// call (one atomic load when no fault is armed).
func injected(op Op) syscall.Errno { return calls.Injected(int(op)) }

// counted charges one call of op for n bytes and turns errno into an error.
func counted(op Op, n uintptr, errno syscall.Errno) error { return calls.Count(int(op), n, errno) }

func msync(addr, n uintptr, flags int) error {
	errno := injected(OpMsync)
	if errno == 0 {
		errno = sysMsync(addr, n, flags)
	}
	return counted(OpMsync, n, errno)
}

func mmapFile(addr, n uintptr, prot, flags, fd int, off int64) (uintptr, error) {
	got, errno := uintptr(0), injected(OpMmap)
	if errno == 0 {
		got, errno = sysMmapFile(addr, n, prot, flags, fd, off)
	}
	return got, counted(OpMmap, n, errno)
}
