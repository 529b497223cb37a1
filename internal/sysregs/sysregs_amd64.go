//go:build linux

package sysregs

import "syscall"

// AuditArch is AUDIT_ARCH_X86_64, the architecture a seccomp filter sees
// in seccomp_data.arch.
const AuditArch = 0xc000003e

// Supported says whether Call reads this architecture's registers.
const Supported = true

func callNr(r *syscall.PtraceRegs) uint64   { return r.Orig_rax }
func callArg0(r *syscall.PtraceRegs) uint64 { return r.Rdi }
