//go:build linux

// Package sysregs reads a traced thread's system call from its registers
// (syscall.PtraceGetRegs), the one thing about ptrace that differs between
// the architectures the tracers of package bench and internal/replay run
// on: which registers hold the call's number and first argument, and the
// AUDIT_ARCH value that a seccomp filter compares a call's architecture
// with. It imports the standard library only.
package sysregs

import "syscall"

// Call returns the number and first argument of the system call that
// thread state r is stopped in (at a system-call entry stop or a seccomp
// stop).
func Call(r *syscall.PtraceRegs) (nr, arg0 uint64) { return callNr(r), callArg0(r) }
