package fileheap

import (
	"errors"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
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
