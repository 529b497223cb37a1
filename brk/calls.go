package brk

import "syscall"

// Every system call the package makes goes through one of the functions in
// this file, the choke point of the OS boundary: apply an armed fault or make
// the call, then count it. They return a bare syscall.Errno as the error (nil
// on success); the callers add what was asked.

// brkQuery returns the current program break: brk(0).
func brkQuery() (uintptr, error) {
	cur, errno := uintptr(0), injected(OpBrk)
	if errno == 0 {
		cur, errno = sysBrkQuery()
	}
	return cur, counted(OpBrk, 0, errno)
}

// brkSet moves the program break to addr, which is n bytes from where it is.
func brkSet(addr, n uintptr) error {
	errno := injected(OpBrk)
	if errno == 0 {
		errno = sysBrkSet(addr)
	}
	return counted(OpBrk, n, errno)
}

func mmap(n uintptr, prot, flags int) (uintptr, error) {
	addr, errno := uintptr(0), injected(OpMmap)
	if errno == 0 {
		addr, errno = sysMmap(n, prot, flags)
	}
	return addr, counted(OpMmap, n, errno)
}

func mprotect(addr, n uintptr, prot int) error {
	errno := injected(OpMprotect)
	if errno == 0 {
		errno = sysMprotect(addr, n, prot)
	}
	return counted(OpMprotect, n, errno)
}

func madvise(addr, n uintptr, advice int) error {
	errno := injected(OpMadvise)
	if errno == 0 {
		errno = sysMadvise(addr, n, advice)
	}
	return counted(OpMadvise, n, errno)
}

// injected returns the errno a call of op must fail with, or 0 to make the
// call (one atomic load when no fault is armed).
func injected(op Op) syscall.Errno { return calls.Injected(int(op)) }

// counted charges one call of op for n bytes and turns errno into an error.
func counted(op Op, n uintptr, errno syscall.Errno) error { return calls.Count(int(op), n, errno) }
