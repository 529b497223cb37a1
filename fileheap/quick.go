package fileheap

import (
	"unsafe"
)

// The quick lists (format.go): freed chunks kept uncoalesced for the next
// Alloc of their size, one list per exact size up to 1008 bytes (Alloc's
// and Free's fast paths in malloc.go) and one per class from 1 to 16 KiB
// (classPop and classPush), emptied into the bins before the file grows.

// classPop takes a chunk of at least nb bytes (maxQuick < nb <= maxClass)
// from the first chunk of its class quick list or the next one's, with the
// lock held: the fast path of the mid sizes, journaled by hand as Alloc's.
// It returns 0 when neither first chunk serves (or one looks damaged: the
// slow path then says so).
func (h *Heap) classPop(nb uintptr) uintptr {
	base := h.base
	top := uintptr(*(*uint64)(unsafe.Add(base, offTop)))
	limit := min(top, h.mapLen.Load())
	for i := binIndex(nb); i <= binIndex(nb)+1 && i < nQuick; i++ {
		qoff := offQuick + uintptr(i)*8
		qp := (*uint64)(unsafe.Add(base, qoff))
		q := *qp
		c := uintptr(q&qOffMask) << 4
		if c < hdrSize || c+minChunk > limit {
			continue // empty (or damaged)
		}
		hp := (*uint64)(unsafe.Add(base, c+sizeSz))
		hd := *hp
		size := uintptr(hd & sizeMask)
		if hd&(tagMask|flagQ) != h.tag(c, size)|flagQ || binIndex(size) != i || c+size > limit {
			return 0
		}
		if size < nb {
			continue
		}
		next := *(*uint64)(unsafe.Add(base, c+hdrSz))
		qb := (*uint64)(unsafe.Add(base, offQuickBytes))
		journal3(journalAt(base), uint64(qoff), q, uint64(c+sizeSz), hd, offQuickBytes, *qb)
		*qp = next>>4&qOffMask | (q&^qOffMask - qOne)
		*hp = hd &^ flagQ
		*qb -= uint64(size)
		return c
	}
	return 0
}

// classPush puts chunk c (size word hd, size bytes, maxQuick < size <=
// maxClass), checked in use by Free, at the front of its class quick list
// if the list has room, with the lock held, journaled by hand; the caller
// releases the lock. It reports whether it did.
//
//go:noinline
func (h *Heap) classPush(c uintptr, hd uint64, size uintptr) bool {
	base := h.base
	i := binIndex(size)
	qoff := offQuick + uintptr(i)*8
	qp := (*uint64)(unsafe.Add(base, qoff))
	q := *qp
	if q>>qShift >= classCap(i) {
		return false
	}
	qb := (*uint64)(unsafe.Add(base, offQuickBytes))
	journal3(journalAt(base), uint64(c+sizeSz), hd, uint64(qoff), q, offQuickBytes, *qb)
	*(*uint64)(unsafe.Add(base, c+hdrSz)) = (q & qOffMask) << 4 // the block's first word: it is being freed
	*(*uint64)(unsafe.Add(base, c+sizeSz)) = hd | flagQ
	*qp = uint64(c>>4) | (q&^qOffMask + qOne)
	*qb += uint64(size)
	return true
}

// quickPop takes the first chunk of quick list i, checking it, journaled.
func (h *Heap) quickPop(o *op, i int) (uintptr, error) {
	qoff := offQuick + uintptr(i)*8
	q := h.word(qoff)
	c := uintptr(q&qOffMask) << 4
	if q>>qShift == 0 {
		return 0, h.corruptf(o.name, qoff, "quick list %d has a chunk but a count of 0", i)
	}
	if err := h.checkChunk(o, c, "quick list chunk"); err != nil {
		return 0, err
	}
	hd := h.head(c)
	size := uintptr(hd & sizeMask)
	if binIndex(size) != i || hd&flagQ == 0 {
		return 0, h.corruptf(o.name, c, "chunk in quick list %d has size word %#x", i, hd)
	}
	next := h.word(c + hdrSz)
	h.set(qoff, next>>4&qOffMask|(q&^qOffMask-qOne))
	h.set(c+sizeSz, hd&^flagQ)
	if i >= 64 {
		h.set(offQuickBytes, h.word(offQuickBytes)-uint64(size))
	}
	return c, nil
}

// quickPush puts in-use chunk c at the front of its class quick list, if
// the list has room, journaled; it reports whether it did. (The exact
// lists' push is Free's fast path.)
func (h *Heap) quickPush(o *op, c uintptr) bool {
	hd := h.head(c)
	size := uintptr(hd & sizeMask)
	if size <= maxQuick || size > maxClass {
		return false
	}
	i := binIndex(size)
	qoff := offQuick + uintptr(i)*8
	q := h.word(qoff)
	if q>>qShift >= classCap(i) {
		return false
	}
	h.setRaw(c+hdrSz, (q&qOffMask)<<4) // the block's first word: it is being freed
	h.set(c+sizeSz, hd|flagQ)
	h.set(qoff, uint64(c>>4)|(q&^qOffMask+qOne))
	h.set(offQuickBytes, h.word(offQuickBytes)+uint64(size))
	return true
}

// anyQuick reports whether any quick list holds a chunk.
func (h *Heap) anyQuick() bool {
	for i := 2; i < nQuick; i++ {
		if h.word(offQuick+uintptr(i)*8) != 0 {
			return true
		}
	}
	return false
}

// consolidate frees every chunk of the quick lists into the bins, each as
// an operation of its own (the journal holds one at a time).
func (h *Heap) consolidate(o *op) error {
	noTrim := o.noTrim
	o.noTrim = true // the file is about to grow: do not cut it
	defer func() { o.noTrim = noTrim }()
	for i := 2; i < nQuick; i++ {
		for h.word(offQuick+uintptr(i)*8) != 0 {
			c, err := h.quickPop(o, i)
			if err != nil {
				return err
			}
			if err := h.freeChunk(o, c); err != nil {
				return err
			}
			h.commitOp(o)
		}
	}
	return nil
}
