package fileheap

import (
	"os"
	"sync/atomic"
)

// Internals for the tests (package fileheap_test).

const (
	HdrSize     = hdrSize
	OffLock     = offLock
	OffJCount   = offJCount
	OffJournal  = offJournal
	OffTop      = offTop
	OffFileSize = offFileSize
	OffQuick    = offQuick
	OffBins     = offBins
	OffSlots    = offSlots
	OffChecksum = offChecksum
	OffVersion  = offVersion
	QuickCap    = quickCap
)

// SetStoreHook sets the hook called before every journaled store and
// around every commit; nil removes it.
func SetStoreHook(f func(h *Heap)) { storeHook = f }

// Snapshot returns the file's contents as they are now (its whole length).
func (h *Heap) Snapshot() []byte {
	n, err := fileLength(h.fd)
	if err != nil {
		panic(err)
	}
	b := make([]byte, n)
	if _, err := h.file.ReadAt(b, 0); err != nil {
		panic(err)
	}
	return b
}

// Recovered returns how many dead owners' operations this Heap undid.
func (h *Heap) Recovered() int64 { return h.recovered.Load() }

// LockWord returns the lock word; OwnWord the word this Heap writes.
func (h *Heap) LockWord() uint32 { return atomic.LoadUint32(h.lockw) }
func (h *Heap) OwnWord() uint32  { return h.me }

// Lock takes the heap's lock; Unlock commits and releases it.
func (h *Heap) Lock() error { return h.lock() }
func (h *Heap) Unlock()     { h.unlock() }

// Journaled writes v at off through the journal (the lock must be held).
func (h *Heap) Journaled(off uintptr, v uint64) { h.set(off, v) }

// Word reads the word at off.
func (h *Heap) Word(off uintptr) uint64 { return h.word(off) }

// Slot returns the client slot of this Heap.
func (h *Heap) Slot() int { return h.slot }

// BeginFree starts freeing the block at off as Free would, journaling its
// first steps, and returns without committing or unlocking: the state a
// process killed inside Free leaves.
func (h *Heap) BeginFree(off uint64) error {
	if err := h.lock(); err != nil {
		return err
	}
	return h.freeChunk(&op{name: "Free"}, uintptr(off)-hdrSz)
}

// Exit ends the process at once, without unlocking or closing anything,
// as a kill does.
func Exit() { os.Exit(3) }

// Header returns the file's header as it is now.
func (h *Heap) Header() []byte {
	b := make([]byte, hdrSize)
	if _, err := h.file.ReadAt(b, 0); err != nil {
		panic(err)
	}
	return b
}
