package mmapper

import "syscall"

// Fault injection is a testing hook: it lets the packages above mmapper check
// their out-of-memory paths without exhausting the machine. An injected
// failure behaves exactly like a real one: no system call is made, the call
// is counted in Calls and Errors, and the returned error wraps the errno.
// The table of armed faults is shared code (internal/oscall).

// FailAfter makes the nth call (1 = the next) of op fail with errno, once.
// n <= 0 clears any fault armed for op. It replaces a fault already armed for
// op. It panics if op is unknown or errno is 0. It is a testing hook.
func FailAfter(op Op, n int, errno syscall.Errno) { calls.FailAfter(int(op), n, errno) }

// FailAlways makes every call of op fail with errno until ClearFaults (or a
// FailAfter for op). It panics if op is unknown or errno is 0. It is a
// testing hook.
func FailAlways(op Op, errno syscall.Errno) { calls.FailAlways(int(op), errno) }

// ClearFaults disarms every fault armed by FailAfter and FailAlways.
func ClearFaults() { calls.Clear() }
