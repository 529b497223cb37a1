#include "textflag.h"

// func scratchTouchAsm(p unsafe.Pointer, size, writes, zero int, acc byte) byte
//
// for j < writes: for b < size: p[b] = b; acc += p[b+zero]. The write loop's
// head is aligned to 32 bytes, so that its instructions lie the same way in
// every binary (see scratchTouch).
TEXT ·scratchTouchAsm(SB), NOSPLIT, $0-41
	MOVQ	p+0(FP), AX
	MOVQ	size+8(FP), BX
	MOVQ	writes+16(FP), CX
	MOVQ	zero+24(FP), DX
	MOVBLZX	acc+32(FP), SI
	LEAQ	(AX)(DX*1), DI
	TESTQ	BX, BX
	JLE	done
	TESTQ	CX, CX
	JLE	done
	PCALIGN	$32
write:
	XORL	R8, R8
byte:
	MOVB	R8, (AX)(R8*1)
	MOVBLZX	(DI)(R8*1), R9
	ADDL	R9, SI
	INCQ	R8
	CMPQ	R8, BX
	JLT	byte
	DECQ	CX
	JNZ	write
done:
	MOVB	SI, ret+40(FP)
	RET
