package arena

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// CorruptionError is the value offheap panics with when it finds a broken
// heap or a bad pointer: Op is glibc's message ("free(): invalid pointer"),
// Addr the user pointer or chunk concerned. Locks are released before the
// panic, so a caller that recovers can keep using the allocator.
type CorruptionError struct {
	Op   string
	Addr uintptr
}

// Error returns the message and the address, as in
// "free(): invalid pointer (address 0xc000010000)".
func (e *CorruptionError) Error() string {
	return fmt.Sprintf("%s (address %#x)", e.Op, e.Addr)
}

func panicf(op string, addr uintptr) {
	panic(&CorruptionError{Op: op, Addr: addr})
}

// corrupt reports corruption found while the arena lock is held; every
// locked entry point unlocks in a deferred call.
func (a *Arena) corrupt(op string, c uintptr) { panicf(op, c) }

// chunkFor validates user pointer p for operation op and returns its chunk
// and arena (nil for a mapped chunk). It panics on a pointer that offheap
// did not hand out.
func (h *Heap) chunkFor(op string, p uintptr) (c uintptr, a *Arena) {
	c, a, err := h.Validate(op, p)
	if err != nil {
		panic(err)
	}
	return c, a
}

// Validate checks user pointer p as Free does before it changes anything,
// and returns its chunk and arena (nil for a mapped chunk), or the error
// Free would panic with for operation op ("free(): invalid pointer"): p is
// misaligned, outside every region offheap owns, or its header's tag,
// size or M bit is wrong. It reads no memory outside those regions.
func (h *Heap) Validate(op string, p uintptr) (c uintptr, a *Arena, err *CorruptionError) {
	if p&alignMask != 0 {
		return 0, nil, &CorruptionError{Op: op + ": invalid pointer", Addr: p}
	}
	kind, a := h.Lookup(p)
	c = ChunkOf(p)
	switch kind {
	case InMapped:
		if !isMmapped(c) || !h.validHead(c) {
			return 0, nil, &CorruptionError{Op: op + ": invalid pointer", Addr: p}
		}
		return c, nil, nil
	case InHeap:
		if !h.validHead(c) {
			return 0, nil, &CorruptionError{Op: op + ": invalid pointer", Addr: p}
		}
		if isMmapped(c) || chunkSize(c) < MinSize {
			return 0, nil, &CorruptionError{Op: op + ": invalid size", Addr: p}
		}
		return c, a, nil
	}
	return 0, nil, &CorruptionError{Op: op + ": invalid pointer", Addr: p}
}

// Resolve validates user pointer p as Free does and returns its chunk, its
// arena (nil for a mapped chunk). It panics like Free on a bad pointer.
func (h *Heap) Resolve(op string, p uintptr) (c uintptr, a *Arena) { return h.chunkFor(op, p) }

// Free frees user pointer p; 0 does nothing.
func (h *Heap) Free(p uintptr) {
	if p == 0 {
		return
	}
	if kind, _ := h.Lookup(p); kind == InMapped {
		if err := h.FreeMapped(p); err != nil {
			panic(err)
		}
		return
	}
	c, a := h.chunkFor("free()", p)
	if a == nil {
		h.unmapChunk(c)
		return
	}
	a.lockedFree(c)
}

func (a *Arena) lockedFree(c uintptr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.freeLocked(c, true)
}

// FreeChunk frees chunk c, already validated by Resolve, into arena a (nil
// for a mapped chunk).
func (h *Heap) FreeChunk(c uintptr, a *Arena) {
	if a == nil {
		h.unmapChunk(c)
		return
	}
	a.lockedFree(c)
}

// Usable returns malloc_usable_size(p): 0 for 0, otherwise the chunk size
// less 8 (less 16 for a mapped chunk).
func (h *Heap) Usable(p uintptr) uintptr {
	if p == 0 {
		return 0
	}
	c, _ := h.chunkFor("malloc_usable_size()", p)
	return usable(c)
}

func copyMem(dst, src, n uintptr) {
	copy(unsafe.Slice((*byte)(unsafe.Add(nil, dst)), n), unsafe.Slice((*byte)(unsafe.Add(nil, src)), n))
}

// Realloc resizes the block at user pointer p (not 0) to n bytes, in place
// when it can (the next chunk free or the top, mremap for a mapped chunk),
// otherwise by moving it within its arena. It returns the new user pointer,
// or 0 with the block untouched when memory runs out. alt is the arena to
// allocate from when p is a mapped chunk that must move.
func (h *Heap) Realloc(p, n uintptr, alt *Arena) uintptr {
	c, a := h.chunkFor("realloc()", p)
	if n > MaxRequest {
		return 0
	}
	nb := Request2Size(n)
	if a == nil {
		if nc := h.remapChunk(c, nb); nc != 0 {
			return Mem(nc)
		}
		if chunkSize(c)-sizeSz >= nb {
			return p
		}
		np := alt.Malloc(n)
		if np == 0 {
			return 0
		}
		copyMem(np, p, usable(c))
		h.unmapChunk(c)
		return np
	}
	return a.realloc(c, nb)
}

func (a *Arena) realloc(oldp, nb uintptr) uintptr {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.h
	oldsize := chunkSize(oldp)
	next := oldp + oldsize
	if oldp == a.top {
		a.corrupt("realloc(): invalid pointer", Mem(oldp))
	}
	if next+hdrSz > a.regionEnd(oldp) || !h.validHead(next) || !prevInuse(next) {
		a.corrupt("realloc(): invalid next size", Mem(oldp))
	}
	if isCached(oldp) {
		a.corrupt("realloc(): invalid pointer", Mem(oldp))
	}
	newp, newsize := oldp, oldsize
	if oldsize < nb {
		if next == a.top {
			if ts := chunkSize(next); oldsize+ts >= nb+MinSize {
				h.kill(next) // the old top's header is inside the grown chunk now
				h.setHeadSize(oldp, nb)
				a.setTop(oldp+nb, oldsize+ts-nb)
				if a.top+hdrSz > a.freshFrom {
					a.freshFrom = a.top + hdrSz
				}
				return Mem(oldp)
			}
		}
		nextsize := chunkSize(next)
		if next != a.top && nextsize != fenceSz && !prevInuse(next+nextsize) && oldsize+nextsize >= nb {
			a.unlink(next)
			h.kill(next)
			newsize = oldsize + nextsize
		} else {
			nc := a.mallocLocked(nb)
			if nc == 0 {
				return 0
			}
			if nc == next {
				newsize += chunkSize(nc)
				h.kill(nc)
			} else {
				copyMem(Mem(nc), Mem(oldp), oldsize-overhead)
				a.freeLocked(oldp, true)
				return Mem(nc)
			}
		}
	}
	// Give back what is left over at the end.
	if rs := newsize - nb; rs < MinSize {
		h.setHeadSize(newp, newsize)
		setInuseBit(newp)
	} else {
		rem := newp + nb
		h.setHeadSize(newp, nb)
		h.setHead(rem, rs, flagP)
		setInuseBit(rem)
		a.freeLocked(rem, true)
	}
	return Mem(newp)
}

// Memalign returns n bytes aligned to alignment (a power of two) from
// arena a, or 0.
func (a *Arena) Memalign(alignment, n uintptr) uintptr {
	if alignment <= align {
		return a.Malloc(n)
	}
	if n > MaxRequest || alignment > MaxRequest/2 {
		return 0
	}
	nb := Request2Size(n)
	if nb+alignment+MinSize > MaxRequest {
		return 0
	}
	c := a.memalign(alignment, nb)
	if c == 0 {
		return 0
	}
	a.h.perturbAlloc(c)
	return Mem(c)
}

func (a *Arena) memalign(alignment, nb uintptr) uintptr {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.h
	if nb >= h.mmapThreshold.Load() && h.mapped.live.Load() < h.mmapMax.Load() {
		// A mapped chunk aligned at birth wastes no heap.
		if c, _ := h.mapChunk(nb, alignment); c != 0 {
			return c
		}
	}
	p := a.mallocLocked(nb + alignment + MinSize)
	if p == 0 {
		return 0
	}
	if Mem(p)%alignment != 0 {
		brk := ChunkOf(roundUp(Mem(p), alignment))
		if brk-p < MinSize {
			brk += alignment
		}
		lead := brk - p
		newsize := chunkSize(p) - lead
		if isMmapped(p) {
			off := prevSize(p)
			h.mapped.move(p, brk, off+chunkSize(p), off+chunkSize(p))
			setPrevSize(brk, off+lead)
			h.setHead(brk, newsize, flagM)
			return brk
		}
		h.setHead(brk, newsize, flagP)
		setInuseBit(brk)
		h.setHeadSize(p, lead)
		a.freeLocked(p, true)
		p = brk
	}
	if !isMmapped(p) {
		if size := chunkSize(p); size > nb+MinSize {
			rem := p + nb
			h.setHead(rem, size-nb, flagP)
			h.setHeadSize(p, nb)
			a.freeLocked(rem, true)
		}
	}
	return p
}

// FrontFree validates user pointer p for a front cache: it returns the
// chunk and its size when p is an in-use chunk of an arena's heap with a
// sound header (sampled or not: the caller looks at the S bit), and 0
// otherwise: a mapped chunk, a chunk in a fastbin (F bit: a double free),
// or a bad pointer, which the caller's slow path sorts out and reports. It reads no memory outside the heap's regions
// and never panics.
func (h *Heap) FrontFree(p uintptr) (c, size uintptr) {
	c = p - hdrSz
	if p&alignMask != 0 || p < hdrSz {
		return 0, 0
	}
	var end uintptr // the end of c's region (as heapRegionEnd, inline: this is the fast path)
	if b := h.brkBase.Load(); b != 0 && c >= b && p+hdrSz <= h.brkEnd.Load() {
		end = h.brkEnd.Load() // in the break region
	} else if base, _ := h.heapOf(c); base == 0 || c < base+heapHdrSz || p+hdrSz > heapEnd(base) {
		return 0, 0
	} else {
		end = heapEnd(base)
	}
	w := word(c + sizeSz)
	size = w & sizeBits &^ flagMask
	if w>>tagShift<<tagShift != h.tag(c, size) || w&(flagM|flagF|flagA|flagT) != 0 || size < MinSize {
		return 0, 0 // mapped, in a bin, the top, or bad: the slow path decides
	}
	// The next chunk must have a sound header that says this one is in use.
	// Otherwise (a chunk that went back to its arena and is freed again, an
	// overflow into the next header) the slow path finds and reports it.
	if next := c + size; next+hdrSz > end || !h.validHead(next) || word(next+sizeSz)&flagP == 0 {
		return 0, 0
	}
	return c, size
}

// heapRegionEnd returns the end of the break region or heap that holds
// chunk address c, or 0 if c lies in neither. It reads only the heap's own
// tables.
func (h *Heap) heapRegionEnd(c uintptr) uintptr {
	if b := h.brkBase.Load(); b != 0 && c >= b && c < h.brkEnd.Load() {
		return h.brkEnd.Load()
	}
	if base, _ := h.heapOf(c); base != 0 && c >= base+heapHdrSz && c < heapEnd(base) {
		return heapEnd(base)
	}
	return 0
}

// LooksInUse reports whether heap chunk c (its header already validated,
// as by Validate) looks in use to its arena: the chunk after it lies in the
// same region, has a sound header and its P bit set. A chunk that went back
// to its arena fails (it is the top, or part of a bigger free chunk, or the
// next chunk says it is free); so does one whose next header was overwritten.
func (h *Heap) LooksInUse(c uintptr) bool {
	end := h.heapRegionEnd(c)
	next := c + chunkSize(c)
	return end != 0 && next+hdrSz <= end && next > c && h.validHead(next) &&
		atomic.LoadUintptr(headWord(next))&flagP != 0
}

// NextInUse reports whether the P bit of the chunk after chunk c (of size
// bytes) is set, read atomically; the caller knows that chunk lies in c's
// region (FrontFree or LooksInUse said so). Front caches call it without the
// arena lock, after claiming c, to see whether c went back to its arena
// meanwhile.
func NextInUse(c, size uintptr) bool { return atomic.LoadUintptr(headWord(c+size))&flagP != 0 }

// InUseFast is the front caches' check of user pointer p on the free fast
// path: it returns p's chunk and size when p is 16-aligned, lies in the
// break region or a heap of this Heap with its whole chunk, and its header
// has a valid tag and none of the M, T, F, A and S bits, which (see
// chunk.go) makes it an in-use chunk of an arena: held by the program, or
// by a front cache. Otherwise it returns 0, and the caller's slow path
// finds out what p is. It reads p's header and nothing else outside the
// heap's own tables (not the next chunk's header, which glibc reads: a
// second cache line), never panics, and makes no call, so that a
// go:nosplit caller stays free of preemption. It is two functions that the
// compiler inlines, InUseHeader(p, FastRegion(p-16)): a caller on a hot path
// calls them so.
//
//go:nosplit
func (h *Heap) InUseFast(p uintptr) (c, size uintptr) {
	room, _ := h.FastRegion(p - hdrSz)
	return h.InUseHeader(p, room)
}

// Room returns how many bytes lie between chunk address c and the end of
// the break region or heap that holds it, or 0 when c lies in neither
// (FastRegion without the granule entry).
func (h *Heap) Room(c uintptr) uintptr {
	room, _ := h.FastRegion(c)
	return room
}

// GranuleEntry returns the granule table's word for chunk address c: the
// same for every chunk of one arena's heaps (LocalEntry), 0 for a chunk of
// the break region. One load from a fixed table, no call.
//
//go:nosplit
func GranuleEntry(c uintptr) uint32 { return granuleTable[(c>>granuleShift)%granules] }

// LocalEntry returns the GranuleEntry of the chunks a refill from arena a
// hands out: 0 for the main arena of a Heap on the break (a chunk of one
// of its heaps, when the break ran out, has another entry), the entry of
// its heaps for any other arena.
func (a *Arena) LocalEntry() uint32 {
	if a.index == 0 && a.h.brk != nil {
		return 0
	}
	return a.h.granuleEntry(a.index)
}

// FastRegion is the free fast paths' region lookup (InUseFast's, and
// Room's): the room after chunk address c, as Room, and c's GranuleEntry
// (0 in the break region, without a load), by which the fast path tells
// its P's own chunks from foreign ones. It reads the break region's
// bounds, and, for a chunk outside it, the granule table and the heap
// header's end: no call, no panic.
//
// Its first branch, break or heap, mispredicts when the chunks freed on
// a P come from both at random; the caches' foreign classes keep each P's
// blocks to its own arena, so it does not happen for long (a branch-free
// form cost a 64-byte pair 0.5 ns more).
//
//go:nosplit
func (h *Heap) FastRegion(c uintptr) (room uintptr, entry uint32) {
	// The break's end first: heaps, mapped above it, leave after one
	// comparison (a chunk below the break's start goes on to the heaps
	// too, where a heap below the break would be).
	if e := h.brkEnd.Load(); c < e {
		if c >= h.brkBase.Load() {
			return e - c, 0
		}
	}
	if v := granuleTable[(c>>granuleShift)%granules]; v>>arenaBits == h.id {
		if e := *(*uintptr)(unsafe.Add(nil, c&^(HeapSize-1)+heapEndWord)); c < e {
			return e - c, v
		}
	}
	return 0, 0
}

// SampledHeader is InUseHeader for a sampled block: it returns the chunk
// of user pointer p if its header is sound, marks an in-use chunk of an
// arena and carries the S bit, or 0.
//
//go:nosplit
func (h *Heap) SampledHeader(p, room uintptr) uintptr {
	c := p - hdrSz
	if p&alignMask != 0 || room < 2*hdrSz {
		return 0
	}
	w := *(*uintptr)(unsafe.Add(nil, c+sizeSz))
	size := w & sizeBits &^ flagMask
	if w&notInUse != flagS || size < MinSize || room < size+hdrSz ||
		w>>tagShift != ((c>>4)^(size<<16)^h.secret)*tagMul>>tagShift {
		return 0
	}
	return c
}

// InUseHeader is InUseFast's header check of user pointer p, whose chunk
// has room bytes before the end of its region (0: not in one).
//
//go:nosplit
func (h *Heap) InUseHeader(p, room uintptr) (c, size uintptr) {
	c = p - hdrSz
	if p&alignMask != 0 || room < 2*hdrSz {
		return 0, 0
	}
	w := *(*uintptr)(unsafe.Add(nil, c+sizeSz))
	size = w & sizeBits &^ flagMask
	if w&notInUse != 0 || size < MinSize || room < size+hdrSz ||
		w>>tagShift != ((c>>4)^(size<<16)^h.secret)*tagMul>>tagShift {
		return 0, 0
	}
	return c, size
}
