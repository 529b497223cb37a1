#include "textflag.h"

// func commitUnlock(count *uint64, lock *uint32) uint32
//
// Empties the journal, then releases the lock with a plain store, and
// returns the lock word as it was just before. On amd64 stores become
// visible in program order, so a plain store is a release: everything the
// critical section wrote is visible before the lock reads free. Being
// assembly, the call also keeps the Go compiler from moving or dropping
// any store of the critical section across it.
TEXT ·commitUnlock(SB), NOSPLIT, $0-20
	MOVQ count+0(FP), AX
	MOVQ $0, (AX)
	MOVQ lock+8(FP), BX
	MOVL (BX), CX
	MOVL $0, (BX)
	MOVL CX, ret+16(FP)
	RET

// func commit(count *uint64)
//
// Empties the journal: the operation's writes become permanent.
TEXT ·commit(SB), NOSPLIT, $0-8
	MOVQ count+0(FP), AX
	MOVQ $0, (AX)
	RET
