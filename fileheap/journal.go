package fileheap

import (
	"fmt"
	"unsafe"
)

// The journal is an undo log in the header. An operation that changes more
// than one word of the heap's structure (chunk headers, list links, bins,
// the top, the counters) first appends {offset, old value} for each word
// and then writes it; when the operation is complete, commit empties the
// journal (one store of the count), still under the lock. A process killed
// at any instruction leaves the journal holding exactly the words it had
// changed of the operation in flight (stores reach memory in program order,
// and a killed process's stores that executed are all in the shared page
// cache), so undoing them in reverse order gives back the heap as it was
// before the operation began. The journal is undone by whoever takes the
// lock from the dead process (lock.go), and by an operation that fails
// half-way (rollback).
//
// Entries are written before the count that covers them, and the count
// before the word itself: a kill between any two of those stores leaves
// either an entry not yet counted (ignored: its word is unchanged) or a
// counted entry whose word may or may not have been written (restoring the
// old value is right either way).

// set writes v into the word at file offset off, journaled. It is not
// inlined so that the Go compiler cannot move its stores across another
// call's, nor drop one as overwritten (the counts written by two calls).
//
//go:noinline
func (h *Heap) set(off uintptr, v uint64) {
	if storeHook != nil {
		storeHook(h)
	}
	n := *h.jcount
	if n >= jCap {
		panic(fmt.Sprintf("fileheap: journal overflow at offset %#x (a bug: an operation changes more than %d words)", off, jCap))
	}
	e := offJournal + uintptr(n)*16
	h.setRaw(e, uint64(off))
	h.setRaw(e+8, h.word(off))
	*h.jcount = n + 1
	h.setRaw(off, v)
}

// storeHook, when set (by tests), is called before every journaled store
// and around every commit: the points where a kill leaves a state of its
// own, which the crash tests copy and recover.
var storeHook func(*Heap)

// The fast paths journal by hand, two or three words, with these: the
// count written after its entries, by the same helper, so that the two
// cannot disagree. journalAt returns the journal's first words: the count
// (0), a pad (1), then the entries {offset, old value} (2-7).
func journalAt(base unsafe.Pointer) *[8]uint64 {
	return (*[8]uint64)(unsafe.Add(base, offJCount))
}

func journal2(j *[8]uint64, off1, old1, off2, old2 uint64) {
	j[2], j[3], j[4], j[5] = off1, old1, off2, old2
	j[0] = 2
}

func journal3(j *[8]uint64, off1, old1, off2, old2, off3, old3 uint64) {
	j[2], j[3], j[4], j[5], j[6], j[7] = off1, old1, off2, old2, off3, old3
	j[0] = 3
}

// rollback undoes the journaled writes of the operation in flight of this
// process (an error half-way) and empties the journal.
func (h *Heap) rollback() {
	n := uintptr(*h.jcount)
	for i := n; i > 0; i-- {
		e := offJournal + (i-1)*16
		h.setRaw(uintptr(h.word(e)), h.word(e+8))
	}
	commit(h.jcount)
}

// undoJournal undoes the operation a dead process left in flight. The
// journal comes from the file, so every entry is checked before anything
// is written: a word inside the heap below limit (the file's length and
// this process's mapping), 8-aligned, and not one of the words that are
// never journaled (the lock, the journal, the client slots).
func (h *Heap) undoJournal(limit uintptr) error {
	n := *h.jcount
	if n > jCap {
		return h.corruptf("Open", offJCount, "journal count %d is larger than %d", n, jCap)
	}
	for i := uintptr(0); i < uintptr(n); i++ {
		e := offJournal + i*16
		off := h.word(e)
		switch {
		case off%8 != 0, off+8 > uint64(limit), off+8 < off:
			return h.corruptf("Open", e, "journal entry %d names offset %#x, outside the heap (%d bytes)", i, off, limit)
		case off < offMaxSize, off >= offSlots && off < hdrSize:
			return h.corruptf("Open", e, "journal entry %d names offset %#x, a word never journaled", i, off)
		}
	}
	h.rollback()
	return nil
}
