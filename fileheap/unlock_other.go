//go:build !amd64

package fileheap

import "sync/atomic"

// commitUnlock empties the journal and releases the lock; it returns the
// lock word as it was. Without amd64's ordered stores the release is an
// atomic store; Swap would be as good, and the load-then-store leaves a
// waiter that set the contended bit in between to find the word changed,
// as on amd64.
//
//go:noinline
func commitUnlock(count *uint64, lock *uint32) uint32 {
	atomic.StoreUint64(count, 0)
	w := atomic.LoadUint32(lock)
	atomic.StoreUint32(lock, 0)
	return w
}

// commit empties the journal.
//
//go:noinline
func commit(count *uint64) { atomic.StoreUint64(count, 0) }

// releaseLock is commitUnlock, for the fast paths.
func releaseLock(count *uint64, lock *uint32) uint32 { return commitUnlock(count, lock) }
