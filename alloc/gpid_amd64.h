// The runtime's offsets that getPid (pid_amd64.s) and Malloc
// (fast_malloc_amd64.s) read g.m.p.id through, go1.26's (the runtime's
// go_asm.h: g_m, m_p, p_id). Both files take them from here, so that
// checkPid, which compares getPid with procPin at start-up (and turns the
// fast paths off on a mismatch), vouches for Malloc's reading too.
#define G_M 48
#define M_P 208
#define P_ID 0

// PID_FROM_R14 loads the calling goroutine's P id into reg: g is R14
// (Go's register ABI keeps it there for every Go caller).
#define PID_FROM_R14(reg) \
	MOVQ	G_M(R14), reg; \
	MOVQ	M_P(reg), reg; \
	MOVLQSX	P_ID(reg), reg
