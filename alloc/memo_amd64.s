//go:build amd64 && !offheap_nofpunwind

#include "go_asm.h"
#include "textflag.h"

// func memoHolds(m *stackMemo) bool
//
// memoHoldsGo (stack.go), the same reads in the same order: for each
// record f = m.fp[i] but the last, its return address 8(f) against
// m.pc[i] and its next frame pointer 0(f) against m.fp[i+1]; then the
// last record's return address, and its next (0) unless m.full. The
// caller has checked that m.n > 0 and that the first and last records lie
// within the stack. SI is &m.fp[last], DI &m.pc[last], CX counts up from
// -last to 0.
TEXT ·memoHolds(SB), NOSPLIT|NOFRAME, $0-9
	MOVQ	m+0(FP), AX
	MOVQ	stackMemo_n(AX), CX
	DECQ	CX			// last
	LEAQ	stackMemo_fp(AX)(CX*8), SI
	LEAQ	stackMemo_pc(AX)(CX*8), DI
	NEGQ	CX
	JEQ	last
loop:
	MOVQ	(SI)(CX*8), DX		// f
	MOVQ	8(DX), BX
	CMPQ	BX, (DI)(CX*8)		// its return address
	JNE	miss
	MOVQ	(DX), BX
	CMPQ	BX, 8(SI)(CX*8)		// its next record
	JNE	miss
	INCQ	CX
	JNE	loop
last:
	MOVQ	(SI), DX
	MOVQ	8(DX), BX
	CMPQ	BX, (DI)
	JNE	miss
	CMPB	stackMemo_full(AX), $0
	JNE	hit
	CMPQ	(DX), $0		// the end of the chain
	JNE	miss
hit:
	MOVB	$1, ret+8(FP)
	RET
miss:
	MOVB	$0, ret+8(FP)
	RET
