package fileheap

import (
	"errors"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/offheap/offheap/mmapper"
)

// maxRequest is the largest n that Alloc and Realloc take.
const maxRequest = maxHeapSize - hdrSize - 2*minChunk

// op is the state of one locked operation of the slow path: its name for
// errors, and work that must wait for its commit (cutting the file,
// punching holes), all of which runs before the lock is released.
type op struct {
	name       string
	noTrim     bool
	truncateTo int64
	punches    [4][2]int64 // {offset, length}
	nPunch     int
}

// Alloc allocates a block of at least n bytes (0 <= n) and returns its
// offset. The block's contents are unspecified. The block stays allocated,
// in the file, until Free or Realloc: across Close and Open, and across
// processes. It fails with ErrFull when the heap has reached its Size.
//
// The common case, a small request whose quick list holds a chunk, takes
// the lock with one compare-and-swap and makes no system call.
func (h *Heap) Alloc(n int) (Offset, error) {
	if uint(n) > maxQuickRequest || h.closed.Load() {
		return h.allocSlow(n)
	}
	nb := request2size(uintptr(n))
	base, lockw := h.base, h.lockw // locals: stores to the file do not reload them
	if !atomic.CompareAndSwapUint32(lockw, 0, h.me) {
		if err := h.lockSlow(); err != nil {
			h.unlockKeepJournal()
			return 0, err
		}
	}
	// The first chunk of the quick list, checked before it is read: below
	// the top and the mapping, then its size word (tag, size, Q bit).
	qoff := offQuick + nb>>4*8
	qp := (*uint64)(unsafe.Add(base, qoff))
	q := *qp
	c := uintptr(q&qOffMask) << 4
	if c < hdrSize || uint64(c+nb) > *(*uint64)(unsafe.Add(base, offTop)) || c+nb > h.mapLen.Load() {
		return h.allocMiss(nb) // empty (c is 0), or damaged
	}
	hp := (*uint64)(unsafe.Add(base, c+sizeSz))
	hd := *hp
	if hd&^flagP != h.tag(c, nb)|uint64(nb)|flagQ {
		return h.allocMiss(nb)
	}
	next := *(*uint64)(unsafe.Add(base, c+hdrSz))
	// Journal the two words (the count, then its entries at offJournal),
	// then change them.
	j := journalAt(base)
	journal2(j, uint64(qoff), q, uint64(c+sizeSz), hd)
	*qp = next>>4&qOffMask | (q&^qOffMask - qOne)
	*hp = hd &^ flagQ
	if releaseLock(&j[0], lockw)&contended != 0 {
		h.wake()
	}
	return Offset(c + hdrSz), nil
}

// allocMiss is Alloc's slow path for a small request, the lock held.
//
//go:noinline
func (h *Heap) allocMiss(nb uintptr) (Offset, error) {
	return h.allocLocked(&op{name: "Alloc"}, nb)
}

// allocSlow is Alloc for a request too large for the quick lists, or a
// closed heap.
//
//go:noinline
func (h *Heap) allocSlow(n int) (Offset, error) {
	if h.closed.Load() {
		return 0, h.errorf(ErrClosed, "Alloc")
	}
	if n < 0 || n > maxRequest {
		return 0, invalidSize("Alloc", n)
	}
	if err := h.lock(); err != nil {
		h.unlockKeepJournal()
		return 0, err
	}
	nb := request2size(uintptr(n))
	if nb <= maxClass {
		if c := h.classPop(nb); c != 0 {
			h.unlock()
			return Offset(c + hdrSz), nil
		}
	}
	return h.allocLocked(&op{name: "Alloc"}, nb)
}

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

func invalidSize(name string, n int) error {
	return errors.Join(errors.New("fileheap: "+name+"(): size out of range"), ErrInvalid)
}

// allocLocked serves a chunk of nb bytes with the lock held, and releases
// it.
func (h *Heap) allocLocked(o *op, nb uintptr) (Offset, error) {
	defer h.unwindOnPanic()
	c, err := h.allocChunk(o, nb)
	if err != nil {
		h.rollback()
		h.unlock()
		return 0, err
	}
	h.finish(o)
	return Offset(c + hdrSz), nil
}

// Free frees the block at off, which must come from Alloc or Realloc (in
// any process) and not have been freed. An offset that is not an allocated
// block, a double free among them, gets an error wrapping ErrInvalid and
// changes nothing.
func (h *Heap) Free(off Offset) error {
	c := uintptr(off) - hdrSz
	mapLen := h.mapLen.Load()
	if off&15 != 0 || off < hdrSize+hdrSz || uintptr(off) > mapLen || h.closed.Load() {
		return h.freeSlow(off)
	}
	base, lockw := h.base, h.lockw
	if !atomic.CompareAndSwapUint32(lockw, 0, h.me) {
		if err := h.lockSlow(); err != nil {
			h.unlockKeepJournal()
			return err
		}
	}
	// Checks before anything is read past the block's header: the header
	// below the top (the file's end must not be touched), a size of the
	// quick lists, the tag, no Q bit (a double free), the chunk below the
	// top and the mapping, the next chunk's P bit (in use).
	top := uintptr(*(*uint64)(unsafe.Add(base, offTop)))
	if c+minChunk > top {
		return h.freeMiss(off)
	}
	hp := (*uint64)(unsafe.Add(base, c+sizeSz))
	hd := *hp
	size := uintptr(hd & sizeMask)
	if size-minChunk > maxClass-minChunk || hd&(tagMask|flagQ) != h.tag(c, size) || c+size > top || c+size+hdrSz > mapLen {
		return h.freeMiss(off)
	}
	if *(*uint64)(unsafe.Add(base, c+size+sizeSz))&flagP == 0 {
		return h.freeMiss(off)
	}
	if size > maxQuick {
		if !h.classPush(c, hd, size) {
			return h.freeMiss(off) // the class list is full: to the bins
		}
		if releaseLock(h.jcount, lockw)&contended != 0 {
			h.wake()
		}
		return nil
	}
	qoff := offQuick + size>>4*8
	qp := (*uint64)(unsafe.Add(base, qoff))
	q := *qp
	if q >= quickCap*qOne {
		return h.freeMiss(off) // the quick list is full: to the bins
	}
	j := journalAt(base)
	journal2(j, uint64(c+sizeSz), hd, uint64(qoff), q)
	// The link overwrites the block's first word, which an undone Free
	// does not give back: the block was being freed.
	*(*uint64)(unsafe.Add(base, c+hdrSz)) = (q & qOffMask) << 4
	*hp = hd | flagQ
	*qp = uint64(c>>4) | (q&^qOffMask + qOne)
	if releaseLock(&j[0], lockw)&contended != 0 {
		h.wake()
	}
	return nil
}

// freeMiss is Free's slow path, the lock held.
//
//go:noinline
func (h *Heap) freeMiss(off Offset) error { return h.freeLocked(off) }

// freeSlow is Free of an offset outside the mapping or of a closed heap.
//
//go:noinline
func (h *Heap) freeSlow(off Offset) error {
	if h.closed.Load() {
		return h.errorf(ErrClosed, "Free")
	}
	if off&15 != 0 || off < hdrSize+hdrSz {
		return invalidf("Free", off, "not a block")
	}
	if err := h.lock(); err != nil {
		h.unlockKeepJournal()
		return err
	}
	return h.freeLocked(off)
}

// freeLocked frees the block at off with the lock held, and releases it.
func (h *Heap) freeLocked(off Offset) error {
	defer h.unwindOnPanic()
	o := &op{name: "Free"}
	c := uintptr(off) - hdrSz
	if err := h.checkInUse(o, c); err != nil {
		h.unlock()
		return err
	}
	if h.quickPush(o, c) {
		h.finish(o)
		return nil
	}
	if err := h.freeChunk(o, c); err != nil {
		h.rollback()
		h.unlock()
		return err
	}
	h.finish(o)
	return nil
}

// Realloc resizes the block at off to at least n bytes, keeping its
// contents up to the smaller of the two sizes, and returns its offset,
// which is off when the block could be resized in place. As C's realloc,
// Realloc(0, n) is Alloc(n) and Realloc(off, 0) frees the block and returns
// 0. The move (allocate, copy, free) is one operation: a process killed in
// it leaves the old block allocated and intact, or the new one allocated
// with the contents and the old one freed.
func (h *Heap) Realloc(off Offset, n int) (Offset, error) {
	switch {
	case h.closed.Load():
		return 0, h.errorf(ErrClosed, "Realloc")
	case off == 0:
		return h.Alloc(n)
	case n == 0:
		return 0, h.Free(off)
	case n < 0 || n > maxRequest:
		return 0, invalidSize("Realloc", n)
	case off&15 != 0 || uintptr(off) < hdrSize+hdrSz:
		return 0, invalidf("Realloc", off, "not a block")
	}
	if err := h.lock(); err != nil {
		h.unlockKeepJournal()
		return 0, err
	}
	defer h.unwindOnPanic()
	o := &op{name: "Realloc"}
	c := uintptr(off) - hdrSz
	if err := h.checkInUse(o, c); err != nil {
		h.unlock()
		return 0, err
	}
	nc, err := h.reallocChunk(o, c, request2size(uintptr(n)))
	if err != nil {
		h.rollback()
		h.unlock()
		return 0, err
	}
	h.finish(o)
	return Offset(nc + hdrSz), nil
}

// reallocChunk resizes in-use chunk c to nb bytes, in place or by moving
// it, journaled.
func (h *Heap) reallocChunk(o *op, c, nb uintptr) (uintptr, error) {
	hd := h.head(c)
	size := uintptr(hd & sizeMask)
	if nb <= size {
		if size-nb >= minChunk {
			// Shrink: the tail becomes a chunk of its own, counted as
			// allocated a moment, then freed (and coalesced).
			rem := c + nb
			h.set(rem+sizeSz, h.headWord(rem, size-nb, flagP))
			h.set(c+sizeSz, h.headWord(c, nb, hd&flagP))
			h.set(offBlocks, h.word(offBlocks)+1)
			h.set(offBytes, h.word(offBytes)-overhead)
			if err := h.freeChunk(o, rem); err != nil {
				return 0, err
			}
		}
		return c, nil
	}
	next := c + size
	top := uintptr(h.word(offTop))
	if next == top {
		tsize, err := h.topSize(o)
		if err != nil {
			return 0, err
		}
		if size+tsize < nb+minChunk {
			// The last block grows in place: grow the file first (if the
			// Size allows; otherwise try a move below).
			if h.growTop(o, nb-size) == nil {
				if tsize, err = h.topSize(o); err != nil {
					return 0, err
				}
			}
		}
		if size+tsize >= nb+minChunk {
			// Grow into the top.
			nt := c + nb
			h.set(nt+sizeSz, h.headWord(nt, size+tsize-nb, flagP))
			h.set(c+sizeSz, h.headWord(c, nb, hd&flagP))
			h.set(offTop, uint64(nt))
			h.set(offBytes, h.word(offBytes)+uint64(nb-size))
			return c, nil
		}
	} else if nsize, free, err := h.neighbour(o, next); err != nil {
		return 0, err
	} else if free && size+nsize >= nb {
		// Grow into the free chunk after it.
		if err := h.unlink(o, next); err != nil {
			return 0, err
		}
		total := size + nsize
		if total-nb >= minChunk {
			rem := c + nb
			h.set(rem+sizeSz, h.headWord(rem, total-nb, flagP))
			h.set(c+total, uint64(total-nb))
			h.set(c+sizeSz, h.headWord(c, nb, hd&flagP))
			if err := h.insert(o, rem); err != nil {
				return 0, err
			}
			total = nb
		} else {
			h.set(c+sizeSz, h.headWord(c, total, hd&flagP))
			h.set(c+total+sizeSz, h.head(c+total)|flagP)
		}
		h.set(offBytes, h.word(offBytes)+uint64(total-size))
		return c, nil
	}
	// Move.
	nc, err := h.allocChunk(o, nb)
	if err != nil {
		return 0, err
	}
	// The copy overwrites the new block's first two words, which held its
	// chunk's links when it was free (in a bin or a quick list): journal
	// them, so that undoing the move puts the chunk back intact.
	h.set(nc+hdrSz, h.word(nc+hdrSz))
	h.set(nc+hdrSz+8, h.word(nc+hdrSz+8))
	copy(unsafe.Slice((*byte)(unsafe.Add(h.base, nc+hdrSz)), size-overhead),
		unsafe.Slice((*byte)(unsafe.Add(h.base, c+hdrSz)), size-overhead))
	if err := h.freeChunk(o, c); err != nil {
		return 0, err
	}
	return nc, nil
}

// allocChunk takes a chunk of nb bytes from a quick list, the bins or the
// top, growing the file if it must, journaled; it returns its offset.
func (h *Heap) allocChunk(o *op, nb uintptr) (uintptr, error) {
	if err := h.ensureMapped(uintptr(h.word(offFileSize))); err != nil {
		return 0, err
	}
	if nb <= maxQuick && h.word(offQuick+nb>>4*8) != 0 {
		return h.quickPop(o, int(nb>>4))
	}
	if nb <= maxClass {
		// A class list holds chunks of its class's sizes, some smaller
		// than nb: take its first chunk if it fits, or the next class's,
		// whose chunks all fit.
		for i := binIndex(nb); i <= binIndex(nb)+1 && i < nQuick; i++ {
			q := h.word(offQuick + uintptr(i)*8)
			if q == 0 {
				continue
			}
			c := uintptr(q&qOffMask) << 4
			if err := h.checkChunk(o, c, "quick list chunk"); err != nil {
				return 0, err
			}
			if h.chunkSize(c) >= nb {
				return h.quickPop(o, i)
			}
		}
	}
	for consolidated := false; ; consolidated = true {
		if c, err := h.fromBins(o, nb); c != 0 || err != nil {
			return c, err
		}
		if c, err := h.fromTop(o, nb); c != 0 || err != nil {
			return c, err
		}
		// No room below the file's end. Before growing the file, give the
		// quick lists' chunks back to the bins (coalescing), once, if
		// nothing of this operation is journaled yet (consolidate commits
		// as it goes).
		if consolidated || *h.jcount != 0 || !h.anyQuick() {
			break
		}
		if err := h.consolidate(o); err != nil {
			return 0, err
		}
	}
	if err := h.growTop(o, nb); err != nil {
		return 0, err
	}
	c, err := h.fromTop(o, nb)
	if c == 0 && err == nil {
		err = h.corruptf(o.name, uintptr(h.word(offTop)), "the top chunk did not grow")
	}
	return c, err
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

// fromBins takes a chunk of at least nb bytes from the bins, splitting off
// what is left when that is a chunk, journaled. It returns 0 if no bin has
// one.
func (h *Heap) fromBins(o *op, nb uintptr) (uintptr, error) {
	idx := binIndex(nb)
	b := binHead(idx)
	if c := uintptr(h.word(b + 16)); c != b {
		if nb < 1024 {
			return h.takeFree(o, c, nb) // exact size
		}
		// The request's own bin holds sizes on both sides of nb: look at
		// a few chunks for one that fits.
		for i := 0; c != b && i < 16; i++ {
			if err := h.checkLink(o, c, b); err != nil {
				return 0, err
			}
			if h.chunkSize(c) >= nb {
				return h.takeFree(o, c, nb)
			}
			c = uintptr(h.word(c + 16))
		}
	}
	// Any chunk of a bin above fits.
	i := h.nextBin(idx + 1)
	if i < 0 {
		return 0, nil
	}
	b = binHead(i)
	c := uintptr(h.word(b + 16))
	if c == b {
		return 0, h.corruptf(o.name, offBinmap, "bin %d is marked in the bin map but empty", i)
	}
	return h.takeFree(o, c, nb)
}

// nextBin returns the first non-empty bin at or above i, or -1.
func (h *Heap) nextBin(i int) int {
	for w := i / 64; w < binmapWords; w++ {
		m := h.word(offBinmap + uintptr(w)*8)
		if w == i/64 {
			m &^= 1<<(uint(i)%64) - 1
		}
		if m != 0 {
			if j := w*64 + bits.TrailingZeros64(m); j < nBins {
				return j
			}
			return -1
		}
	}
	return -1
}

// takeFree allocates nb bytes from free chunk c (in a bin).
func (h *Heap) takeFree(o *op, c, nb uintptr) (uintptr, error) {
	if err := h.unlink(o, c); err != nil {
		return 0, err
	}
	hd := h.head(c)
	size := uintptr(hd & sizeMask)
	if size < nb {
		return 0, h.corruptf(o.name, c, "free chunk of %d bytes in the bin of %d", size, nb)
	}
	if size-nb >= minChunk {
		rem := c + nb
		h.set(rem+sizeSz, h.headWord(rem, size-nb, flagP))
		h.set(c+size, uint64(size-nb))
		h.set(c+sizeSz, h.headWord(c, nb, hd&flagP))
		if err := h.insert(o, rem); err != nil {
			return 0, err
		}
		size = nb
	} else {
		h.set(c+size+sizeSz, h.head(c+size)|flagP)
	}
	h.countAlloc(size)
	return c, nil
}

// fromTop carves nb bytes from the top chunk, journaled, if it has them
// and MinSize more (the top always remains); otherwise it returns 0.
func (h *Heap) fromTop(o *op, nb uintptr) (uintptr, error) {
	tsize, err := h.topSize(o)
	if err != nil || tsize < nb+minChunk {
		return 0, err
	}
	top := uintptr(h.word(offTop))
	rem := top + nb
	h.set(rem+sizeSz, h.headWord(rem, tsize-nb, flagP))
	h.set(top+sizeSz, h.headWord(top, nb, h.head(top)&flagP))
	h.set(offTop, uint64(rem))
	h.countAlloc(nb)
	return top, nil
}

// topSize returns the top chunk's size after checking its header.
func (h *Heap) topSize(o *op) (uintptr, error) {
	top, fileSize := uintptr(h.word(offTop)), uintptr(h.word(offFileSize))
	if top < hdrSize || top%alignSz != 0 || top+minChunk > fileSize || fileSize > h.mapLen.Load() {
		return 0, h.corruptf(o.name, offTop, "top chunk at %#x, heap length %d", top, fileSize)
	}
	hd := h.head(top)
	if !h.validHead(top, hd) || uintptr(hd&sizeMask) != fileSize-top || hd&flagQ != 0 {
		return 0, h.corruptf(o.name, top, "top chunk's size word %#x, want size %d", hd, fileSize-top)
	}
	return fileSize - top, nil
}

// growTop makes the file long enough for the top to give nb bytes and keep
// MinSize: by a step of an eighth of its length (256 KiB to 64 MiB), or
// more if nb needs it, within the heap's Size.
func (h *Heap) growTop(o *op, nb uintptr) error {
	tsize, err := h.topSize(o)
	if err != nil {
		return err
	}
	page := mmapper.PageSize()
	top, fileSize, maxSize := uintptr(h.word(offTop)), uintptr(h.word(offFileSize)), uintptr(h.word(offMaxSize))
	need := (top + nb + minChunk + page - 1) &^ (page - 1)
	step := min(max(fileSize/8, minGrow), maxGrow)
	newSize := max(need, (fileSize+step+page-1)&^(page-1))
	if newSize > maxSize {
		if need > maxSize || need < top {
			return h.errorf(ErrFull, "%s(): %d bytes do not fit: the heap uses %d of its %d bytes", o.name, nb-overhead, fileSize-tsize, maxSize)
		}
		newSize = maxSize
	}
	if err := h.ensureMapped(newSize); err != nil {
		return err
	}
	if err := setLength(h.fd, int64(newSize)); err != nil {
		return h.errorf(err, "%s(): growing the file to %d bytes", o.name, newSize)
	}
	h.set(top+sizeSz, h.headWord(top, tsize+newSize-fileSize, h.head(top)&flagP))
	h.set(offFileSize, uint64(newSize))
	return nil
}

// freeChunk frees in-use chunk c, coalescing it with free neighbours and
// the top, journaled; work for after the commit (a cut, holes) goes to o.
func (h *Heap) freeChunk(o *op, c uintptr) error {
	hd := h.head(c)
	size := uintptr(hd & sizeMask)
	h.set(offBlocks, h.word(offBlocks)-1)
	h.set(offBytes, h.word(offBytes)-uint64(size-overhead))
	lo, hi := c, c+size // what may hold data: never punched yet
	if hd&flagP == 0 {
		ps := h.prevSize(c)
		p := c - ps
		if ps < minChunk || ps%alignSz != 0 || p < hdrSize || p > c {
			return h.corruptf(o.name, c, "corrupted size vs. prev_size (%d)", ps)
		}
		if err := h.unlink(o, p); err != nil {
			return err
		}
		if h.chunkSize(p) != ps {
			return h.corruptf(o.name, p, "corrupted size vs. prev_size")
		}
		if ps < punchThreshold {
			lo = p
		}
		c, size = p, size+ps
		hd = h.head(p)
	}
	next := c + size
	top := uintptr(h.word(offTop))
	if next == top {
		tsize, err := h.topSize(o)
		if err != nil {
			return err
		}
		size += tsize
		h.set(c+sizeSz, h.headWord(c, size, hd&flagP))
		h.set(offTop, uint64(c))
		h.planTrim(o, c, size)
		return nil
	}
	nsize, free, err := h.neighbour(o, next)
	if err != nil {
		return err
	}
	if free {
		if err := h.unlink(o, next); err != nil {
			return err
		}
		if nsize < punchThreshold {
			hi = next + nsize
		}
		size += nsize
	} else {
		h.set(next+sizeSz, h.head(next)&^flagP)
	}
	h.set(c+sizeSz, h.headWord(c, size, hd&flagP))
	h.set(c+size, uint64(size))
	if err := h.insert(o, c); err != nil {
		return err
	}
	if size >= punchThreshold {
		h.planPunch(o, max(lo, c+32), min(hi, c+size))
	}
	return nil
}

// neighbour checks chunk n, which follows a chunk being freed or grown,
// and returns its size and whether it is free (in a bin).
func (h *Heap) neighbour(o *op, n uintptr) (uintptr, bool, error) {
	if err := h.checkChunk(o, n, "next chunk"); err != nil {
		return 0, false, err
	}
	hd := h.head(n)
	nsize := uintptr(hd & sizeMask)
	free := h.head(n+nsize)&flagP == 0
	if free && hd&flagQ != 0 {
		return 0, false, h.corruptf(o.name, n, "chunk both free and in a quick list")
	}
	return nsize, free, nil
}

// planTrim plans to cut the file after a free left the top (at top, of
// tsize bytes) above the trim threshold, keeping topPad bytes.
func (h *Heap) planTrim(o *op, top, tsize uintptr) {
	if o.noTrim || tsize < trimThreshold+topPad {
		return
	}
	page := mmapper.PageSize()
	newSize := (top + topPad + page - 1) &^ (page - 1)
	fileSize := uintptr(h.word(offFileSize))
	if newSize >= fileSize {
		return
	}
	h.set(top+sizeSz, h.headWord(top, newSize-top, h.head(top)&flagP))
	h.set(offFileSize, uint64(newSize))
	o.truncateTo = int64(newSize)
}

// planPunch plans to punch the whole pages of [lo, hi) out of the file.
func (h *Heap) planPunch(o *op, lo, hi uintptr) {
	page := mmapper.PageSize()
	lo, hi = (lo+page-1)&^(page-1), hi&^(page-1)
	if hi > lo && o.nPunch < len(o.punches) && !h.noPunch.Load() {
		o.punches[o.nPunch] = [2]int64{int64(lo), int64(hi - lo)}
		o.nPunch++
	}
}

// commitOp commits the journaled writes of o and does the work that had to
// wait for them, still under the lock: cutting the file (after the header
// says it is shorter, so the file is never shorter than the header says)
// and punching holes in free chunks (after the frees are permanent, so an
// undone free never finds its block's pages gone).
func (h *Heap) commitOp(o *op) {
	if storeHook != nil {
		storeHook(h)
	}
	commit(h.jcount)
	if storeHook != nil {
		storeHook(h)
	}
	if o.truncateTo != 0 {
		setLength(h.fd, o.truncateTo) // on failure the file stays longer, which is harmless
		o.truncateTo = 0
	}
	for i := 0; i < o.nPunch; i++ {
		if err := punch(h.fd, o.punches[i][0], o.punches[i][1]); errors.Is(err, unix.EOPNOTSUPP) {
			h.noPunch.Store(true) // sticky: this file system cannot
		}
	}
	o.nPunch = 0
}

// finish commits o and releases the lock.
func (h *Heap) finish(o *op) {
	h.commitOp(o)
	h.unlock()
}

// unwindOnPanic, deferred by the slow paths, undoes the operation in flight
// and releases the lock if it panics (a bug), so that other processes and
// goroutines are not left waiting; the panic goes on.
func (h *Heap) unwindOnPanic() {
	if r := recover(); r != nil {
		if atomic.LoadUint32(h.lockw)&^contended == h.me {
			h.rollback()
			h.unlock()
		}
		panic(r)
	}
}

// unlink removes free chunk p from its bin, checking the links (glibc's
// unlink_chunk), journaled.
func (h *Heap) unlink(o *op, p uintptr) error {
	if err := h.checkChunk(o, p, "free chunk"); err != nil {
		return err
	}
	size := h.chunkSize(p)
	if h.prevSize(p+size) != size {
		return h.corruptf(o.name, p, "corrupted size vs. prev_size")
	}
	f, b := uintptr(h.word(p+16)), uintptr(h.word(p+24))
	if err := h.checkLink(o, f, p); err != nil {
		return err
	}
	if err := h.checkLink(o, b, p); err != nil {
		return err
	}
	if uintptr(h.word(f+24)) != p || uintptr(h.word(b+16)) != p {
		return h.corruptf(o.name, p, "corrupted double-linked list")
	}
	h.set(f+24, uint64(b))
	h.set(b+16, uint64(f))
	if f == b && isBinHead(f) {
		i := int(f-binHead(0)) / 16
		w := offBinmap + uintptr(i/64)*8
		h.set(w, h.word(w)&^(1<<(uint(i)%64)))
	}
	return nil
}

// insert puts free chunk c at the front of its bin, journaled.
func (h *Heap) insert(o *op, c uintptr) error {
	i := binIndex(h.chunkSize(c))
	b := binHead(i)
	f := uintptr(h.word(b + 16))
	if err := h.checkLink(o, f, b); err != nil {
		return err
	}
	if uintptr(h.word(f+24)) != b {
		return h.corruptf(o.name, f, "corrupted double-linked list (bin %d)", i)
	}
	h.set(c+16, uint64(f))
	h.set(c+24, uint64(b))
	h.set(f+24, uint64(c))
	h.set(b+16, uint64(c))
	w := offBinmap + uintptr(i/64)*8
	if m := h.word(w); m&(1<<(uint(i)%64)) == 0 {
		h.set(w, m|1<<(uint(i)%64))
	}
	return nil
}

func (h *Heap) countAlloc(size uintptr) {
	h.set(offBlocks, h.word(offBlocks)+1)
	h.set(offBytes, h.word(offBytes)+uint64(size-overhead))
}

// checkChunk checks that c is a chunk below the top: aligned, with a
// tagged size word and a size that ends at or below the top.
func (h *Heap) checkChunk(o *op, c uintptr, what string) error {
	top := uintptr(h.word(offTop))
	if c < hdrSize || c%alignSz != 0 || c+minChunk > top || top > h.mapLen.Load() {
		return h.corruptf(o.name, c, "%s outside the heap (top at %#x)", what, top)
	}
	hd := h.head(c)
	size := uintptr(hd & sizeMask)
	if !h.validHead(c, hd) || size < minChunk || c+size > top {
		return h.corruptf(o.name, c, "%s has a bad size word %#x", what, hd)
	}
	return nil
}

// checkLink checks that l, a link found in a list next to p, names a bin
// head or a chunk.
func (h *Heap) checkLink(o *op, l, p uintptr) error {
	if isBinHead(l) {
		return nil
	}
	top := uintptr(h.word(offTop))
	if l < hdrSize || l%alignSz != 0 || l+minChunk > top || top > h.mapLen.Load() {
		return h.corruptf(o.name, p, "list link %#x points outside the heap", l)
	}
	return nil
}

// checkInUse checks that c is an allocated chunk: the offset the caller
// gave is a block.
func (h *Heap) checkInUse(o *op, c uintptr) error {
	if err := h.ensureMapped(uintptr(h.word(offFileSize))); err != nil {
		return err
	}
	off := Offset(c + hdrSz)
	top := uintptr(h.word(offTop))
	if c < hdrSize || c%alignSz != 0 || c+minChunk > top {
		return invalidf(o.name, off, "not a block")
	}
	hd := h.head(c)
	size := uintptr(hd & sizeMask)
	if !h.validHead(c, hd) || size < minChunk || c+size > top {
		return invalidf(o.name, off, "not a block (invalid pointer)")
	}
	if hd&flagQ != 0 || h.head(c+size)&flagP == 0 {
		if o.name == "Free" {
			return invalidf(o.name, off, "double free")
		}
		return invalidf(o.name, off, "block already freed")
	}
	return nil
}

// ensureMapped extends this process's mapping to cover n bytes of the
// file, when another process has raised the heap's Size and grown it past
// what this one mapped at Open. The mapping grows inside the address space
// Open reserved (8 times the mapping, at least 64 GiB); past that the heap
// cannot be followed without reopening it.
func (h *Heap) ensureMapped(n uintptr) error {
	if n <= h.mapLen.Load() {
		return nil
	}
	h.mapMu.Lock()
	defer h.mapMu.Unlock()
	cur := h.mapLen.Load()
	if n <= cur {
		return nil
	}
	if n > h.resvLen {
		return h.errorf(ErrFull, "the heap grew to %d bytes, past the %d bytes of address space this process reserved: reopen it", n, h.resvLen)
	}
	page := mmapper.PageSize()
	want := min((max(uintptr(h.word(offMaxSize)), n)+page-1)&^(page-1), h.resvLen)
	if err := mmapper.MapFileFixed(uintptr(h.base)+cur, h.fd, int64(cur), want-cur, true); err != nil {
		return h.errorf(err, "extending the mapping to %d bytes", want)
	}
	h.mapLen.Store(want)
	return nil
}
