//go:build amd64 && go1.26 && !go1.27

#include "textflag.h"

// func getPid() int
//
// g.m.p.id with go1.26's offsets (g_m 48, m_p 208, p_id 0); see pid_amd64.go.
TEXT ·getPid(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ (TLS), AX
	MOVQ 48(AX), AX
	MOVQ 208(AX), AX
	MOVLQSX 0(AX), AX
	MOVQ AX, ret+0(FP)
	RET
