package fileheap

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Bytes returns the usable bytes of the block at off: at least what was
// asked of Alloc or Realloc (the chunk's size - 8, as malloc_usable_size).
// The slice is the file's memory: what is written to it is seen by every
// process that has the heap open and is kept in the file. It stays valid
// until Close, or until the block is freed or moved by Realloc. It must
// not hold Go pointers (the collector does not see this memory).
//
// Bytes takes no lock. It panics, with the offset, when off is not an
// allocated block (as far as it can tell without the lock: a block being
// freed at that moment by another process may not be noticed), and after
// Close.
func (h *Heap) Bytes(off Offset) []byte {
	if h.closed.Load() {
		panic("fileheap: Bytes(): heap closed")
	}
	c := uintptr(off) - hdrSz
	if off&15 != 0 || off < hdrSize+hdrSz || c+minChunk > h.loadTop() {
		panic(fmt.Sprintf("fileheap: Bytes(): invalid offset %#x (not a block)", uint64(off)))
	}
	if err := h.ensureMapped(uintptr(atomic.LoadUint64(h.ptr64(offFileSize)))); err != nil {
		panic(fmt.Sprintf("fileheap: Bytes(): offset %#x: %v", uint64(off), err))
	}
	hd := atomic.LoadUint64(h.ptr64(c + sizeSz))
	size := uintptr(hd & sizeMask)
	if !h.validHead(c, hd) || size < minChunk || c+size > h.loadTop() {
		panic(fmt.Sprintf("fileheap: Bytes(): invalid offset %#x (not a block)", uint64(off)))
	}
	if hd&flagQ != 0 || atomic.LoadUint64(h.ptr64(c+size+sizeSz))&flagP == 0 {
		panic(fmt.Sprintf("fileheap: Bytes(): offset %#x is a freed block", uint64(off)))
	}
	return unsafe.Slice((*byte)(unsafe.Add(h.base, c+hdrSz)), size-overhead)
}

// InUse returns the number of blocks allocated and not freed, in every
// process, and their usable bytes (what Bytes returns for each). It reads
// counters the heap keeps in the file (no walk), under the lock. After
// Close it returns 0, 0.
func (h *Heap) InUse() (blocks int, bytes int64) {
	if h.closed.Load() {
		return 0, 0
	}
	if err := h.lock(); err != nil {
		h.unlockKeepJournal()
		return 0, 0
	}
	b, n := h.quickFree()
	b, n = h.word(offBlocks)-b, h.word(offBytes)-n
	h.unlock()
	return int(b), int64(n)
}

// quickFree returns the number of chunks in the quick lists, and their
// usable bytes; the lock is held.
func (h *Heap) quickFree() (blocks, bytes uint64) {
	for i := uintptr(2); i < nQuick; i++ {
		cnt := h.word(offQuick+i*8) >> qShift
		blocks += cnt
		if i < 64 {
			bytes += cnt * uint64(i*16-overhead)
		} else {
			bytes -= cnt * overhead
		}
	}
	return blocks, bytes + h.word(offQuickBytes)
}
