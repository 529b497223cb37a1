//go:build !offheap_nofpunwind

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
