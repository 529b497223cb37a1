package arena

import "sync/atomic"

// Growing and shrinking: glibc's sysmalloc, systrim, heap_trim and mtrim.
//
// The main arena grows its top by moving the Break (nb + top_pad + MinSize
// less the top it already has, page-rounded). When the break cannot grow,
// or when there is no Break, it continues on heaps, as non-main arenas
// always do: HeapSize reservations aligned to HeapSize, committed as the top
// rises. Leaving a region, the arena ends it with two fenceposts and frees
// what was left of its top.
//
// After a free that leaves at least 64 KiB (FASTBIN_CONSOLIDATION_THRESHOLD),
// a top larger than the trim threshold is cut back to top_pad: the break is
// lowered, or the heap's end decommitted; a heap that became entirely free
// is given back and the previous region's top restored. With Params.Decay
// set, that free only notes what could go, and the decay releaser gives it
// back once it has stayed unused that long (decay.go).
//
// With Params.HugePage set (hugetlb), growth and trimming move region ends
// in whole huge pages, the break region starts on a huge page boundary,
// and every heap, and each stretch the break grows by, is advised for
// transparent huge pages.
//
// Every change of a region's end, and every system call on one, is made
// with the arena's sysMu held as well as its lock (lockSys), because the
// decay releaser makes its system calls holding sysMu alone.

// sysmalloc serves nb when the top is too small: a mapped chunk, or growth.
func (a *Arena) sysmalloc(nb uintptr) uintptr {
	h := a.h
	tried := false
	if h.mapsFirst(nb) {
		if c, kept := h.mapChunk(nb, 0); c != 0 {
			if kept {
				a.decay.reused = c
			}
			return c
		}
		tried = true
	}
	if h.kept.count.Load() != 0 && h.mapped.live.Load() < h.mmapMax.Load() {
		// Decay keeps freed mappings: one that fits serves the request
		// with memory already there, where growth would take fresh pages.
		if c := h.reuseKept(nb); c != 0 {
			a.decay.reused = c
			return c
		}
	}
	if a.growTop(nb) {
		return a.carveTop(nb)
	}
	if !tried && h.mapped.live.Load() < h.mmapMax.Load() {
		c, kept := h.mapChunk(nb, 0)
		if kept {
			a.decay.reused = c
		}
		return c
	}
	return 0
}

func (a *Arena) cur() *region { return &a.regions[len(a.regions)-1] }

func (a *Arena) addSystem(n uintptr) {
	a.h.heapSys.Add(int64(n))
	a.system += n
	if a.system > a.maxSystem {
		a.maxSystem = a.system
	}
}

// subSystem takes n bytes off the arena's system memory.
func (a *Arena) subSystem(n uintptr) {
	a.h.heapSys.Add(-int64(n))
	a.system -= n
}

// growUnit is what region ends move by: the page, or the huge page.
func (h *Heap) growUnit() uintptr { return max(h.pageSize, h.hugePage.Load()) }

// adviseHuge asks for transparent huge pages on [addr, addr+n) when
// hugetlb is on and the Memory can; best effort.
func (h *Heap) adviseHuge(addr, n uintptr) {
	if h.hugePage.Load() == 0 || n == 0 {
		return
	}
	if hm, ok := h.mem.(HugeMemory); ok {
		_ = hm.AdviseHuge(addr, n)
	}
}

// PopulateMemory is what a Memory offers to fault pages in ahead of use
// (Params.Populate).
type PopulateMemory interface {
	// Populate makes [addr, addr+n), page aligned, resident and writable
	// (MADV_POPULATE_WRITE). It is best effort: the arenas ignore its
	// error.
	Populate(addr, n uintptr) error
}

// populateFloor is the memory an arena holds before its growth is
// populated: a program that small pays the page faults of what it touches
// only (and its first allocation no more than that).
const populateFloor = 1 << 20

// populate faults in the pages that growth of the top to end added beyond
// a request of nb bytes carved at the top's start, up to top_pad: the
// chunks carved there next write their headers at once, and one call
// costs less than a fault per page (a fault costs 2.5-3.5 us a page here,
// the call 2.1; the python-json replay ran 5-10% faster). The pages of the
// request itself are left to the program, which may never touch a large
// block's. Only while the Heap has one arena: the call holds the
// process's mmap lock for reading while it works, and threads of other
// arenas moving their own ends (brk, mmap, munmap, mprotect need it for
// writing) wait for it; mstress on two Ps ran 4-5% slower populating, and
// a single-arena heap (one goroutine allocating, or GOMAXPROCS=1) pays no
// such wait. Called with the arena locked, after the growth.
func (a *Arena) populate(nb, end uintptr) {
	h := a.h
	if !h.populate.Load() || h.hugePage.Load() != 0 || a.system < populateFloor || h.narenas.Load() > 1 {
		return
	}
	pm, ok := h.mem.(PopulateMemory)
	if !ok {
		return
	}
	from := roundUp(a.top+nb+MinSize, h.pageSize)
	if end <= from {
		return
	}
	_ = pm.Populate(from, min(end-from, roundUp(h.topPad.Load(), h.pageSize)))
}

// growPad is what growth asks for beyond the request: top_pad (glibc),
// and with decay at least an eighth of what the arena holds. Decay keeps
// what the top does not use and gives it back once unused, so growing in
// steps that follow the heap's size costs nothing that stays, and saves a
// system call at every step of a heap that is still growing.
func (a *Arena) growPad() uintptr {
	pad := a.h.topPad.Load()
	if a.h.decayNs.Load() > 0 {
		pad = max(pad, a.system/8)
	}
	return pad
}

// growTop makes the top at least nb + MinSize bytes.
func (a *Arena) growTop(nb uintptr) bool {
	a.lockSys()
	defer a.unlockSys()
	h := a.h
	if a.index == 0 && h.brk != nil && (len(a.regions) == 0 || a.cur().isBrk) {
		if a.growBrk(nb) {
			return true
		}
	} else if len(a.regions) > 0 && a.growHeap(nb) {
		return true
	}
	return a.newHeap(nb) == nil
}

func (a *Arena) growBrk(nb uintptr) bool {
	h := a.h
	var topSize uintptr
	if len(a.regions) > 0 {
		topSize = chunkSize(a.top)
	}
	size := nb + a.growPad() + MinSize
	if size < nb {
		return false
	}
	if size > topSize {
		size -= topSize
	}
	unit := h.growUnit()
	size = roundUp(size, unit)
	gap := uintptr(0)
	if len(a.regions) == 0 {
		// The first growth: with huge pages, the chunks start on a huge
		// page boundary (glibc rounds only the end, which leaves the
		// pages before the first boundary small).
		cur := h.brk.Current()
		gap = roundUp(cur, unit) - cur
	}
	old, err := h.brk.Grow(gap + size)
	if err != nil {
		return false
	}
	if len(a.regions) == 0 {
		// The first growth: the break region begins here.
		start := old + gap
		if start&(unit-1) != 0 {
			start = old // the break moved since Current: no alignment
		}
		// Advised before anything is written there: a page touched first
		// would keep its huge page range in small pages.
		h.adviseHuge(start, old+gap+size-start)
		a.regions = append(a.regions, region{base: old, start: start, isBrk: true})
		h.brkBase.Store(old)
		a.freshFrom = start
		h.brkEnd.Store(old + gap + size)
		a.addSystem(gap + size)
		a.setTop(start, old+gap+size-start)
		h.event(EventGrow, 0, old, gap+size)
		return true
	}
	if old != a.top+topSize {
		// Someone else moved the break: give it back and use heaps.
		h.brk.Shrink(size)
		return false
	}
	h.adviseHuge(old, size)
	a.populate(nb, old+size)
	h.brkEnd.Store(old + size)
	a.addSystem(size)
	a.setTop(a.top, topSize+size)
	h.event(EventGrow, 0, old, size)
	return true
}

// growHeap commits more of the current heap for the top.
func (a *Arena) growHeap(nb uintptr) bool {
	h := a.h
	r := a.cur()
	if r.isBrk {
		return false
	}
	topSize := chunkSize(a.top)
	end := heapEnd(r.base)
	limit := r.base + HeapSize
	if nb+MinSize > limit-a.top {
		return false
	}
	unit := h.growUnit()
	need := roundUp(a.top+nb+MinSize-end, unit)
	want := roundUp(need+a.growPad(), unit)
	if want > limit-end {
		want = limit - end
	}
	if err := h.mem.Commit(end, want); err != nil {
		if want == need || h.mem.Commit(end, need) != nil {
			return false
		}
		want = need
	}
	a.populate(nb, end+want)
	setHeapEnd(r.base, end+want)
	a.addSystem(want)
	a.setTop(a.top, topSize+want)
	h.event(EventGrow, a.index, end, want)
	return true
}

// newHeap reserves a heap big enough for nb and moves the top there.
func (a *Arena) newHeap(nb uintptr) error {
	h := a.h
	if nb+MinSize+heapHdrSz+2*fenceSz > HeapSize {
		return ErrNoMemory
	}
	if h.pool != nil {
		if e, ok := h.pool.take(); ok {
			return a.reuseHeap(e, nb)
		}
	}
	base, err := h.mem.Reserve(HeapSize, HeapSize)
	if err != nil {
		return err
	}
	if base&(HeapSize-1) != 0 || base>>granuleShift >= granules {
		h.mem.Unmap(base, HeapSize)
		return ErrNoMemory
	}
	h.adviseHuge(base, HeapSize)
	unit := h.growUnit()
	size := roundUp(heapHdrSz+nb+MinSize+h.topPad.Load(), unit)
	if size > HeapSize {
		size = HeapSize
	}
	if err := h.mem.Commit(base, size); err != nil {
		size = roundUp(heapHdrSz+nb+MinSize, unit)
		if err := h.mem.Commit(base, size); err != nil {
			h.mem.Unmap(base, HeapSize)
			return err
		}
	}
	a.installHeap(base, size, base+heapHdrSz+hdrSz)
	return nil
}

// installHeap makes the heap at base, size bytes of it committed, the
// arena's current region: its header, its granule, the accounting, the
// top, a fencepost closing the region before it. Memory from freshFrom on
// is fresh from the system (Calloc need not clear it).
func (a *Arena) installHeap(base, size, freshFrom uintptr) {
	h := a.h
	setWord(base, uintptr(a.index))
	setHeapEnd(base, base+size)
	atomic.StoreUint32(h.granuleSlot(base), h.granuleEntry(a.index))
	a.addSystem(size)
	h.event(EventNewHeap, a.index, base, size)

	oldTop := a.top
	hadTop := len(a.regions) > 0
	a.regions = append(a.regions, region{base: base, start: base + heapHdrSz})
	a.setTop(base+heapHdrSz, size-heapHdrSz)
	a.freshFrom = freshFrom
	if hadTop {
		a.fencepost(oldTop)
	}
}

// reuseHeap makes the heap e, taken from the pool, the arena's current
// region, as newHeap does with a fresh one: already committed to e.end,
// more if nb needs it; its contents are old (none of it counts as fresh).
func (a *Arena) reuseHeap(e pooledHeap, nb uintptr) error {
	h := a.h
	base, size := e.base, e.end-e.base
	if need := roundUp(heapHdrSz+nb+MinSize, h.growUnit()); need > size {
		if need > HeapSize {
			need = HeapSize
		}
		if err := h.mem.Commit(base+size, need-size); err != nil {
			h.mem.Unmap(base, HeapSize)
			return err
		}
		size = need
	}
	a.installHeap(base, size, base+size) // old contents: Calloc clears
	return nil
}

// fencepost ends the region whose top was oldTop: two 16-byte fenceposts at
// its end, and the rest of the old top freed.
func (a *Arena) fencepost(oldTop uintptr) {
	h := a.h
	oldSize := chunkSize(oldTop) - 2*fenceSz
	h.setHead(oldTop+oldSize, fenceSz, flagP)
	h.setHead(oldTop+oldSize+fenceSz, fenceSz, flagP)
	if oldSize >= MinSize {
		h.setHead(oldTop, oldSize, flagP)
		a.coalesce(oldTop, oldSize)
	} else if oldSize != 0 {
		h.setHead(oldTop, oldSize, flagP) // a 16-byte sliver: a third fencepost
	}
}

// autoTrim is the trim after a large free: systrim for the break, heapTrim
// for a heap.
func (a *Arena) autoTrim() {
	h := a.h
	if d := h.decayNs.Load(); d > 0 {
		a.noteDecay(d) // the decay releaser decides, later
		return
	}
	a.lockSys()
	defer a.unlockSys()
	if !a.cur().isBrk {
		// As glibc's _int_free: "Always try heap_trim(), even if the top
		// chunk is not large, because the corresponding heap might go
		// away." Only shrinking the top waits for the trim threshold.
		a.deleteFreeHeaps()
	}
	if chunkSize(a.top) < h.trimThreshold.Load() {
		return
	}
	if a.cur().isBrk {
		a.systrim(h.topPad.Load())
	} else {
		a.heapTrim(h.topPad.Load())
	}
}

// topExtra is how much of the top can go, leaving pad (rounded down to the
// page, or the huge page with hugetlb).
func (a *Arena) topExtra(pad uintptr) uintptr { return a.extraOf(chunkSize(a.top), pad) }

// extraOf is topExtra for a top of top bytes.
func (a *Arena) extraOf(top, pad uintptr) uintptr {
	if top < MinSize+1 {
		return 0
	}
	area := top - MinSize - 1
	if area <= pad {
		return 0
	}
	return (area - pad) &^ (a.h.growUnit() - 1)
}

// systrim lowers the break to leave pad bytes in the top.
func (a *Arena) systrim(pad uintptr) bool {
	h := a.h
	extra := a.topExtra(pad)
	if extra == 0 {
		return false
	}
	top := a.top
	topSize := chunkSize(top)
	end := top + topSize
	if h.brk.Current() != end {
		return false // someone else moved the break
	}
	if err := h.brk.Shrink(extra); err != nil {
		return false
	}
	h.brkEnd.Store(end - extra)
	a.subSystem(extra)
	a.setTop(top, topSize-extra)
	if a.freshFrom > end-extra {
		a.freshFrom = end - extra
	}
	h.event(EventShrink, 0, end-extra, extra)
	return true
}

// heapTrim gives back whole free heaps at the end of the arena and
// decommits the top of the current heap, leaving pad bytes.
func (a *Arena) heapTrim(pad uintptr) bool {
	h := a.h
	released := a.deleteFreeHeaps()
	r := a.cur()
	if r.isBrk {
		return a.systrim(pad) || released
	}
	extra := a.topExtra(pad)
	if extra == 0 {
		return released
	}
	end := heapEnd(r.base)
	if err := h.mem.Decommit(end-extra, extra); err != nil {
		return released
	}
	setHeapEnd(r.base, end-extra)
	a.subSystem(extra)
	a.setTop(a.top, chunkSize(a.top)-extra)
	if a.freshFrom > end-extra {
		a.freshFrom = end - extra
	}
	h.event(EventShrink, a.index, end-extra, extra)
	return true
}

// deleteFreeHeaps gives back the heaps at the end of the arena that are
// entirely free (glibc's heap_trim loop), restoring each time the previous
// region's top from its fenceposts. It reports whether any went.
func (a *Arena) deleteFreeHeaps() bool {
	h := a.h
	released := false
	for len(a.regions) > 1 && a.top == a.cur().start {
		base, size := a.detachFreeHeap()
		h.mem.Unmap(base, HeapSize)
		h.event(EventShrink, a.index, base, size)
		released = true
	}
	return released
}

// detachFreeHeap takes the current heap, entirely free, out of the arena
// and restores the previous region's top from its fenceposts. It returns
// the heap's base and committed size; the caller unmaps it.
func (a *Arena) detachFreeHeap() (base, size uintptr) {
	h := a.h
	r := *a.cur()
	prev := a.regions[len(a.regions)-2]
	var prevEnd uintptr
	if prev.isBrk {
		prevEnd = h.brkEnd.Load()
	} else {
		prevEnd = heapEnd(prev.base)
	}
	fence := prevEnd - 2*fenceSz
	newTop, newSize := fence, uintptr(2*fenceSz)
	if !prevInuse(fence) {
		ps := prevSize(fence)
		p := fence - ps
		a.unlink(p)
		newTop, newSize = p, ps+2*fenceSz
	}
	end := heapEnd(r.base)
	atomic.StoreUint32(h.granuleSlot(r.base), 0)
	a.subSystem(end - r.base)
	a.regions = a.regions[:len(a.regions)-1]
	a.setTop(newTop, newSize)
	if a.lastRemainder == newTop {
		a.lastRemainder = 0
	}
	a.freshFrom = prevEnd // conservative: nothing of the old top is fresh
	return r.base, end - r.base
}

// Trim is malloc_trim for this arena: consolidate the fastbins, release
// the whole pages inside every free chunk, then shrink the top to pad.
// It reports whether any memory was released.
func (a *Arena) Trim(pad uintptr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.trimLocked(pad)
}

// TrimLocked is Trim with the lock already held.
func (a *Arena) TrimLocked(pad uintptr) bool { return a.trimLocked(pad) }

func (a *Arena) trimLocked(pad uintptr) bool {
	h := a.h
	if len(a.regions) == 0 {
		return false
	}
	a.lockSys()
	defer a.unlockSys()
	if a.haveFast {
		a.consolidate()
	}
	psm1 := h.pageSize - 1
	const keep = 48 // header and list links of a free chunk
	released := false
	var total uintptr
	for i := 1; i < nBins; i++ {
		bin := a.binAt(i)
		for p := bk(bin); p != bin; p = bk(p) {
			size := chunkSize(p)
			if size <= psm1+keep {
				continue
			}
			pm := (p + keep + psm1) &^ psm1
			if p+size > pm {
				n := (p + size - pm) &^ psm1
				if n != 0 && h.mem.Release(pm, n) == nil {
					released = true
					total += n
				}
			}
		}
	}
	if total != 0 {
		h.event(EventRelease, a.index, 0, total)
	}
	if a.cur().isBrk {
		return a.systrim(pad) || released
	}
	return a.heapTrim(pad) || released
}
