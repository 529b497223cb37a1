// The body of Free's fast path (fast_free_amd64.s), included by Free and
// by freeFast, the form TestFastFreeAsm calls. The includer defines
// FREE_PUSHED, what follows a push (Free returns), FREE_SAMPLED, what
// follows the checks of a sampled block's sound header (Free takes it out
// of the profile and goes on at sound, the label after the checks), and a
// label miss right after the include, where every other case ends (Free
// jumps to freeMiss).

// TAG is the rest of InUseHeader once the size (R11) is known: the tag in
// w's (DX's) top bits is ((c>>4)^(size<<16)^secret)*mul, c>>4^size<<16
// computed as (c^size<<20)>>4 (the size is below 2^44, so no bit of it is
// lost). CX and DX are clobbered.
#define TAG \
	MOVQ	R11, CX; \
	SHLQ	$20, CX; \
	XORQ	BX, CX; \
	SHRQ	$4, CX			/* (c>>4)^(size<<16) */; \
	XORQ	const_heapSecret(R8), CX; \
	IMULQ	·tagMulWord(SB), CX; \
	XORQ	DX, CX; \
	SHRQ	$const_tagShift, CX	/* the top bits of tag ^ w */; \
	JNE	miss			/* a corrupt or forged header */

	MOVQ	ptr+0(FP), AX
	LEAQ	-16(AX), BX
	MOVQ	·freeHeap(SB), R8	// the heap, or inertHeap while the fast path is off

	// FastRegion(c): the break region first.
	MOVQ	const_heapBrkEnd(R8), R9
	CMPQ	BX, R9
	JCC	heaps			// c >= brkEnd (unsigned)
	CMPQ	BX, const_heapBrkBase(R8)
	JCS	heaps			// c < brkBase
	SUBQ	BX, R9			// room = brkEnd - c
	XORL	R10, R10		// entry 0

header:
	// InUseHeader(p, room). The room is never 0 here, and c and the
	// region's end are 16-aligned once p is, so w's word is in the region
	// (InUseHeader's room >= 2*hdrSz needs no test: the room is at least
	// size+hdrSz, 48, once the size has passed). The flags: M, T and F
	// below the size by a byte test; S and A, the bits just above it, are
	// kept with the size (R11), which they make larger than any room (a
	// sampled block goes on at notfit).
	TESTQ	$15, AX
	JNE	miss			// misaligned
	MOVQ	8(BX), DX		// w, the size word
	TESTB	$const_notInUseLow, DL
	JNE	miss			// mapped, top, free
	MOVQ	$const_sizeAndFlags, R11
	ANDQ	DX, R11			// the size, with S and A
	CMPQ	R9, R11
	JLS	notfit			// room <= size (multiples of 16: room < size+hdrSz), or S or A
	CMPQ	R11, $const_minChunk
	JCS	miss
	TAG
sound:

	// The P's cache, and the key.
	PID_FROM_R14(DX)		// g.m.p.id
	CMPQ	DX, $const_maxCachedProcs
	JCC	miss			// unsigned >=
	MOVQ	·cacheKey(SB), SI
	XORQ	BX, SI			// key = keyFor(c)
	CMPQ	24(BX), SI
	JEQ	miss			// it carries the key: a double free
	LEAQ	·caches(SB), CX
	MOVQ	(CX)(DX*8), CX		// caches[pid].Load()
	TESTQ	CX, CX
	JEQ	miss
	CMPQ	R11, $const_smallChunkMax
	JHI	mid

	// A small chunk: its class, (size-MinSize)>>4 (below nSmall: the size
	// is minChunk..smallChunkMax here), own or foreign. The class's
	// cacheBin (16 bytes) is at (size-minChunk)>>4<<4, which is
	// size-minChunk: the size is a multiple of 16 (the header's flag bits
	// are masked off).
	LEAQ	-const_minChunk(R11), DX
	CMPL	R10, pcache_home(CX)
	JEQ	small
	ADDQ	$(const_nClassSlots*16), DX	// a chunk of another arena
small:
	MOVL	cacheBin_count(CX)(DX*1), DI
	CMPL	DI, cacheBin_limit(CX)(DX*1)
	JCC	miss			// full
push:
	MOVQ	SI, 24(BX)		// the key
	MOVQ	AX, DI			// the link, arena.Protect(p, head)
	SHRQ	$12, DI
	XORQ	cacheBin_head(CX)(DX*1), DI
	MOVQ	DI, 16(BX)
	MOVQ	BX, cacheBin_head(CX)(DX*1)
	INCL	cacheBin_count(CX)(DX*1)
	FREE_PUSHED

mid:
	// chunkClass(size): from the usable bytes, at most midLimit.
	LEAQ	-8(R11), DI		// u = size - 8
	CMPQ	DI, $const_midLimit
	JLS	floor
	CMPQ	R11, ·midChunkCap(SB)
	JHI	miss			// far too big to keep
	MOVQ	$const_midLimit, DI
floor:
	SHRQ	$const_midShift, DI
	ANDQ	$(const_chunkFloorLen-1), DI
	LEAQ	·chunkFloor(SB), DX
	MOVBLZX	(DX)(DI*1), DX
	ANDQ	$(const_nClassSlots-1), DX
	CMPQ	DX, $const_nSmall
	JCC	midclass		// a mid-size class: no foreign classes
	CMPL	R10, pcache_home(CX)
	JNE	miss			// a larger chunk of an exact class, another arena's: cachePush
midclass:
	SHLQ	$4, DX
	MOVL	cacheBin_count(CX)(DX*1), DI
	CMPL	DI, cacheBin_limit(CX)(DX*1)
	JCC	miss			// full
	TESTL	DI, DI
	JEQ	push			// an empty class takes it even at the top
	// MayBorderTop(room, size): whether room-size is within the heap's
	// borderReach (all ones with decay).
	SUBQ	R11, R9			// room - size
	CMPQ	R9, const_heapBorderReach(R8)
	JHI	push			// too far from the end to border the top
nexttop:
	// NextIsTop(c, size): the next chunk's header word.
	MOVQ	8(BX)(R11*1), DI
	TESTQ	$const_flagT, DI
	JEQ	push
	JMP	miss			// it borders the top

notfit:
	// A sampled block (S and no other flag) with a sound header goes to
	// FREE_SAMPLED, which takes it out of the profile before it is freed;
	// the A bit (a free chunk in a bin), or a size too large for the room,
	// is freeMiss's.
	MOVQ	R11, CX
	SHRQ	$const_highFlagShift, CX
	CMPQ	CX, $1
	JNE	miss			// not S alone
	MOVQ	$const_chunkSizeMask, CX
	ANDQ	CX, R11			// the size
	CMPQ	R9, R11
	JLS	miss			// room < size+hdrSz
	CMPQ	R11, $const_minChunk
	JCS	miss
	TAG
	FREE_SAMPLED

heaps:
	// FastRegion(c) in one of this Heap's mapped heaps (out of the break
	// region's straight line), then back to the header's checks.
	MOVQ	BX, DX
	SHRQ	$const_granuleShift, DX
	ANDQ	$const_granuleMask, DX
	MOVQ	·granuleTab(SB), SI
	MOVL	(SI)(DX*4), R10		// v = granuleTable[...]
	MOVL	R10, DX
	SHRL	$const_arenaBits, DX
	CMPL	DX, const_heapID(R8)
	JNE	miss			// not one of this Heap's heaps
	MOVQ	BX, DX
	ANDQ	$const_heapSizeMask, DX
	MOVQ	const_heapEndWord(DX), R9	// the heap's end
	CMPQ	BX, R9
	JCC	miss			// c >= end
	SUBQ	BX, R9			// room = end - c
	JMP	header
#undef TAG
