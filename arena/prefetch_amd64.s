#include "textflag.h"

// func prefetch(addr, stride, n uintptr)
//
// PREFETCHT0 of n chunks from addr, stride bytes apart: the line of each
// one's header (addr, addr+8) and of its first user bytes (addr+16, the
// next line when the chunk starts 48 bytes into one). A prefetch neither
// faults nor waits for its line: the caller may name memory that is not
// mapped.
TEXT ·prefetch(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ addr+0(FP), AX
	MOVQ stride+8(FP), BX
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JEQ done
loop:
	PREFETCHT0 (AX)
	PREFETCHT0 16(AX)
	ADDQ BX, AX
	DECQ CX
	JNE loop
done:
	RET
