//go:build amd64 && go1.26 && !go1.27 && !race && !asan && !msan && !offheap_noasm

#include "go_asm.h"
#include "textflag.h"
#include "gpid_amd64.h"

// func Free(ptr unsafe.Pointer)
//
// Free's fast path of fast_free.go (the same checks in the same terms, the
// same push), with the P's id read inline as Malloc does
// (fast_malloc_amd64.s): arena.FastRegion (the room after the chunk in the
// break region or in one of this Heap's heaps, and the granule entry that
// tells a foreign chunk), arena.InUseHeader (alignment, room, an in-use
// chunk of an arena with its tag), the cache key (a double free), then the
// push onto the P's class: a small chunk's own or foreign class, a
// mid-size chunk's class unless it may border the top (arena.MayBorderTop,
// then arena.NextIsTop). arena's layout comes from its Asm constants
// (fast_free_amd64.go). It reads no flag word: while fastOff turns the
// fast path off, freeHeap is inertHeap, in whose regions no pointer lies
// (publishFast). Anything else (a fast path turned off, a pointer
// offheap does not hold in use, a double free, no cache, a full class, a
// mapped or too large chunk, one bordering the top) jumps to freeMiss with
// nothing changed. A sampled block whose header passes the same checks
// leaves the heap profile here when forgetSample's common case holds, and
// is then freed as any other; else it goes to freeSampled, which does it
// in Go. It calls nothing and is never preempted, so it stays on its P
// from the id to the push.
//
// The code is in fast_free_amd64.h, which freeFast includes too: a
// test's way into the very instructions Free runs, without the push's
// being hidden by what freeMiss does next.
//
// Registers: AX the pointer p, BX its chunk c = p-16, R8 the Heap, R9 the
// room, R10 the granule entry, R11 the chunk's size, CX the P's cache,
// DX the class's offset in it, SI the key.
TEXT ·Free(SB), NOSPLIT|NOFRAME, $0-8
#define FREE_PUSHED RET
#define FREE_SAMPLED JMP sampled
#include "fast_free_amd64.h"
#undef FREE_PUSHED
#undef FREE_SAMPLED
miss:
	JMP	·freeMiss(SB)

sampled:
	// A block in the heap profile, its header sound: forgetSample's common
	// case, then the free goes on as any other's (at sound). Its entry is
	// in the table of sampled blocks (not frozen by a rebuild), and the
	// calling P's psample holds the count slot of the entry's bucket: the
	// entry goes (an ordinary store, as clearSlot), the slot counts the
	// free, and the S bit goes (a byte store, as arena.SetSampled). Every
	// check comes before the first store; anything else is freeSampled's.
	// Nothing here is preempted, so the P's psample and the table stay
	// what they were from the checks to the stores (as forgetSample's
	// procPin keeps them).
	PID_FROM_R14(DX)		// g.m.p.id
	CMPQ	DX, $const_maxCachedProcs
	JCC	slowsampled
	LEAQ	·samplers(SB), R13
	MOVQ	(R13)(DX*8), R13	// ps = samplers[pid].Load()
	TESTQ	R13, R13
	JEQ	slowsampled
	MOVQ	·sampleTable(SB), R12	// t = sampleTable.cur.Load()
	TESTQ	R12, R12
	JEQ	slowsampled
	CMPL	addrTable_frozen(R12), $0
	JNE	slowsampled
	MOVQ	AX, SI
	SHRQ	$4, SI			// key = tableKey(p): p is 16-aligned
	MOVQ	SI, DI
	SHRQ	$const_entryAddrBits, DI
	JNE	slowsampled		// too high for the table
	MOVQ	$const_tableHashMul, DI
	IMULQ	SI, DI
	MOVQ	addrTable_shift(R12), CX
	SHRQ	CX, DI			// the line (t.line)
	SHLQ	$const_lineShift, DI
	ADDQ	addrTable_slots(R12), DI	// its first slot
	MOVQ	$const_entryAddrMask, R12
	XORL	DX, DX
scan:
	MOVQ	(DI)(DX*8), CX
	ANDQ	R12, CX
	CMPQ	CX, SI
	JEQ	found			// key != 0: not an empty slot
	INCQ	DX
	CMPQ	DX, $const_lineSlots
	JLT	scan
	JMP	slowsampled		// not there: freeSampled says so
found:
	MOVQ	(DI)(DX*8), CX
	SHRQ	$const_entryAddrBits, CX	// the bucket's id
	MOVQ	CX, SI
	ANDQ	$(const_countSlots-1), SI
	SHLQ	$const_countSlotShift, SI
	LEAQ	psample_counts(R13)(SI*1), SI	// its count slot in ps
	CMPL	countSlot_id(SI), CX
	JNE	slowsampled		// the slot counts another bucket
	MOVQ	$0, (DI)(DX*8)		// the entry goes
	INCQ	countSlot_frees(SI)	// the free is counted
	ANDB	$(~const_flagSInByte), const_flagSByteOffset(BX)	// the S bit goes
	JMP	sound
slowsampled:
	JMP	·freeSampled(SB)

// func freeFast(ptr unsafe.Pointer) (pushed bool)
//
// Free's fast path alone, for TestFastFreeAsm: true when it pushed ptr's
// chunk onto the P's cache, false where Free would jump to freeMiss (and
// nothing changed).
TEXT ·freeFast(SB), NOSPLIT|NOFRAME, $0-9
#define FREE_PUSHED JMP done
#define FREE_SAMPLED JMP miss
#include "fast_free_amd64.h"
#undef FREE_PUSHED
#undef FREE_SAMPLED
miss:
	MOVB	$0, pushed+8(FP)
	RET
done:
	MOVB	$1, pushed+8(FP)
	RET
