//go:build !offheap_nofpunwind

#include "textflag.h"

// Helpers of the frame-pointer unwinder (stack.go). See fpunwind.go.

// func getcallerfp() uintptr
//
// The frame pointer of the caller: R29 is untouched by a NOFRAME function,
// so it still points at the frame record of the function that called us
// (its saved R29 at 0(R29), its saved LR, the return address, at 8(R29)).
TEXT ·getcallerfp(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	R29, ret+0(FP)
	RET

// func goroutineStack() (lo, hi uintptr)
//
// The bounds of the running goroutine's stack: g.stack, the first field of
// the runtime's g (lo, then hi). On arm64 the g register (R28) holds the
// running g in every ABI.
TEXT ·goroutineStack(SB),NOSPLIT|NOFRAME,$0-16
	MOVD	0(g), R0
	MOVD	R0, lo+0(FP)
	MOVD	8(g), R0
	MOVD	R0, hi+8(FP)
	RET

// func callerFrame() (fp, lo, hi uintptr)
//
// getcallerfp and goroutineStack in one call.
TEXT ·callerFrame(SB),NOSPLIT|NOFRAME,$0-24
	MOVD	R29, fp+0(FP)
	MOVD	0(g), R0
	MOVD	R0, lo+8(FP)
	MOVD	8(g), R0
	MOVD	R0, hi+16(FP)
	RET
