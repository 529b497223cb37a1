package fileheap

import (
	"encoding/binary"
	"hash/crc64"
	"math/bits"
)

// The file format, version 1. All words are 8 bytes, little-endian (the
// byte order of amd64 and arm64; the magic catches a file written by a
// big-endian machine), at fixed offsets from the start of the file.
//
//	offset  size   field
//	     0     8   magic "offheapF"
//	     8     4   format version (1)
//	    12     4   header size (16384): where the first chunk starts
//	    16     8   secret: the key of the chunk tags (random per file)
//	    24     8   creation time, Unix nanoseconds
//	    32     8   CRC-64 (ECMA) of bytes 0-31: the fields that never change
//	    64     4   the lock word (a futex): 0, or owner slot + 1 | generation << 8 | contended << 31
//	   128     8   journal: number of entries
//	   144  1008   journal: 63 entries {offset of a word, its value before}
//	  1152     8   maxSize: the most the file may grow to (Options.Size)
//	  1160     8   fileSize: the heap's length; the file is at least this long
//	  1168     8   top: offset of the top chunk, which ends at fileSize
//	  1176     8   root: the application's offset (Root, SetRoot)
//	  1184     8   chunks in use, the quick lists' included
//	  1192     8   their usable bytes
//	  1200     8   recoveries: how often a dead owner's operation was undone
//	  1280   512   quick lists: 64 words {count << 44 | first chunk >> 4}, by size / 16
//	  1792    48   bin map: one bit per non-empty bin
//	  2048  5760   bins: 360 list heads {fd, bk}
//	  8192  8192   client slots: 128 of 64 bytes {generation, state, pid, start time, opened}
//	 16384         the first chunk
//
// Chunks are glibc's (see chunk.go); every link in the file (bins, quick
// lists, journal, root) is an offset from the start of the file.
const (
	formatVersion = 1
	hdrSize       = 16384              // header bytes; the first chunk starts here
	magicWord     = 0x467061656866666f // "offheapF" read as a little-endian word
	magicString   = "offheapF"

	offMagic    = 0
	offVersion  = 8
	offHdrSize  = 12
	offSecret   = 16
	offCreated  = 24
	offChecksum = 32
	staticSize  = 32 // bytes covered by the checksum

	offLock = 64

	offJCount  = 128
	offJournal = 144
	jCap       = 63

	offMaxSize    = 1152
	offFileSize   = 1160
	offTop        = 1168
	offRoot       = 1176
	offBlocks     = 1184
	offBytes      = 1192
	offRecoveries = 1200

	offQuick    = 1280
	nQuick      = 64
	offBinmap   = 1792
	binmapWords = 6
	offBins     = 2048
	nBins       = 360
	offSlots    = 8192
	slotSize    = 64
	nSlots      = 128

	// Slot fields, from the slot's start.
	slotGen    = 0  // uint32: raised each time a process takes the slot
	slotState  = 4  // uint32: 1 while taken (informational: the OFD lock decides)
	slotPid    = 8  // the process id
	slotStart  = 16 // its start time, clock ticks after boot (/proc/pid/stat)
	slotOpened = 24 // when it opened the heap, Unix nanoseconds
)

// Lock word fields.
const (
	lockSlotMask = 0xff
	lockGenShift = 8
	lockGenMask  = 1<<23 - 1
	contended    = 1 << 31
)

// Quick list words: count << 44 | first chunk >> 4.
const (
	qShift   = 44
	qOffMask = 1<<qShift - 1
	qOne     = 1 << qShift
	// quickCap bounds each quick list; a free beyond it goes to the bins.
	quickCap = 256
	// maxQuick is the largest chunk the quick lists hold (requests up to
	// 1000 bytes).
	maxQuick        = (nQuick - 1) * 16
	maxQuickRequest = maxQuick - overhead
)

// Size limits.
const (
	// maxHeapSize bounds Options.Size: offsets must fit the quick lists'
	// 44 bits (in units of 16 bytes) and the chunk size field.
	maxHeapSize = 1 << 46
	// minHeapSize is the smallest heap: the header and one page of chunks.
	minHeapSize = hdrSize + 4096
	// initialSize is the length of a new file (capped at Options.Size).
	initialSize = 256 << 10
	// minGrow and maxGrow bound a growth step, which is an eighth of the
	// file's length in between.
	minGrow = 256 << 10
	maxGrow = 64 << 20
	// trimThreshold: when the top exceeds it after a free, the file is cut
	// to leave topPad bytes of top (glibc's M_TRIM_THRESHOLD and M_TOP_PAD
	// play the same part for the program break).
	trimThreshold = 1 << 20
	topPad        = 256 << 10
	// punchThreshold: a free chunk of at least this size has the whole
	// pages inside it punched out of the file (glibc's malloc_trim does the
	// same with MADV_DONTNEED on free chunks).
	punchThreshold = 128 << 10
)

var crcTable = crc64.MakeTable(crc64.ECMA)

// headerChecksum is the CRC of the static fields of header h.
func headerChecksum(h []byte) uint64 { return crc64.Checksum(h[:staticSize], crcTable) }

func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// binIndex returns the bin of a free chunk of size sz: one exact size per
// bin below 1024 bytes (bins 2-63), then eight bins per power of two
// (TLSF's second level): bin 64 + 8*(log2(sz)-10) + the next three bits.
//
//	sizes             spacing   bins
//	32 - 1008         16        2 - 63
//	1024 - 2047       128       64 - 71
//	2048 - 4095       256       72 - 79
//	2^k - 2^(k+1)-1   2^(k-3)   64+8(k-10) - 71+8(k-10)
//	2^45 - 2^46-1     2^42      352 - 359
//
// Allocation takes a chunk of the exact bin, or scans a few chunks of the
// request's own bin, or takes the first chunk of the next non-empty bin
// above, which always fits: the worst waste is what the split leaves when
// the remainder is too small to be a chunk (under 32 bytes).
func binIndex(sz uintptr) int {
	if sz < 1024 {
		return int(sz >> 4)
	}
	fl := bits.Len64(uint64(sz)) - 1
	return 64 + (fl-10)*8 + int(sz>>(fl-3))&7
}

// binHead returns the offset of bin i's fake chunk: its fd and bk words are
// the bin's two words, so list code treats heads and chunks alike.
func binHead(i int) uintptr { return offBins + uintptr(i)*16 - 16 }

// isBinHead reports whether off is the fake chunk of a bin.
func isBinHead(off uintptr) bool {
	return off >= binHead(0) && off < binHead(nBins) && (off-binHead(0))%16 == 0
}
