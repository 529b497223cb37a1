//go:build !offheap_nofpunwind

#include "go_asm.h"
#include "textflag.h"

// The helper of the frame-pointer unwinder (stack.go). See fpunwind.go.

// func callerFrame() (fp, lo, hi uintptr)
//
// fp is the frame pointer of the caller: BP is untouched by a NOFRAME
// function, so it still points at the frame record of the function that
// called us (its saved BP at 0(BP), its return address at 8(BP)). lo and hi
// are the bounds of the running goroutine's stack: g.stack, the first field
// of the runtime's g (lo, then hi). The g pointer is read from thread-local
// storage, as the runtime's own ABI0 assembly does (get_tls, g(CX)).
TEXT ·callerFrame(SB),NOSPLIT|NOFRAME,$0-24
	MOVQ	BP, fp+0(FP)
	MOVQ	TLS, CX
	MOVQ	0(CX)(TLS*1), AX
	MOVQ	0(AX), BX
	MOVQ	BX, lo+8(FP)
	MOVQ	8(AX), BX
	MOVQ	BX, hi+16(FP)
	RET

// func fpWalk(fp, limit uintptr, fps, pcs *uintptr) (n int, h uint64, st int)
//
// The walk of captureFP (stack.go), fpWalkGo's loop in seventeen
// instructions a frame where the compiler's took twenty-seven: from the
// frame record at fp, which the caller has checked, it writes each record's
// address to fps[n] and its return address to pcs[n], folds the return
// address into h (stackHash: h = (h ^ pc) * stackHashPrime, from
// stackHashSeed), and goes on to the next record, which must lie above
// this one, at or below limit, 8-aligned. st is walkEnd when a record's
// next is 0 (the goroutine's first frame), walkFull after maxStack frames,
// walkFailed at a next record that looks wrong. It reads the stack's raw
// words and calls nothing, so the stack cannot move under it.
TEXT ·fpWalk(SB), NOSPLIT|NOFRAME, $0-56
	MOVQ	fp+0(FP), DX
	MOVQ	limit+8(FP), R12
	MOVQ	fps+16(FP), R8
	MOVQ	pcs+24(FP), R9
	MOVQ	$0xcbf29ce484222325, SI	// stackHashSeed
	MOVQ	$0x100000001b3, R11	// stackHashPrime
	XORL	CX, CX
walk:
	MOVQ	8(DX), DI		// the return address
	MOVQ	DX, (R8)(CX*8)
	MOVQ	DI, (R9)(CX*8)
	XORQ	DI, SI
	IMULQ	R11, SI
	INCQ	CX
	MOVQ	(DX), AX		// the next record
	TESTQ	AX, AX
	JEQ	end
	CMPQ	CX, $const_maxStack
	JEQ	full
	CMPQ	AX, DX
	JLS	bad			// not above this one (unsigned)
	CMPQ	AX, R12
	JHI	bad			// above limit
	TESTQ	$7, AX
	JNE	bad
	MOVQ	AX, DX
	JMP	walk
end:
	MOVQ	$const_walkEnd, AX
	JMP	done
full:
	MOVQ	$const_walkFull, AX
	JMP	done
bad:
	MOVQ	$const_walkFailed, AX
done:
	MOVQ	CX, n+32(FP)
	MOVQ	SI, h+40(FP)
	MOVQ	AX, st+48(FP)
	RET
