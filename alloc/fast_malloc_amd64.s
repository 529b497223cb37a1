//go:build amd64 && go1.26 && !go1.27 && !race && !asan && !msan && !offheap_noasm

#include "go_asm.h"
#include "textflag.h"
#include "gpid_amd64.h"

// func Malloc(size int) unsafe.Pointer
//
// Malloc's fast path of fast_malloc.go (the same checks, the same pop), with
// getPid inline: g from R14 (Go's register ABI keeps the running g there,
// and every caller of this ABI0 function is Go code or its ABI wrapper),
// then g.m.p.id with go1.26's offsets (gpid_amd64.h, as getPid). It pops the
// head of the calling P's class when the class has one, its safe-linked link
// decodes to a 16-aligned address, the chunk carries its cache key, and
// the profiling countdown stays at or above zero. When the countdown runs
// out it pops all the same and jumps to sampledMallocWord, which records
// the sample; anything else (a fast path turned off, a size above
// midLimit, no cache, an empty class, a bad link or key) jumps to
// mallocMiss with nothing changed, which does it all again the slow way.
// It reads no flag word: while fastOff turns it off, mallocCaches points
// at a table of nil caches (publishFast).
// An assembly function is never preempted (the runtime does not preempt
// asynchronously in assembly) and this one calls nothing, so it stays on
// its P from the id to the pop, as the nosplit Go version does.
TEXT ·Malloc(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ	size+0(FP), AX
	PID_FROM_R14(DX)		// g.m.p.id
	CMPQ	DX, $const_maxCachedProcs
	JCC	miss			// unsigned >=
	MOVQ	·mallocCaches(SB), CX	// caches, or noCaches while the fast path is off
	MOVQ	(CX)(DX*8), CX		// c = caches[pid].Load()
	TESTQ	CX, CX
	JEQ	miss
	CMPQ	AX, $const_smallLimit
	JHI	mid			// unsigned: a negative size too
	// A small request's class, (n+7)>>4 - 1 and at least 0, times 16 (a
	// cacheBin's size): (n-9) &^ 15, or 0 where that is negative (n <= 8;
	// a conditional move: most requests of some programs are that small,
	// and a branch on it mispredicts).
	XORL	R8, R8
	LEAQ	-9(AX), DX
	ANDQ	$~15, DX
	CMOVQMI	R8, DX
class:
	// DX is the class's cacheBin offset in c.bins: the tables give classes below nClasses.
	MOVQ	cacheBin_head(CX)(DX*1), SI	// ch = b.head
	TESTQ	SI, SI
	JEQ	miss
	LEAQ	16(SI), DI		// the user pointer, where the link is
	MOVQ	DI, R9
	SHRQ	$12, R9
	XORQ	16(SI), R9		// next = arena.Protect(ch+16, link)
	TESTQ	$15, R9
	JNE	miss
	MOVQ	·cacheKey(SB), R10
	XORQ	SI, R10
	XORQ	24(SI), R10		// the cache key, keyFor(ch)
	JNE	miss
	SUBQ	AX, pcache_sampleLeft(CX)
	JLT	sample			// a sample is due (the countdown stays below zero)
	MOVQ	R9, cacheBin_head(CX)(DX*1)
	DECL	cacheBin_count(CX)(DX*1)
	MOVQ	$0, 24(SI)		// the key goes: the chunk is the program's
	MOVQ	DI, ret+8(FP)
	RET
mid:
	// A mid-size request's class (out of the small requests' straight
	// line), then back to the pop.
	CMPQ	AX, $const_midLimit
	JHI	miss			// unsigned: a negative size too
	LEAQ	-1(AX), DX
	SHRQ	$const_midShift, DX
	LEAQ	·midClassOf(SB), SI
	MOVBLZX	(SI)(DX*1), DX
	ADDQ	$const_nSmall, DX
	SHLQ	$4, DX
	JMP	class
sample:
	// The pop as above, the countdown left below zero, and then
	// sampledMallocWord(p | size<<sampleSizeShift) in Malloc's own frame:
	// the same argument and result words, the argument slot the callee's
	// to overwrite. p must fit below the size; if it does not, the
	// countdown goes back to what it was and mallocMiss does it all.
	MOVQ	DI, R11
	SHRQ	$const_sampleSizeShift, R11
	JNE	unsample
	MOVQ	R9, cacheBin_head(CX)(DX*1)
	DECL	cacheBin_count(CX)(DX*1)
	MOVQ	$0, 24(SI)
	SHLQ	$const_sampleSizeShift, AX
	ORQ	DI, AX
	MOVQ	AX, size+0(FP)
	JMP	·sampledMallocWord(SB)
unsample:
	ADDQ	AX, pcache_sampleLeft(CX)
miss:
	JMP	·mallocMiss(SB)
