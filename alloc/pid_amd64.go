//go:build amd64 && go1.26 && !go1.27

package alloc

// pidFast is true: getPid reads the P's id straight from the runtime's
// structures, g.m.p.id, without the two calls of procPin and procUnpin
// (about 1.5 ns each Malloc and Free). The offsets are go1.26's on amd64
// (the runtime's go_asm.h: g_m 48, m_p 208, p_id 0), hence the build
// constraint; checkPid verifies them against procPin at start-up and on
// every P in TestGetPid, and a mismatch turns the fast paths off.
const pidFast = true

// getPid returns the id of the P the calling goroutine runs on. The caller
// must be a go:nosplit function that makes no call between getPid and its
// last use of the P's structures: such a function cannot be preempted
// (the compiler marks every instruction of a nosplit function an unsafe
// point, and getPid is assembly), so it stays on the P throughout.
//
//go:noescape
func getPid() int

// curG returns the address of the running goroutine's g, an identity
// (homeArena compares it; nothing reads through it). g structures are
// reused after a goroutine exits, so two goroutines, one after the other,
// may have the same.
//
//go:noescape
func curG() uintptr
