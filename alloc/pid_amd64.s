//go:build amd64 && go1.26 && !go1.27

#include "textflag.h"
#include "gpid_amd64.h"

// func getPid() int
//
// g.m.p.id with go1.26's offsets (gpid_amd64.h); see pid_amd64.go.
// The g comes from R14, not from thread-local storage: Go's register ABI
// (ABIInternal) keeps the running goroutine's g in R14, and every caller
// of this ABI0 function is Go code, which calls it directly with R14
// untouched. That saves one dependent load ahead of the other three
// (Malloc, Free: 2-3% of a pair; see pid_amd64.go). checkPid and TestGetPid
// compare the result with procPin's.
TEXT ·getPid(SB), NOSPLIT|NOFRAME, $0-8
	PID_FROM_R14(AX)
	MOVQ AX, ret+0(FP)
	RET

// func curG() uintptr
//
// The running goroutine's g, from R14 as getPid takes it.
TEXT ·curG(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ	R14, ret+0(FP)
	RET
