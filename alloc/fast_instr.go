//go:build race || asan || msan

package alloc

import "unsafe"

// Under -race, -asan and -msan the compiler inserts calls into every
// function, so the nosplit fast paths of fast.go could be preempted; every
// call takes the slow paths, which pin (and under -race also lock each
// cache, so that the detector sees its hand-overs).

// fastPaths says that Malloc and Free have their fast paths in this build.
const fastPaths = false

// Malloc returns a pointer to at least size bytes of memory outside the Go
// heap, 16-byte aligned, or nil; see fast.go for the full contract.
func Malloc(size int) unsafe.Pointer { return mallocMiss(size) }

// Free frees memory from Malloc, Calloc, Realloc or AlignedAlloc; see
// fast.go for the full contract.
func Free(ptr unsafe.Pointer) { freeMiss(ptr) }
