package arena

// Info is what one arena holds, as glibc's int_mallinfo counts it: free
// space is found by walking the bins under the arena lock.
type Info struct {
	System     uintptr // bytes obtained from the OS (mallinfo2 arena), those decay is giving back at the moment included
	MaxSystem  uintptr // peak of System
	Free       uintptr // free bytes: bins, fastbins and the top (fordblks)
	FreeChunks int     // free chunks in the bins, plus the top (ordblks)
	FastChunks int     // chunks in fastbins (smblks)
	FastBytes  uintptr // bytes in fastbins (fsmblks)
	Top        uintptr // size of the top chunk (keepcost)
	Regions    int     // the break and heaps the arena uses
	Mallocs    uint64  // chunks the arena allocated (front caches hide most small ones)
	Frees      uint64  // chunks freed into the arena
	// Kept is the part of Free that decay keeps and glibc's policy would
	// have given back by now: the top beyond top_pad when it exceeds the
	// trim threshold, or a free heap at the end (0 without decay).
	Kept     uintptr
	BinSizes []BinSize
}

// BinSize summarizes the free chunks of one bin, for malloc_info.
type BinSize struct {
	Fast     bool    // a fastbin
	Unsorted bool    // the unsorted list (malloc_info prints it as <unsorted>)
	From, To uintptr // chunk sizes in the bin
	Count    int
	Total    uintptr
}

// Info returns the arena's figures; withBins also fills BinSizes.
func (a *Arena) Info(withBins bool) Info {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.InfoLocked(withBins)
}

// InfoLocked is Info with the arena lock already held, so that a caller
// can hold every arena's lock and read figures that add up.
func (a *Arena) InfoLocked(withBins bool) Info {
	var in Info
	in.System, in.MaxSystem = a.system+a.decay.inFlight, a.maxSystem
	in.Kept = a.keptBytes()
	in.Regions = len(a.regions)
	in.Mallocs, in.Frees = a.stats.mallocs, a.stats.frees
	if a.top != 0 {
		in.Top = chunkSize(a.top)
		in.Free = in.Top
		in.FreeChunks = 1
	}
	for i, p := range a.fastbins {
		var bs BinSize
		for ; p != 0; p = protect(p+16, word(p+16)) {
			s := chunkSize(p)
			in.FastChunks++
			in.FastBytes += s
			bs.Count++
			bs.Total += s
		}
		if withBins && bs.Count > 0 {
			bs.Fast = true
			bs.From = uintptr(i+2) << 4
			bs.To = bs.From
			in.BinSizes = append(in.BinSizes, bs)
		}
	}
	in.Free += in.FastBytes
	for i := 1; i < nBins; i++ {
		bin := a.binAt(i)
		bs := BinSize{From: ^uintptr(0), Unsorted: i == unsortedBin}
		for p := bk(bin); p != bin; p = bk(p) {
			s := chunkSize(p)
			in.FreeChunks++
			in.Free += s
			bs.Count++
			bs.Total += s
			bs.From = min(bs.From, s)
			bs.To = max(bs.To, s)
		}
		if withBins && bs.Count > 0 {
			in.BinSizes = append(in.BinSizes, bs)
		}
	}
	return in
}

// MappedInfo reports the mapped chunks: how many, their bytes, and the
// peak of those bytes.
func (h *Heap) MappedInfo() (count int, bytes, peak uintptr) {
	return int(h.mapped.live.Load()), uintptr(h.mapped.bytes.Load()), uintptr(h.mapped.peak.Load())
}

// EachMapped calls f with the mapping (start and size in bytes) of every
// mapped chunk, under the lock of the mapped-chunk table: f must not call
// into the heap. It reads each chunk's header and skips one that fails its
// tag check. A chunk that Realloc is moving with mremap at that moment may
// be gone from its old address, so reading its header can fault: a caller
// running while other goroutines may Realloc mapped chunks must guard
// against that (runtime/debug.SetPanicOnFault), as offheap's residency
// measurement does.
func (h *Heap) EachMapped(f func(start, size uintptr)) {
	h.mapped.each(func(c uintptr) {
		if !h.validHead(c) || !isMmapped(c) {
			return
		}
		off := prevSize(c)
		f(c-off, off+chunkSize(c))
	})
}

// Trim is malloc_trim(pad) over every arena; it reports whether any memory
// went back to the operating system. It gives back what decay keeps as
// well: the kept mappings of freed mapped chunks, and the arenas' memory
// as malloc_trim would, at once.
func (h *Heap) Trim(pad uintptr) bool {
	released := h.kept.purgeAll(h)
	for i := 0; i < h.NumArenas(); i++ {
		if h.Arena(i).Trim(pad) {
			released = true
		}
	}
	return released
}
