package arena

import "fmt"

// Check walks every arena and every mapped chunk and returns an error
// naming the first broken invariant, or nil (glibc's do_check_malloc_state,
// TLSF's tlsf_check). cached lists the chunks that front caches hold: each
// must be an in-use chunk of an arena (the next chunk's P bit set), without
// the F bit (which only fastbin chunks carry), and listed once.
//
// Each arena is locked while it is walked; the caller keeps the front
// caches still.
func (h *Heap) Check(cached []uintptr) error {
	seen := make(map[uintptr]bool, len(cached))
	for _, c := range cached {
		if c&alignMask != 0 {
			return fmt.Errorf("cache: chunk %#x is not 16-aligned", c)
		}
		kind, a := h.Lookup(Mem(c))
		if kind != InHeap {
			return fmt.Errorf("cache: chunk %#x is not in any arena", c)
		}
		if !h.validHead(c) {
			return fmt.Errorf("cache: chunk %#x has a bad header tag", c)
		}
		if isCached(c) {
			return fmt.Errorf("cache: chunk %#x carries the F bit: it is in a fastbin too (double free?)", c)
		}
		if seen[c] {
			return fmt.Errorf("cache: chunk %#x is held twice (double free?)", c)
		}
		seen[c] = true
		if next := c + chunkSize(c); next+hdrSz > a.regionEnd(c) || !prevInuse(next) {
			return fmt.Errorf("cache: chunk %#x is free in its arena (double free?)", c)
		}
	}
	for i := 0; i < h.NumArenas(); i++ {
		if err := h.Arena(i).check(); err != nil {
			return err
		}
	}
	if err := h.checkMapped(); err != nil {
		return err
	}
	return h.checkKept()
}

// checkKept verifies what decay keeps of freed mapped chunks: page-aligned
// mappings, each with its tagged header (size, M) intact, none overlapping
// another or still a live mapped chunk, and the counters adding up.
func (h *Heap) checkKept() error {
	k := &h.kept
	// Under the list's lock: a mapping taken off the list may be unmapped
	// as soon as the lock is released.
	k.mu.Lock()
	defer k.mu.Unlock()
	list := k.list[:k.n]
	bytes, count := k.bytes.Load(), k.count.Load()
	var sum int64
	now := nanotime()
	for i, e := range list {
		switch {
		case e.base == 0 || e.base&(h.pageSize-1) != 0 || e.size == 0 || e.size&(h.pageSize-1) != 0:
			return fmt.Errorf("kept mapping %#x: not page aligned (size %d)", e.base, e.size)
		case !h.validHead(e.base) || chunkSize(e.base) != e.size || !isMmapped(e.base):
			return fmt.Errorf("kept mapping %#x: header overwritten (written after free?)", e.base)
		case h.mapped.contains(e.base):
			return fmt.Errorf("kept mapping %#x: also a live mapped chunk", e.base)
		case e.at > now || i > 0 && e.at < list[i-1].at:
			return fmt.Errorf("kept mapping %#x: kept at %d, out of order", e.base, e.at)
		}
		for _, o := range list[:i] {
			if e.base < o.base+o.size && o.base < e.base+e.size {
				return fmt.Errorf("kept mappings %#x and %#x overlap", o.base, e.base)
			}
		}
		sum += int64(e.size)
	}
	if sum != bytes || int(count) != len(list) || len(list) > keptMax {
		return fmt.Errorf("kept mappings: %d, %d bytes found; counters say %d, %d", len(list), sum, count, bytes)
	}
	return nil
}

func (h *Heap) checkMapped() error {
	var err error
	var n int64
	var bytes uintptr
	h.mapped.each(func(c uintptr) {
		if err != nil {
			return
		}
		off := prevSize(c)
		switch {
		case !h.validHead(c):
			err = fmt.Errorf("mapped chunk %#x: bad header tag", c)
		case !isMmapped(c):
			err = fmt.Errorf("mapped chunk %#x: M bit clear", c)
		case (c-off)&(h.pageSize-1) != 0 || (off+chunkSize(c))&(h.pageSize-1) != 0:
			err = fmt.Errorf("mapped chunk %#x: mapping not page aligned (offset %d, size %d)", c, off, chunkSize(c))
		case Mem(c)&alignMask != 0:
			err = fmt.Errorf("mapped chunk %#x: user pointer not 16-aligned", c)
		}
		n++
		bytes += off + chunkSize(c)
	})
	if err != nil {
		return err
	}
	if n != h.mapped.live.Load() || int64(bytes) != h.mapped.bytes.Load() {
		return fmt.Errorf("mapped chunks: %d chunks, %d bytes found; counters say %d, %d",
			n, bytes, h.mapped.live.Load(), h.mapped.bytes.Load())
	}
	return nil
}

func (a *Arena) check() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.h
	fail := func(format string, args ...any) error {
		return fmt.Errorf("arena %d: "+format, append([]any{a.index}, args...)...)
	}
	if len(a.regions) == 0 {
		if a.top != 0 {
			return fail("top %#x without a region", a.top)
		}
		return nil
	}
	var system uintptr
	var freeWalk, cachedWalk, chunks int
	for ri, r := range a.regions {
		var end uintptr
		if r.isBrk {
			end = h.brkEnd.Load()
			system += end - r.base
		} else {
			end = heapEnd(r.base)
			system += end - r.base
			if base, idx := h.heapOf(r.base); base != r.base || idx != a.index {
				return fail("heap %#x not registered to this arena", r.base)
			}
		}
		last := ri == len(a.regions)-1
		p := r.start
		prevFree := false
		first := true
		fences := 0
		for p < end {
			chunks++
			if p&alignMask != 0 {
				return fail("chunk %#x not 16-aligned", p)
			}
			if !h.validHead(p) {
				return fail("chunk %#x: bad header tag (corrupted size word %#x)", p, head(p))
			}
			size := chunkSize(p)
			if first && !prevInuse(p) {
				return fail("chunk %#x: first chunk of a region without P", p)
			}
			if !first && prevInuse(p) == prevFree {
				return fail("chunk %#x: P bit %v but previous chunk free=%v", p, prevInuse(p), prevFree)
			}
			first = false
			if (head(p)&flagT != 0) != (p == a.top) {
				return fail("chunk %#x: T (top) bit %v, but top is %#x", p, head(p)&flagT != 0, a.top)
			}
			if p == a.top {
				if !last {
					return fail("top %#x not in the last region", p)
				}
				if p+size != end {
					return fail("top %#x size %d does not reach the region end %#x", p, size, end)
				}
				if size < MinSize {
					return fail("top %#x smaller than MinSize (%d)", p, size)
				}
				if prevFree {
					return fail("top %#x follows a free chunk", p)
				}
				p = end
				break
			}
			if size == fenceSz {
				fences++
				if last || end-p > 3*fenceSz {
					return fail("fencepost %#x not at the end of a left region", p)
				}
				p += fenceSz
				prevFree = false
				continue
			}
			if size < MinSize || p+size > end {
				return fail("chunk %#x: size %d out of the region [%#x, %#x)", p, size, r.start, end)
			}
			if isMmapped(p) {
				return fail("chunk %#x: M bit set inside a heap", p)
			}
			next := p + size
			free := !prevInuse(next)
			if free {
				if prevFree {
					return fail("chunks before %#x: two free chunks side by side", p)
				}
				if isCached(p) {
					return fail("chunk %#x: free and cached", p)
				}
				if prevSize(next) != size {
					return fail("free chunk %#x: foot %d != size %d", p, prevSize(next), size)
				}
				if head(p)&flagA == 0 {
					return fail("free chunk %#x lacks the A bit (it would pass for in use)", p)
				}
				freeWalk++
			} else {
				if head(p)&flagA != 0 {
					return fail("chunk %#x in use but carries the A bit", p)
				}
				if isCached(p) {
					cachedWalk++
				}
			}
			prevFree = free
			p = next
		}
		if p != end {
			return fail("region [%#x, %#x): chunks end at %#x", r.start, end, p)
		}
		if !last && fences < 2 {
			return fail("region [%#x, %#x) left without fenceposts", r.start, end)
		}
	}
	if system != a.system {
		return fail("regions hold %d bytes, system says %d", system, a.system)
	}
	if a.system > a.maxSystem {
		return fail("system %d above its peak %d", a.system, a.maxSystem)
	}
	// Bins.
	binned := 0
	for i := 1; i < nBins; i++ {
		bin := a.binAt(i)
		n := 0
		prevSz := ^uintptr(0)
		for p := fd(bin); p != bin; p = fd(p) {
			if n++; n > chunks {
				return fail("bin %d: list does not end (loop?)", i)
			}
			if bk(fd(p)) != p || fd(bk(p)) != p {
				return fail("bin %d: chunk %#x: broken fd/bk links", i, p)
			}
			if !h.validHead(p) {
				return fail("bin %d: chunk %#x: bad header tag", i, p)
			}
			size := chunkSize(p)
			if prevInuse(p + size) {
				return fail("bin %d: chunk %#x (size %d) is in use", i, p, size)
			}
			switch {
			case i == unsortedBin:
			case i < nSmallBins:
				if smallIndex(size) != i {
					return fail("small bin %d holds chunk %#x of size %d", i, p, size)
				}
			default:
				if inSmallRange(size) || largeIndex(size) != i {
					return fail("large bin %d holds chunk %#x of size %d", i, p, size)
				}
				if size > prevSz {
					return fail("large bin %d not sorted at chunk %#x", i, p)
				}
				prevSz = size
			}
		}
		if n > 0 && i != unsortedBin && a.binmap[i>>5]&(1<<(uint(i)&31)) == 0 {
			return fail("bin %d is not empty but its binmap bit is clear", i)
		}
		binned += n
	}
	if binned != freeWalk {
		return fail("%d free chunks in the regions, %d in the bins", freeWalk, binned)
	}
	// Fastbins.
	fast := 0
	for i, p := range a.fastbins {
		n := 0
		for p != 0 {
			if n++; n > chunks {
				return fail("fastbin %d: list does not end (loop?)", i)
			}
			if p&alignMask != 0 {
				return fail("fastbin %d: unaligned chunk %#x (forged link?)", i, p)
			}
			if !h.validHead(p) || fastIndex(chunkSize(p)) != i {
				return fail("fastbin %d: chunk %#x has the wrong size", i, p)
			}
			if !isCached(p) {
				return fail("fastbin %d: chunk %#x lacks the F bit", i, p)
			}
			p = protect(p+16, word(p+16))
		}
		fast += n
	}
	if fast != cachedWalk {
		return fail("%d chunks carry the F bit, but fastbins hold %d", cachedWalk, fast)
	}
	return nil
}
