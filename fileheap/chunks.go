package fileheap

// The slow paths' work on chunks: serving a request from the quick lists,
// the bins or the top; freeing with coalescing; and the checks every chunk,
// link and caller's offset passes before it is followed.

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
