// The body of Malloc's fast path (fast_malloc_amd64.s), included by
// Malloc and by heapMalloc, a private heap's. The includer loads the size
// into AX before it and stores the result, the user pointer in DI, after
// it (where the body falls through when it popped a chunk); it defines
// MALLOC_CACHE (from the P's id in DX, the P's slot of the cache table into
// CX, or a jump to miss when the id is past the table) and a label miss,
// where every case the fast path does not finish goes.
	MOVL	·fastOff(SB), CX
	TESTL	$(~const_fastHarden), CX
	JNE	miss
	CMPQ	AX, $const_midLimit
	JHI	miss			// unsigned: a negative size too
	PID_FROM_R14(DX)		// g.m.p.id
	MALLOC_CACHE			// CX = the P's cache (caches[pid].Load()), or miss
	TESTQ	CX, CX
	JEQ	miss
	CMPQ	AX, $const_smallLimit
	JHI	mid
	LEAQ	7(AX), DX
	SHRQ	$4, DX
	LEAQ	·smallClassOf(SB), SI
	MOVBLZX	(SI)(DX*1), DX
	JMP	class
mid:
	LEAQ	-1(AX), DX
	SHRQ	$8, DX
	LEAQ	·midClassOf(SB), SI
	MOVBLZX	(SI)(DX*1), DX
	ADDQ	$const_nSmall, DX
class:
	ANDQ	$(const_nClassSlots-1), DX
	SHLQ	$4, DX			// the class's cacheBin (16 bytes) in c.bins
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
	CMPQ	24(SI), R10		// the cache key, keyFor(ch)
	JNE	miss
	MOVQ	pcache_sampleLeft(CX), R8
	SUBQ	AX, R8
	JLT	miss			// a sample is due: mallocMiss pops and records it
	MOVQ	R8, pcache_sampleLeft(CX)
	MOVQ	R9, cacheBin_head(CX)(DX*1)
	DECL	cacheBin_count(CX)(DX*1)
	MOVQ	$0, 24(SI)		// the key goes: the chunk is the program's
