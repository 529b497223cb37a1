//go:build amd64 && go1.26 && !go1.27 && !race && !asan && !msan && !offheap_noasm

#include "go_asm.h"
#include "textflag.h"
#include "gpid_amd64.h"

// func Malloc(size int) unsafe.Pointer
//
// (The code is in fast_malloc_amd64.h, which (*Heap).Malloc, below,
// includes too.)
//
// Malloc's fast path of fast_malloc.go (the same checks, the same pop), with
// getPid inline: g from R14 (Go's register ABI keeps the running g there,
// and every caller of this ABI0 function is Go code or its ABI wrapper),
// then g.m.p.id with go1.26's offsets (gpid_amd64.h, as getPid). It pops the
// head of the calling P's class when the class has one, its safe-linked link
// decodes to a 16-aligned address, the chunk carries its cache key, and
// the profiling countdown stays at or above zero; anything else (a fast
// path turned off, a size above midLimit, no cache, an empty class, a bad
// link or key, a sample due) jumps to mallocMiss with nothing changed,
// which does it all again the slow way. An assembly function is never
// preempted (the runtime does not preempt asynchronously in assembly) and
// this one calls nothing, so it stays on its P from the id to the pop, as
// the nosplit Go version does.
TEXT ·Malloc(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ	size+0(FP), AX
#define MALLOC_CACHE \
	CMPQ	DX, $const_maxCachedProcs; \
	JCC	miss; \
	LEAQ	·caches(SB), CX; \
	MOVQ	(CX)(DX*8), CX
#include "fast_malloc_amd64.h"
#undef MALLOC_CACHE
	MOVQ	DI, ret+8(FP)
	RET
miss:
	JMP	·mallocMiss(SB)

// func heapMalloc(h *Heap, size int) unsafe.Pointer
//
// (*Heap).Malloc's fast path (the method, which assembly cannot define,
// is a call of it that the compiler inlines): the same over a private
// heap's caches (h.caches, one per P when the heap was made: an id past
// its length misses); what it does not finish goes to heapMallocMiss
// (h.mallocMiss), untouched.
TEXT ·heapMalloc(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	h+0(FP), R8
	MOVQ	size+8(FP), AX
#define MALLOC_CACHE \
	CMPQ	DX, (Heap_caches+8)(R8); \
	JCC	miss; \
	MOVQ	Heap_caches(R8), CX; \
	MOVQ	(CX)(DX*8), CX
#include "fast_malloc_amd64.h"
#undef MALLOC_CACHE
	MOVQ	DI, ret+16(FP)
	RET
miss:
	JMP	·heapMallocMiss(SB)
