package alloc

import _ "unsafe" // for go:linkname

// procPin pins the calling goroutine to its P and returns the P's id: no
// preemption, no migration, until procUnpin. The per-P caches rely on it
// (sync.Pool does the same).
//
// Under the race detector every per-P structure is also guarded by a mutex
// (see raceEnabled), and a goroutine must never wait for a mutex while
// pinned ("schedule: holding locks"): there procPin only reads the P's id
// and unpins at once, and the mutex alone serializes the cache's users.
func procPin() int {
	pid := runtimeProcPin()
	if raceEnabled {
		runtimeProcUnpin()
	}
	return pid
}

// procUnpin ends what procPin began.
func procUnpin() {
	if !raceEnabled {
		runtimeProcUnpin()
	}
}

//go:linkname runtimeProcPin runtime.procPin
func runtimeProcPin() int

//go:linkname runtimeProcUnpin runtime.procUnpin
func runtimeProcUnpin()
