//go:build linux && !amd64 && !arm64

package sysregs

import "syscall"

// AuditArch is 0 where Call is not supported: no seccomp filter matches it.
const AuditArch = 0

// Supported says whether Call reads this architecture's registers.
const Supported = false

func callNr(*syscall.PtraceRegs) uint64   { return ^uint64(0) }
func callArg0(*syscall.PtraceRegs) uint64 { return 0 }
