//go:build linux

package sysregs

import "syscall"

// AuditArch is AUDIT_ARCH_AARCH64, the architecture a seccomp filter sees
// in seccomp_data.arch.
const AuditArch = 0xc00000b7

// Supported says whether Call reads this architecture's registers.
const Supported = true

// On arm64 the number is in x8 and the first argument in x0 at a
// system-call entry or seccomp stop (x0 holds the result only at the exit
// stop).
func callNr(r *syscall.PtraceRegs) uint64   { return r.Regs[8] }
func callArg0(r *syscall.PtraceRegs) uint64 { return r.Regs[0] }
