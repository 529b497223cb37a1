package fileheap

// commitUnlock empties the journal and releases the lock; it returns the
// lock word as it was (unlock_amd64.s).
//
//go:noescape
func commitUnlock(count *uint64, lock *uint32) uint32

// commit empties the journal (unlock_amd64.s).
//
//go:noescape
func commit(count *uint64)
