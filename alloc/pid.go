//go:build !(amd64 && go1.26 && !go1.27)

package alloc

// pidFast is false here: getPid reads the P's id with procPin and
// procUnpin (see pid_amd64.go for the cheaper way on amd64 with go1.26).
const pidFast = false

// getPid returns the id of the P the calling goroutine runs on. The caller
// must be a go:nosplit function that makes no call between getPid and its
// last use of the P's structures: such a function cannot be preempted
// (the compiler marks every instruction of a nosplit function an unsafe
// point), so it stays on the P throughout, and procPin's pin is not needed
// beyond reading the id. procPin and procUnpin are nosplit themselves.
//
//go:nosplit
func getPid() int {
	pid := runtimeProcPin()
	runtimeProcUnpin()
	return pid
}

// curG returns 0 here: the running goroutine's identity is not at hand, and
// homeArena keeps every P on the main arena until it finds it busy.
func curG() uintptr { return 0 }
