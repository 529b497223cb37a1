#include "textflag.h"

// func prefetch(addr, stride, n uintptr)
//
// PREFETCHT0 of n addresses from addr, stride bytes apart. A prefetch
// neither faults nor waits for its line: the caller may name memory that is
// not mapped.
TEXT ·prefetch(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ addr+0(FP), AX
	MOVQ stride+8(FP), BX
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JEQ done
loop:
	PREFETCHT0 (AX)
	ADDQ BX, AX
	DECQ CX
	JNE loop
done:
	RET
