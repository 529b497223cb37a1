package fileheap

import (
	"encoding/binary"
	"hash/crc64"
	"math/bits"
	"sync"
)

// The file format, version 1: the offsets of the header's fields (the
// package documentation draws the layout; chunk.go draws the chunks).
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
	offQuickBytes = 1208 // bytes of the chunks in the class quick lists (64-95)

	offQuick    = 1280
	nQuick      = 96 // quick lists 2-63 by exact size, 64-95 by class (bins 64-95)
	offBinmap   = 2048
	binmapWords = 6
	offBins     = 2112
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

// Quick list words: count << 44 | first chunk >> 4. List i holds free
// chunks of bin i's sizes: one exact size below 1024 bytes (lists 2-63,
// the fast paths), then the eight classes of each power of two from 1 KiB
// to 16 KiB (lists 64-95), whose chunks differ in size within the class.
const (
	qShift   = 44
	qOffMask = 1<<qShift - 1
	qOne     = 1 << qShift
	// quickCap bounds each exact quick list; a free beyond it goes to the
	// bins. The class lists hold at most 512 KiB each (classCap).
	quickCap = 256
	// maxQuick is the largest chunk of the exact quick lists (requests up
	// to 1000 bytes), maxClass the largest of the class lists.
	maxQuick        = 63 * 16
	maxQuickRequest = maxQuick - overhead
	maxClass        = 16<<10 - alignSz
)

// classCap returns how many chunks class quick list i may hold: 512 KiB of
// its power of two (256 of 1 and 2 KiB, 128 of 4 KiB, 64 of 8 KiB).
func classCap(i int) uint64 { return uint64(min(quickCap, 512>>((i-64)/8))) }

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

// crcTable is made at the first Open, not when the package is loaded.
var crcTable = sync.OnceValue(func() *crc64.Table { return crc64.MakeTable(crc64.ECMA) })

// headerChecksum is the CRC of the static fields of header h.
func headerChecksum(h []byte) uint64 { return crc64.Checksum(h[:staticSize], crcTable()) }

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
