// Package brk provides offheap's main heap region: a contiguous range that
// grows and shrinks at its end, like the program break glibc's main arena
// lives on.
//
// A Break is one of two kinds:
//
//   - Real: the process's own program break, moved with the brk system call.
//     It is used only when no C code shares the process (runtime.iscgo is
//     false). The pure Go runtime never moves the break, so offheap owns it.
//   - Reserved: a stand-in for the break, a range of address space reserved
//     once (PROT_NONE, MAP_NORESERVE) whose pages are opened with mprotect as
//     the break rises and discarded (MADV_DONTNEED, then PROT_NONE) as it
//     falls. It is used in cgo and -race binaries, where glibc caches the
//     break in __curbrk and would shrink it under us, silently overwriting
//     our region; and by tests, which may make as many as they like.
//
// Default returns the process-wide Break and picks the kind; NewReserved
// makes private ones.
//
// # Promises
//
//   - Base is page aligned and fixed; Base <= Current <= Limit. Memory in
//     [Base, Current) is readable and writable; memory the break has left
//     faults when touched and reads as zeros once the break rises over it
//     again.
//   - Grow and Shrink either succeed or change nothing that the caller can
//     rely on (see Shrink for the one partial case). A refusal by the kernel,
//     or a full reservation, returns an error wrapping syscall.ENOMEM.
//   - A failed system call returns an error that wraps the syscall.Errno and
//     says what was asked. Invalid arguments are refused with an error
//     wrapping syscall.EINVAL before any call, and are not counted.
//   - Only one Real Break exists per process, Default's. Nothing in offheap
//     but this package moves the break.
//   - Every system call passes through calls.go, where armed test faults are
//     applied (one atomic load when none is armed) and the call is counted;
//     brk_linux.go makes the raw calls. Nothing logs or exits.
package brk
