package fileheap

import (
	"math/bits"
	"sync/atomic"
)

// Stats describes a heap: mallinfo2's figures for its chunks, and the
// file's. They are taken by a walk of every chunk under the lock (see
// Check), so they are exact but cost time in proportion to the heap.
type Stats struct {
	FileSize  int64 `json:"file_size"`  // the heap's length: the file's, but for a step not yet cut
	MaxSize   int64 `json:"max_size"`   // the most it may grow to (Options.Size)
	DiskBytes int64 `json:"disk_bytes"` // bytes the file takes on the device (holes are free)

	// mallinfo2's figures, as glibc defines them for an arena.
	Arena    int64 `json:"arena"`    // bytes of chunks: FileSize - the 16 KiB header
	Ordblks  int   `json:"ordblks"`  // free chunks, the top included
	Smblks   int   `json:"smblks"`   // chunks in the quick lists (glibc: fastbin chunks)
	Fsmblks  int64 `json:"fsmblks"`  // their bytes
	Uordblks int64 `json:"uordblks"` // bytes of chunks in use: Arena - Fordblks - Fsmblks
	Fordblks int64 `json:"fordblks"` // bytes of free chunks, the top included
	Keepcost int64 `json:"keepcost"` // the top chunk's bytes

	Blocks     int   `json:"blocks"`      // allocated blocks (as InUse)
	BlockBytes int64 `json:"block_bytes"` // their usable bytes (as InUse)

	Recoveries int64    `json:"recoveries"` // operations of dead processes undone, since the file was created
	Clients    []Client `json:"clients"`    // the Heaps that have the file open now, this one included
}

// Client is one open Heap of the file, in some process.
type Client struct {
	Slot   int   `json:"slot"`   // its slot in the file
	Pid    int   `json:"pid"`    // its process
	Opened int64 `json:"opened"` // when it opened the heap, Unix nanoseconds
}

// Check walks the whole heap under the lock and returns nil if every
// invariant holds, or an error wrapping ErrCorrupt that names the first
// broken one and its offset: every chunk's size word and tag, the P bits
// and the feet of free chunks, no two free chunks side by side, chunks
// that end exactly at the top, the top's size, every bin's links, sizes
// and bit, every free chunk in exactly one bin, the quick lists' chunks
// and counts, the in-use counters, an empty journal, and the file's length.
// It takes time in proportion to the number of chunks (about 10 ns each
// once the pages are resident), holding the lock.
func (h *Heap) Check() error {
	_, err := h.walk("Check")
	return err
}

// Stats walks the heap as Check does and returns its figures; the error is
// Check's.
func (h *Heap) Stats() (Stats, error) { return h.walk("Stats") }

func (h *Heap) walk(name string) (st Stats, err error) {
	if h.closed.Load() {
		return st, h.errorf(ErrClosed, "%s", name)
	}
	if err := h.lock(); err != nil {
		h.unlockKeepJournal()
		return st, err
	}
	defer h.unwindOnPanic()
	defer h.unlock()
	o := &op{name: name}
	fileSize, maxSize, top := uintptr(h.word(offFileSize)), uintptr(h.word(offMaxSize)), uintptr(h.word(offTop))
	st.FileSize, st.MaxSize = int64(fileSize), int64(maxSize)
	st.Recoveries = int64(h.word(offRecoveries))
	st.Clients = h.clients()
	if st.DiskBytes, err = diskBytes(h.fd); err != nil {
		return st, err
	}
	length, err := fileLength(h.fd)
	if err != nil {
		return st, err
	}
	switch {
	case *h.jcount != 0:
		return st, h.corruptf(name, offJCount, "the journal holds %d entries with no operation in flight", *h.jcount)
	case fileSize < hdrSize+minChunk || fileSize > maxSize || uintptr(length) < fileSize:
		return st, h.corruptf(name, offFileSize, "heap length %d (limit %d, file %d)", fileSize, maxSize, length)
	}
	if err := h.ensureMapped(fileSize); err != nil {
		return st, err
	}
	tsize, err := h.topSize(o)
	if err != nil {
		return st, err
	}
	st.Arena = int64(fileSize - hdrSize)
	st.Keepcost = int64(tsize)

	// Walk the chunks.
	units := (top - hdrSize) / alignSz
	free := make([]uint64, units/64+1) // chunk starts of free chunks
	quick := map[uintptr]bool{}        // chunks with the Q bit
	var inUse, freeCount int
	var inUseBytes, freeBytes uint64
	prevFree, prevSz := false, uintptr(0)
	c := uintptr(hdrSize)
	for c < top {
		hd := h.head(c)
		size := uintptr(hd & sizeMask)
		switch {
		case !h.validHead(c, hd):
			return st, h.corruptf(name, c, "chunk's size word %#x has a bad tag", hd)
		case size < minChunk || c+size > top:
			return st, h.corruptf(name, c, "chunk of %d bytes runs past the top at %#x", size, top)
		case c == hdrSize && hd&flagP == 0:
			return st, h.corruptf(name, c, "the first chunk has its P bit clear")
		case prevFree && hd&flagP != 0:
			return st, h.corruptf(name, c, "P bit set after a free chunk")
		case prevFree && h.prevSize(c) != prevSz:
			return st, h.corruptf(name, c, "prev_size %d, the free chunk before has %d bytes", h.prevSize(c), prevSz)
		case !prevFree && hd&flagP == 0:
			return st, h.corruptf(name, c, "P bit clear after a chunk in use")
		}
		isFree := h.head(c+size)&flagP == 0
		if isFree {
			if hd&flagQ != 0 {
				return st, h.corruptf(name, c, "free chunk with its Q bit set")
			}
			if prevFree {
				return st, h.corruptf(name, c, "two free chunks side by side, not coalesced")
			}
			u := (c - hdrSize) / alignSz
			free[u/64] |= 1 << (u % 64)
			freeCount++
			freeBytes += uint64(size)
		} else {
			inUse++
			inUseBytes += uint64(size - overhead)
			if hd&flagQ != 0 {
				quick[c] = true
				st.Smblks++
				st.Fsmblks += int64(size)
			}
		}
		prevFree, prevSz = isFree, size
		c += size
	}
	if c != top {
		return st, h.corruptf(name, c, "the chunks end at %#x, the top is at %#x", c, top)
	}
	if thd := h.head(top); (thd&flagP != 0) == prevFree {
		return st, h.corruptf(name, top, "the top's P bit disagrees with the chunk before it")
	}
	if b, n := h.word(offBlocks), h.word(offBytes); b != uint64(inUse) || n != inUseBytes {
		return st, h.corruptf(name, offBlocks, "the counters say %d blocks in use with %d bytes, the chunks %d with %d", b, n, inUse, inUseBytes)
	}

	// Every free chunk is in the bin of its size, once.
	nFree := freeCount
	for i := 0; i < nBins; i++ {
		b := binHead(i)
		n, last := 0, b
		for p, l := b, uintptr(h.word(b+16)); l != b; p, l = l, uintptr(h.word(l+16)) {
			if err := h.checkLink(o, l, p); err != nil {
				return st, err
			}
			if isBinHead(l) {
				return st, h.corruptf(name, p, "bin %d links the head of another bin", i)
			}
			u := (l - hdrSize) / alignSz
			if free[u/64]&(1<<(u%64)) == 0 {
				return st, h.corruptf(name, l, "bin %d lists a chunk that is not free (or is listed twice)", i)
			}
			free[u/64] &^= 1 << (u % 64)
			if uintptr(h.word(l+24)) != p {
				return st, h.corruptf(name, l, "bin %d: bk does not point back", i)
			}
			if bi := binIndex(h.chunkSize(l)); bi != i {
				return st, h.corruptf(name, l, "chunk of %d bytes in bin %d, not %d", h.chunkSize(l), i, bi)
			}
			n++
			last = l
		}
		if uintptr(h.word(b+24)) != last {
			return st, h.corruptf(name, b+24, "bin %d: the head's bk is not its last chunk", i)
		}
		marked := h.word(offBinmap+uintptr(i/64)*8)&(1<<(uint(i)%64)) != 0
		if marked != (n > 0) {
			return st, h.corruptf(name, offBinmap, "bin %d holds %d chunks, its bit says %v", i, n, marked)
		}
		freeCount -= n
	}
	if freeCount != 0 {
		for w, m := range free {
			if m != 0 {
				u := uintptr(w*64) + uintptr(bits.TrailingZeros64(m))
				return st, h.corruptf(name, hdrSize+u*alignSz, "free chunk in no bin")
			}
		}
	}

	// The quick lists hold exactly the chunks with the Q bit.
	var classBytes uint64
	for i := uintptr(2); i < nQuick; i++ {
		q := h.word(offQuick + i*8)
		c := uintptr(q&qOffMask) << 4
		for k := q >> qShift; k > 0; k-- {
			if !quick[c] {
				return st, h.corruptf(name, offQuick+i*8, "quick list %d links %#x, not a quick chunk (or twice)", i, c)
			}
			delete(quick, c)
			if size := h.chunkSize(c); binIndex(size) != int(i) {
				return st, h.corruptf(name, c, "chunk of %d bytes in quick list %d", size, i)
			} else if i >= 64 {
				classBytes += uint64(size)
			}
			c = uintptr(h.word(c + hdrSz))
		}
		if c != 0 {
			return st, h.corruptf(name, offQuick+i*8, "quick list %d is longer than its count %d", i, q>>qShift)
		}
	}
	if got := h.word(offQuickBytes); got != classBytes {
		return st, h.corruptf(name, offQuickBytes, "the class quick lists' byte count says %d, their chunks have %d", got, classBytes)
	}
	for c := range quick {
		return st, h.corruptf(name, c, "quick chunk in no quick list")
	}

	st.Ordblks = nFree + 1
	st.Fordblks = int64(freeBytes) + int64(tsize)
	st.Uordblks = st.Arena - st.Fordblks - st.Fsmblks
	st.Blocks = inUse - st.Smblks
	_, qbytes := h.quickFree()
	st.BlockBytes = int64(inUseBytes - qbytes)
	return st, nil
}

// clients lists the Heaps that have the file open: the slots whose byte
// lock is held, and our own.
func (h *Heap) clients() []Client {
	var cs []Client
	for i := 0; i < nSlots; i++ {
		s := slotOff(i)
		if i != h.slot {
			if atomic.LoadUint32(h.ptr32(s+slotState)) == 0 {
				continue // closed cleanly; a slot left by a killed process is checked below
			}
			if held, err := ofdHeld(h.fd, int64(s)); err != nil || !held {
				continue
			}
		}
		cs = append(cs, Client{Slot: i, Pid: int(h.word(s + slotPid)), Opened: int64(h.word(s + slotOpened))})
	}
	return cs
}
