package arena

import (
	"sync/atomic"
	"unsafe"
)

// Chunk layout (x86_64; all sizes in bytes, every chunk 16-aligned).
//
// An allocated chunk:
//
//	chunk-> +-----------------------------------------------------------+
//	        | prev_size: size of the previous chunk, if it is free;     |
//	        | otherwise the last 8 bytes of the previous chunk's data    |
//	        +-----------------------------------------------------------+
//	        | tag (16) | A | S | size (44 bits)        | F | T | M | P |  |
//	  mem-> +-----------------------------------------------------------+
//	        | user data: size - 8 usable bytes (the last 8 overlap the   |
//	        | next chunk's prev_size)                                    |
//	        .                                                           .
//	next->  +-----------------------------------------------------------+
//	        | (prev_size: user data of this chunk)                       |
//	        | tag | size of next chunk                  | F | T | M | 1 |
//	        +-----------------------------------------------------------+
//
// A free chunk (in a bin):
//
//	chunk-> | prev_size                                                  |
//	        | tag | A=1 | size                            | 0 | 0 | 0 | P |
//	  mem-> | fd: next chunk in the bin list                            |
//	        | bk: previous chunk in the bin list                        |
//	        | fd_nextsize, bk_nextsize (large bins only)                |
//	        | unused                                                    |
//	next->  | prev_size == size (the "foot")                            |
//	        | tag | size of next chunk                    | F | T | M | 0 |
//
// Flag bits of the size word:
//   - P (1) PREV_INUSE: the previous chunk is in use (or does not exist:
//     the first chunk of a region has P set). When P is clear, prev_size
//     holds the previous chunk's size and the two are coalesced on free.
//   - M (2) IS_MMAPPED: the chunk has its own mapping; prev_size then holds
//     the offset from the mapping's start (for aligned allocations).
//   - T (4) TOP: the chunk is its arena's top. glibc uses this bit for
//     NON_MAIN_ARENA; offheap finds a chunk's arena from its address (see
//     Heap.Lookup) and marks the top instead, so that front caches can tell,
//     without a lock, that a chunk borders the top (NextIsTop).
//   - F (8) CACHED: the chunk is held in a fastbin. glibc has no such bit
//     (16-byte alignment leaves bit 3 unused); offheap uses it to detect a
//     double free exactly. The front caches of package alloc, which work
//     without the arena lock, never write headers: they mark their chunks in
//     user memory instead.
//
// Bit 44 (S, SAMPLED) marks an in-use block recorded by the heap profiler
// of package alloc, so that freeing it updates the profile; sizes never
// reach it. Bit 45 (A, IN_ARENA) marks a chunk that is free in one of its
// arena's bins: with it a chunk's own header says whether the chunk is in
// use, which glibc learns only from the next chunk's P bit, so that a front
// cache can tell a chunk freed twice from its first cache line alone. For
// that to hold, a header that stops being a chunk boundary (a chunk merged
// into its free neighbour or into the top) is cleared when it dies: every
// header with a valid tag and none of M, T, F, A, S is the header of an
// in-use chunk (held by the program, or by a front cache).
//
// The top 16 bits hold a tag: a hash of the chunk address, the size and a
// per-heap secret. Every header is checked against it before it is trusted,
// so a pointer that offheap never returned, an interior pointer or a header
// overwritten by an overflow is detected with probability 1-2^-16 instead of
// being taken at its word.
//
// Exceptions: the top chunk (the free space at the end of the current
// region) is never in a bin and its P bit is always set; a region that the
// arena has left ends in two 16-byte fenceposts (size 16, P set) that are
// never freed.
const (
	sizeSz     = 8                        // one word
	hdrSz      = 2 * sizeSz               // chunk start to user memory
	align      = 16                       // MALLOC_ALIGNMENT
	alignMask  = align - 1                //
	MinSize    = 32                       // smallest chunk: header + fd + bk + foot
	overhead   = sizeSz                   // bytes of a chunk not usable by the caller
	fenceSz    = 16                       // one fencepost
	minLarge   = nSmallBins * align       // 1024: first size of the large bins
	maxSize    = uintptr(1)<<44 - 4096    // largest chunk size the header can hold
	MaxRequest = maxSize - 4*4096 - hdrSz // larger requests fail at once

	flagP    = 1
	flagM    = 2
	flagT    = 4
	flagF    = 8
	flagMask = 15
	flagS    = uintptr(1) << 44 // SAMPLED: the block is in the heap profile
	// flagSByte is the byte of the header word that holds S (little-endian),
	// flagSInByte S within it (sampled_byte.go).
	flagSByte   = 44 / 8
	flagSInByte = 1 << (44 % 8)
	flagA       = uintptr(1) << 45 // IN_ARENA: the chunk is free in a bin of its arena
	// notInUse are the bits of which an in-use chunk of an arena's heap
	// carries none (see InUseFast).
	notInUse = flagM | flagT | flagF | flagS | flagA
	sizeBits = uintptr(1)<<44 - 1 // size and flags P, M, T, F
	tagShift = 48
)

// Request2Size is glibc's request2size: the chunk size that serves a request
// of n bytes, max(32, (n+8+15) &^ 15). n must be at most MaxRequest.
func Request2Size(n uintptr) uintptr {
	if n+overhead+alignMask < MinSize {
		return MinSize
	}
	return (n + overhead + alignMask) &^ alignMask
}

// word reads the 8-byte word at address a.
func word(a uintptr) uintptr { return *(*uintptr)(unsafe.Add(nil, a)) }

// setWord writes the 8-byte word at address a.
func setWord(a, v uintptr) { *(*uintptr)(unsafe.Add(nil, a)) = v }

// Chunk header accessors. c is a chunk address (mem - 16).

func head(c uintptr) uintptr       { return word(c + sizeSz) }
func chunkSize(c uintptr) uintptr  { return word(c+sizeSz) & sizeBits &^ flagMask }
func prevSize(c uintptr) uintptr   { return word(c) }
func setPrevSize(c, s uintptr)     { setWord(c, s) }
func prevInuse(c uintptr) bool     { return word(c+sizeSz)&flagP != 0 }
func isMmapped(c uintptr) bool     { return word(c+sizeSz)&flagM != 0 }
func isCached(c uintptr) bool      { return word(c+sizeSz)&flagF != 0 }
func fd(c uintptr) uintptr         { return word(c + 16) }
func bk(c uintptr) uintptr         { return word(c + 24) }
func fdNextsize(c uintptr) uintptr { return word(c + 32) }
func bkNextsize(c uintptr) uintptr { return word(c + 40) }
func setFd(c, v uintptr)           { setWord(c+16, v) }
func setBk(c, v uintptr)           { setWord(c+24, v) }
func setFdNextsize(c, v uintptr)   { setWord(c+32, v) }
func setBkNextsize(c, v uintptr)   { setWord(c+40, v) }

// Mem converts a chunk address to the pointer handed to the caller.
func Mem(c uintptr) uintptr { return c + hdrSz }

// ChunkOf converts a caller's pointer to its chunk address.
func ChunkOf(p uintptr) uintptr { return p - hdrSz }

// inuse reports whether chunk c is in use, from the next chunk's P bit.
func inuse(c uintptr) bool { return prevInuse(c + chunkSize(c)) }

// setInuseBit and clearInuseBit change the P bit of the chunk that follows c.
// That chunk may be in use, and its S bit may change at the same moment
// without the arena lock (SetSampled): both sides use atomic operations, so
// neither change is lost.
func setInuseBit(c uintptr)   { setPrevInuse(c + chunkSize(c)) }
func clearInuseBit(c uintptr) { clearPrevInuse(c + chunkSize(c)) }

// setPrevInuse and clearPrevInuse change the P bit of chunk n.
func setPrevInuse(n uintptr)   { atomic.OrUintptr(headWord(n), flagP) }
func clearPrevInuse(n uintptr) { atomic.AndUintptr(headWord(n), ^uintptr(flagP)) }

// headWord returns the address of chunk c's size word.
func headWord(c uintptr) *uintptr { return (*uintptr)(unsafe.Add(nil, c+sizeSz)) }

// setFoot writes the size of free chunk c into the next chunk's prev_size.
func setFoot(c, size uintptr) { setWord(c+size, size) }

// tag returns the 16-bit check value of a chunk header for chunk c of size s.
func (h *Heap) tag(c, s uintptr) uintptr {
	return (((c >> 4) ^ (s << 16) ^ h.secret) * tagMul) >> tagShift << tagShift
}

// setHead writes chunk c's size word: size s, flags f, and the tag.
func (h *Heap) setHead(c, s, f uintptr) {
	setWord(c+sizeSz, h.tag(c, s)|s|f)
}

// setHeadSize changes the size of c, keeping its flags (S and A included).
func (h *Heap) setHeadSize(c, s uintptr) {
	h.setHead(c, s, word(c+sizeSz)&(flagMask|flagS|flagA))
}

// markFree sets the A bit of chunk c, which its arena is putting in a bin.
// A plain read-modify-write: c is free, so only the arena, under its lock,
// writes its header.
func markFree(c uintptr) { setWord(c+sizeSz, word(c+sizeSz)|flagA) }

// handOut makes free chunk c, just taken off a bin whole, an in-use chunk:
// the next chunk's P bit set, c's A bit cleared.
func handOut(c uintptr) {
	setWord(c+sizeSz, word(c+sizeSz)&^flagA)
	setInuseBit(c)
}

// kill spoils the header of chunk c, which stops being a chunk boundary
// (merged into the free chunk before it, or absorbed by a neighbour or the
// top): size 0 and a tag that is certain to be wrong (the right one with a
// bit flipped; a plain 0 would pass for the right tag once in 2^16), so a
// stale pointer to it fails every header check instead of finding a sound
// in-use header.
func (h *Heap) kill(c uintptr) { setWord(c+sizeSz, h.tag(c, 0)^(1<<tagShift)) }

// validHead reports whether chunk c's size word carries the right tag.
func (h *Heap) validHead(c uintptr) bool {
	w := word(c + sizeSz)
	return w>>tagShift<<tagShift == h.tag(c, w&sizeBits&^flagMask)
}

// SetCached sets or clears the F bit of chunk c, the fastbins' mark. It is a
// plain read-modify-write: only the arena, under its lock, may use it (a
// lock-free caller could lose a concurrent change of the P bit). The tag is
// unaffected.
func SetCached(c uintptr, on bool) {
	if on {
		setWord(c+sizeSz, word(c+sizeSz)|flagF)
	} else {
		setWord(c+sizeSz, word(c+sizeSz)&^flagF)
	}
}

// SetSampled sets or clears the S bit of in-use chunk c (the heap
// profiler's mark). The tag is unaffected. It takes no lock, though the
// arena may change the P bit of the same word at the same moment (when the
// chunk before c is allocated or freed): see setSampled.
func SetSampled(c uintptr, on bool) { setSampled(c, on) }

// IsSampled reports whether chunk c has its S bit set.
func IsSampled(c uintptr) bool { return word(c+sizeSz)&flagS != 0 }

// IsCached reports whether chunk c has its F bit set.
func IsCached(c uintptr) bool { return isCached(c) }

// ChunkSize returns the size of chunk c (flags and tag masked off).
func ChunkSize(c uintptr) uintptr { return chunkSize(c) }

// IsMmapped reports whether chunk c has a mapping of its own.
func IsMmapped(c uintptr) bool { return isMmapped(c) }
