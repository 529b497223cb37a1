package arena

// Bins (glibc's layout, 128 of them):
//
//	bin 0       unused
//	bin 1       the unsorted list: freed and split-off chunks, taken back
//	            or sorted into their bins on the next malloc that misses
//	bins 2-63   small bins, one exact size each: 32, 48, ... 1008 bytes
//	bins 64-126 large bins, sorted by size (largest first), spaced as
//	            below; worst waste is taking a chunk from the bin's low end
//	            for a request at its high end, at most the spacing
//	bin 127     everything from 1 MiB up (the remainder of the top level)
//
//	sizes           spacing   bins
//	1024 - 3071     64        48 + size>>6   (64-95... capped at 96)
//	3072 - 10751    512       91 + size>>9
//	10752 - 45055   4096      110 + size>>12
//	45056 - 163839  32768     119 + size>>15
//	163840 - 786431 262144    124 + size>>18
//	786432 -        -         126
//
// A bin's head is a fake chunk whose fd/bk words are the bin's two words in
// the arena's bin page (off-heap), so that list code treats heads and chunks
// alike: binAt(i) = binPage + 16*i - 16.
//
// Fastbins hold chunks up to M_MXFAST (at most 160 bytes) on singly linked
// LIFO lists, exact sizes, not coalesced until malloc_consolidate. Their
// links are safe-linked (see protect).
const (
	nBins        = 128
	nSmallBins   = 64
	unsortedBin  = 1
	nFastbins    = 10         // chunk sizes 32..176
	maxFast      = 160        // largest M_MXFAST (a request size)
	fastConsolid = 64 << 10   // FASTBIN_CONSOLIDATION_THRESHOLD
	binmapWords  = nBins / 32 //
	maxUnsorted  = 10000      // glibc's MAX_ITERS in the unsorted scan
)

func inSmallRange(sz uintptr) bool { return sz < minLarge }

func smallIndex(sz uintptr) int { return int(sz >> 4) }

func largeIndex(sz uintptr) int {
	switch {
	case sz>>6 <= 48:
		return 48 + int(sz>>6)
	case sz>>9 <= 20:
		return 91 + int(sz>>9)
	case sz>>12 <= 10:
		return 110 + int(sz>>12)
	case sz>>15 <= 4:
		return 119 + int(sz>>15)
	case sz>>18 <= 2:
		return 124 + int(sz>>18)
	}
	return 126
}

func binIndex(sz uintptr) int {
	if inSmallRange(sz) {
		return smallIndex(sz)
	}
	return largeIndex(sz)
}

func fastIndex(sz uintptr) int { return int(sz>>4) - 2 }

// binAt returns the address of bin i's fake head chunk.
func (a *Arena) binAt(i int) uintptr { return a.binPage + uintptr(i)*16 - 16 }

func (a *Arena) markBin(i int)   { a.binmap[i>>5] |= 1 << (uint(i) & 31) }
func (a *Arena) unmarkBin(i int) { a.binmap[i>>5] &^= 1 << (uint(i) & 31) }

// protect is glibc's PROTECT_PTR (safe-linking): a stored singly linked
// pointer is mixed with the address of the field that holds it, so an
// overwritten link decodes to an unaligned or foreign address.
func protect(field, p uintptr) uintptr { return (field >> 12) ^ p }

// Protect exposes safe-linking to the front caches of the alloc package.
func Protect(field, p uintptr) uintptr { return protect(field, p) }

// unlink removes free chunk p from its doubly linked bin, checking the links
// (glibc's unlink_chunk).
func (a *Arena) unlink(p uintptr) {
	size := chunkSize(p)
	if !a.h.validHead(p) || prevSize(p+size) != size {
		a.corrupt("corrupted size vs. prev_size", p)
	}
	f, b := fd(p), bk(p)
	if bk(f) != p || fd(b) != p {
		a.corrupt("corrupted double-linked list", p)
	}
	setBk(f, b)
	setFd(b, f)
	if !inSmallRange(size) && fdNextsize(p) != 0 {
		if bkNextsize(fdNextsize(p)) != p || fdNextsize(bkNextsize(p)) != p {
			a.corrupt("corrupted double-linked list (not small)", p)
		}
		if fdNextsize(f) == 0 {
			if fdNextsize(p) == p {
				setFdNextsize(f, f)
				setBkNextsize(f, f)
			} else {
				setFdNextsize(f, fdNextsize(p))
				setBkNextsize(f, bkNextsize(p))
				setBkNextsize(fdNextsize(p), f)
				setFdNextsize(bkNextsize(p), f)
			}
		} else {
			setBkNextsize(fdNextsize(p), bkNextsize(p))
			setFdNextsize(bkNextsize(p), fdNextsize(p))
		}
	}
}

// insertUnsorted puts free chunk p at the front of the unsorted list.
func (a *Arena) insertUnsorted(p uintptr) {
	bck := a.binAt(unsortedBin)
	fwd := fd(bck)
	if bk(fwd) != bck {
		a.corrupt("free(): corrupted unsorted chunks", p)
	}
	markFree(p)
	setFd(p, fwd)
	setBk(p, bck)
	if !inSmallRange(chunkSize(p)) {
		setFdNextsize(p, 0)
		setBkNextsize(p, 0)
	}
	setBk(fwd, p)
	setFd(bck, p)
}

// placeInBin sorts free chunk p (already off the unsorted list) into its
// small or large bin (glibc's "place chunk in bin" step).
func (a *Arena) placeInBin(p uintptr) {
	size := chunkSize(p)
	var bck, fwd uintptr
	var idx int
	if inSmallRange(size) {
		idx = smallIndex(size)
		bck = a.binAt(idx)
		fwd = fd(bck)
	} else {
		idx = largeIndex(size)
		bck = a.binAt(idx)
		fwd = fd(bck)
		if fwd != bck {
			// Large bins are sorted largest first; fd_nextsize links the
			// first chunk of each distinct size.
			if smallest := chunkSize(bk(bck)); size < smallest {
				// Smaller than the smallest: append at the end.
				fwd = bck
				bck = bk(bck)
				first := fd(fwd)
				setFdNextsize(p, first)
				setBkNextsize(p, bkNextsize(first))
				setBkNextsize(first, p)
				setFdNextsize(bkNextsize(p), p)
			} else {
				fwd = sizeLeaderAtMost(fwd, size, smallest)
				if size == chunkSize(fwd) {
					// Same size: insert after the first, keeping the
					// nextsize links where they are.
					fwd = fd(fwd)
					setFdNextsize(p, 0)
					setBkNextsize(p, 0)
				} else {
					setFdNextsize(p, fwd)
					setBkNextsize(p, bkNextsize(fwd))
					if fdNextsize(bkNextsize(fwd)) != fwd {
						a.corrupt("malloc(): largebin double linked list corrupted (nextsize)", fwd)
					}
					setBkNextsize(fwd, p)
					setFdNextsize(bkNextsize(p), p)
				}
				bck = bk(fwd)
				if fd(bck) != fwd {
					a.corrupt("malloc(): largebin double linked list corrupted (bk)", fwd)
				}
			}
		} else {
			setFdNextsize(p, p)
			setBkNextsize(p, p)
		}
	}
	a.markBin(idx)
	setBk(p, bck)
	setFd(p, fwd)
	setBk(fwd, p)
	setFd(bck, p)
}

// sizeLeaderAtMost returns the first chunk of the largest size at most
// size in a sorted large bin whose first chunk is first, as glibc's walk
// down the nextsize ring from the largest size finds it; smallest is the
// bin's smallest size, and size is at least that. The walk starts at the
// end whose size is nearer: each step reads the header of a chunk of
// another size, a cache miss in a large heap, and a bin of many sizes
// (the bins above 3 KiB span 512 bytes to 256 KiB) made the walk from the
// largest end the arena's costliest loop on mixed sizes. The ring is the
// same either way, so the chunk found, and every choice made from the
// bins, is glibc's.
func sizeLeaderAtMost(first, size, smallest uintptr) uintptr {
	largest := chunkSize(first)
	if size >= largest {
		return first
	}
	if size-smallest < largest-size {
		// Up from the smallest size: the largest's bk_nextsize closes
		// the ring there, and the largest, above size, ends the walk.
		g := bkNextsize(first)
		for up := bkNextsize(g); chunkSize(up) <= size; up = bkNextsize(g) {
			g = up
		}
		return g
	}
	fwd := first
	for size < chunkSize(fwd) {
		fwd = fdNextsize(fwd)
	}
	return fwd
}

// sizeLeaderAtLeast returns the first chunk of the smallest size at least
// nb in a sorted large bin whose first chunk, of the largest size, is
// first and at least nb: glibc's walk up from the smallest size finds
// the same chunk; this one starts at the nearer end (sizeLeaderAtMost).
func sizeLeaderAtLeast(first, nb uintptr) uintptr {
	low := bkNextsize(first)
	smallest := chunkSize(low)
	if nb <= smallest {
		return low
	}
	if largest := chunkSize(first); largest-nb < nb-smallest {
		// Down from the largest size; the smallest, below nb, ends it.
		g := first
		for dn := fdNextsize(g); chunkSize(dn) >= nb; dn = fdNextsize(g) {
			g = dn
		}
		return g
	}
	victim := bkNextsize(low)
	for chunkSize(victim) < nb {
		victim = bkNextsize(victim)
	}
	return victim
}
