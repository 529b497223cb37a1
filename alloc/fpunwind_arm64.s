//go:build !offheap_nofpunwind

#include "textflag.h"

// The helper of the frame-pointer unwinder (stack.go). See fpunwind.go.

// func callerFrame() (fp, lo, hi uintptr)
//
// fp is the frame pointer of the caller: R29 is untouched by a NOFRAME
// function, so it still points at the frame record of the function that
// called us (its saved R29 at 0(R29), its saved LR, the return address, at
// 8(R29)). lo and hi are the bounds of the running goroutine's stack:
// g.stack, the first field of the runtime's g (lo, then hi). On arm64 the
// g register (R28) holds the running g in every ABI.
TEXT ·callerFrame(SB),NOSPLIT|NOFRAME,$0-24
	MOVD	R29, fp+0(FP)
	MOVD	0(g), R0
	MOVD	R0, lo+8(FP)
	MOVD	8(g), R0
	MOVD	R0, hi+16(FP)
	RET
