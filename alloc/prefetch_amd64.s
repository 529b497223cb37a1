#include "textflag.h"

// func prefetchLinks(p *uintptr, n int)
//
// PREFETCHT0 of the line holding the list link (user word 0, at +16) of
// each of the n chunks whose addresses start at p. A prefetch neither
// faults nor waits for its line. (PREFETCHW, the line owned at once for
// the pop that writes the chunk's key word, measured the same on prodcons
// here, and is missing from older processors.)
TEXT ·prefetchLinks(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JLE done
loop:
	MOVQ (SI), AX
	PREFETCHT0 16(AX)
	ADDQ $8, SI
	DECQ CX
	JNE loop
done:
	RET
