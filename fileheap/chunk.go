package fileheap

import (
	"sync/atomic"
	"unsafe"
)

// Chunk layout (every chunk 16-aligned, offsets from the file's start):
//
// An allocated chunk:
//
//	chunk-> +-----------------------------------------------------------+
//	        | prev_size: size of the previous chunk, if it is free;     |
//	        | otherwise the last 8 bytes of the previous block          |
//	        +-----------------------------------------------------------+
//	        | tag (16 bits) | size (44 bits)                    | Q | P |
//	block-> +-----------------------------------------------------------+
//	        | the block: size - 8 usable bytes (the last 8 overlap the  |
//	        | next chunk's prev_size); Offset names this byte           |
//	        .                                                           .
//	next->  +-----------------------------------------------------------+
//	        | tag | size of next chunk                          | Q | 1 |
//
// A free chunk, in a bin:
//
//	chunk-> | prev_size                                                 |
//	        | tag | size                                        | 0 | P |
//	        | fd: offset of the next chunk in the bin (or the bin head) |
//	        | bk: offset of the previous one                            |
//	        | unused                                                    |
//	next->  | prev_size == size (the foot)                              |
//	        | tag | size of next chunk                          | Q | 0 |
//
// A chunk in a quick list is allocated as far as its neighbours can tell
// (the next chunk's P bit is set), has its Q bit set, and holds the offset
// of the next chunk of its list (0 at the end) where its block starts.
//
// Flag bits of the size word:
//   - P (1) PREV_INUSE: the previous chunk is in use (or there is none: the
//     first chunk has P set). When P is clear, prev_size holds the previous
//     chunk's size, and the two are coalesced when this one is freed.
//   - Q (2) QUICK: the chunk is in a quick list. A Free of it is a double
//     free.
//
// The top 16 bits hold a tag, a hash of the chunk's offset, its size and
// the file's secret: a header is trusted only when its tag matches, so an
// offset that is no block, an interior offset or a header overwritten by an
// overflow is refused with probability 1-2^-16.
//
// The top chunk is the free space at the end of the file: never in a bin,
// its P bit tells whether the chunk before it is in use, and it always has
// at least MinSize bytes, so the file ends with a header.
const (
	sizeSz   = 8      // one word
	hdrSz    = 16     // chunk start to block
	overhead = sizeSz // bytes of a chunk the block cannot use
	alignSz  = 16
	// minChunk is the smallest chunk: header, fd, bk and the foot.
	minChunk = 32

	flagP    = 1
	flagQ    = 2
	sizeMask = (uint64(1)<<48 - 1) &^ 15
	tagMask  = uint64(0xffff) << 48
)

// request2size is glibc's request2size: the chunk that serves a request of
// n bytes, max(32, (n+8+15) &^ 15).
func request2size(n uintptr) uintptr {
	if n+overhead+alignSz-1 < minChunk {
		return minChunk
	}
	return (n + overhead + alignSz - 1) &^ (alignSz - 1)
}

// word returns the 8-byte word at file offset off. off must be inside the
// mapped, allocated part of the file: every caller checks it first.
func (h *Heap) word(off uintptr) uint64 { return *(*uint64)(unsafe.Add(h.base, off)) }

// setRaw writes the word at off without journaling it: for words whose old
// value does not matter if the operation is undone.
func (h *Heap) setRaw(off uintptr, v uint64) { *(*uint64)(unsafe.Add(h.base, off)) = v }

// ptr32 returns the address of the 4-byte word at off, for atomics.
func (h *Heap) ptr32(off uintptr) *uint32 { return (*uint32)(unsafe.Add(h.base, off)) }

// ptr64 returns the address of the 8-byte word at off, for atomics.
func (h *Heap) ptr64(off uintptr) *uint64 { return (*uint64)(unsafe.Add(h.base, off)) }

// tag returns the check value of chunk c of size s (the top 16 bits of its
// size word).
func (h *Heap) tag(c, s uintptr) uint64 {
	return ((uint64(c>>4) ^ uint64(s)<<16 ^ h.secret) * 0x9E3779B97F4A7C15) & tagMask
}

// Chunk accessors; c is a chunk offset (block offset - 16).
func (h *Heap) head(c uintptr) uint64                  { return h.word(c + sizeSz) }
func (h *Heap) chunkSize(c uintptr) uintptr            { return uintptr(h.word(c+sizeSz) & sizeMask) }
func (h *Heap) prevSize(c uintptr) uintptr             { return uintptr(h.word(c)) }
func (h *Heap) prevInuse(c uintptr) bool               { return h.word(c+sizeSz)&flagP != 0 }
func (h *Heap) headWord(c, s uintptr, f uint64) uint64 { return h.tag(c, s) | uint64(s) | f }

// validHead reports whether the size word hd carries the right tag for
// chunk c.
func (h *Heap) validHead(c uintptr, hd uint64) bool {
	return hd&tagMask == h.tag(c, uintptr(hd&sizeMask))
}

// loadTop reads the top chunk's offset (atomically: Bytes reads it without
// the lock).
func (h *Heap) loadTop() uintptr { return uintptr(atomic.LoadUint64(h.ptr64(offTop))) }
