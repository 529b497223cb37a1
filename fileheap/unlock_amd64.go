package fileheap

import "sync/atomic"

// releaseLock empties the journal and releases the lock, and returns the
// lock word as it was just before; it inlines into the fast paths.
//
// On amd64 stores become visible in program order, so plain stores are
// enough: the critical section's stores, then the journal's count, then
// the lock word, reach memory in that order, and the lock's release is a
// release. The Go compiler keeps stores in program order too; what it
// may do is drop a store that a later store to the same word overwrites
// with no load in between, and the atomic load of the lock word is such a
// load: the caller's earlier store of the journal's count stays.
func releaseLock(count *uint64, lock *uint32) uint32 {
	w := atomic.LoadUint32(lock)
	*count = 0
	*lock = 0
	return w
}

// commitUnlock empties the journal and releases the lock; it returns the
// lock word as it was (unlock_amd64.s). The slow paths use it: being
// assembly, the call keeps the compiler from moving any store across it.
//
//go:noescape
func commitUnlock(count *uint64, lock *uint32) uint32

// commit empties the journal (unlock_amd64.s).
//
//go:noescape
func commit(count *uint64)
