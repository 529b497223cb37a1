package fileheap

import (
	"github.com/offheap/offheap/mmapper"
)

// The top chunk and the file under it: carving from the top, growing the
// file and the mapping, cutting the file and punching holes.

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
