// Package mmapper is offheap's door to the kernel's virtual memory calls: mmap,
// munmap, mremap, madvise, mprotect and mincore on private anonymous memory.
//
// Together with package brk it is the only code in offheap that makes memory
// system calls. Every call goes through one choke point (calls.go) that applies
// armed test faults and counts the call, so ReadCounters sees every crossing of
// the OS boundary, as runtime.sysAlloc charges its stat.
//
// # Layers
//
// The exported functions validate their arguments and describe failures; the
// functions in mmapper_linux.go make the raw calls and nothing else:
//
//	Map, Unmap, ...      validate: addr page aligned, n > 0 and a multiple of
//	                     PageSize, no wrap-around; wrap errors with what was asked
//	calls.go             inject an armed fault or make the call; count it
//	mmapper_linux.go     the system call itself (golang.org/x/sys/unix)
//
// # Promises
//
//   - Addresses are uintptr values naming off-heap memory. The package never
//     hands out Go heap memory and never converts a uintptr to unsafe.Pointer
//     except through unsafe.Add(nil, addr).
//   - Memory from Map and MapAligned, and newly committed memory from Commit,
//     reads as zeros.
//   - A failed system call returns an error that wraps the syscall.Errno
//     (errors.Is(err, syscall.ENOMEM) works) and says what was asked, e.g.
//     "mmapper: mmap 1048576 bytes: cannot allocate memory". An invalid argument
//     is refused before any call is made with an error that wraps
//     syscall.EINVAL, as the kernel would, and is not counted.
//   - Nothing logs, panics on OS failure or exits.
//   - All functions are safe for concurrent use. Counters are updated with
//     sync/atomic; when no fault is armed, the fault check is one atomic load.
//
// # Sticky fallback
//
// Free uses MADV_FREE. If the kernel answers EINVAL (it predates Linux 4.5),
// Free retries with MADV_DONTNEED and uses it from then on, as the Go runtime
// does in runtime/mem_linux.go. FreeUsesDontNeed reports the switch.
package mmapper
