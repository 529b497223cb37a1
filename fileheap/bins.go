package fileheap

import (
	"math/bits"
)

// The bins (format.go's binIndex): doubly linked lists of free, coalesced
// chunks, with a bit map of the non-empty ones.

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
