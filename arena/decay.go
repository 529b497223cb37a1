package arena

import (
	"sync"
	"sync/atomic"
	"time"
)

// Decay: memory back to the system lazily (Params.Decay).
//
// glibc gives memory back as soon as its policy allows: the top of a heap
// above the trim threshold after a large free, a heap that became entirely
// free, every mapped chunk when it is freed. A program that then allocates
// the same amount again pays the system calls and the page faults once
// more. With Params.Decay set, offheap keeps that memory and gives it back
// only once it has stayed unused for Decay, as jemalloc (dirty_decay_ms),
// mimalloc (purge_delay) and tcmalloc (its background release) do:
//
//   - The top. A free that would trim only notes that the arena has
//     something to give back, and when (noteDecay). From then on the arena
//     remembers the smallest its top has been (topMin, kept by setTop): the
//     end of the top beyond that low-water mark has not been touched since.
//     Once Decay has passed, the releaser trims the top as glibc would (to
//     top_pad, when the top exceeds the trim threshold), but by no more than
//     the part that stayed unused: a program that keeps cycling through its
//     top gives none of it back. An arena that served no allocation for the
//     whole window (idle) gives back its top beyond top_pad whatever the
//     trim threshold: the threshold keeps a busy program from trimming and
//     growing in turn, which an idle one is not doing.
//   - Heaps that became entirely free, once free for a whole Decay.
//   - Free pages inside the heaps: the whole pages inside a free chunk (what
//     malloc_trim releases; glibc's free never does), in an arena idle for
//     the whole window, once the chunk has been seen free at the same place
//     and size by two passes of the releaser, Decay apart. With hugetlb,
//     only whole huge pages go.
//   - The dynamic threshold: freeing a mapped chunk that would raise it
//     raises it at once to MaxDynamicThreshold (and the trim threshold to
//     twice that), so that large requests come from the heap, whose free
//     chunks coalesce and are kept, rather than from mappings that a later
//     request fits only if it is about as large.
//   - Freed mapped chunks (Params.KeepMapped). The mapping is kept (keptMaps)
//     and serves the next request it fits with at most a quarter of the
//     request to spare: a request for a mapped chunk, and also a request the
//     heap would grow for (sysmalloc tries the kept mappings before fresh
//     memory: after the dynamic threshold has risen, the sizes that freed
//     those mappings come from the heap). The chunk is then up to a quarter
//     larger than asked (malloc_usable_size says so) and holds old data
//     (Calloc clears it). What is kept is bounded: at most keptMax mappings and
//     max(keptMinBytes, the bytes of the live mapped chunks and of the
//     heaps), the oldest going first, so that it stays in proportion to
//     what the program uses: it at most doubles the memory held.
//
// With decay a heap also grows in larger steps (growPad, sys.go): at least
// an eighth of what the arena holds, since what the top does not use goes
// back once unused anyway; a heap that is still growing makes fewer system
// calls.
//
// The releaser is a timer (time.AfterFunc), armed only while something is
// kept, for the earliest moment something may go; an idle heap has no timer
// and no goroutine. A pass (releaseDecayed) locks each arena that has
// something to give back, detaches what goes (the end of the top together
// with the region's end, a free heap, free chunks taken off their bins as
// if allocated), unlocks, and makes the system calls holding only the
// arena's sysMu; then it locks again to put the chunks back and begin the
// next window. Growth and trimming take sysMu too (lockSys), so that no
// region end moves while a system call on it is in flight. A system call
// that fails leaves the memory detached; the next lockSys takes it back.
// Trim gives everything back at once, whatever Decay says.

// The bounds on kept mappings.
const (
	keptMax      = 64       // mappings kept at most
	keptMinBytes = 32 << 20 // bytes always allowed (MaxDynamicThreshold)
)

// clockStart is the origin of nanotime.
var clockStart = time.Now()

// nanotime is a monotonic clock in nanoseconds.
func nanotime() int64 { return int64(time.Since(clockStart)) }

// arenaDecay is an arena's part of decay. Fields are guarded by the arena
// lock, but for failed (sysMu) and seen (the releaser's passMu).
type arenaDecay struct {
	// sysMu is held, besides the arena lock, by every change of a region's
	// end and every system call on one, and alone by the releaser while it
	// makes its system calls (lock order: the arena lock, then sysMu).
	sysMu sync.Mutex
	// failed is a region end the releaser detached and could not give
	// back; lockSys takes it back (under sysMu).
	failed detachedEnd

	pending  bool    // something trimming would give back is kept
	since    int64   // nanotime when the current window began
	topMin   uintptr // the smallest the top has been in the window
	inFlight uintptr // bytes detached from a region end, being given back
	mallocs  uint64  // the arena's mallocs when the window began: unchanged, it was idle
	reused   uintptr // the chunk sysmalloc served from a kept mapping (callocLocked)

	// seen holds the free chunks that had whole pages inside at the last
	// pass, by address: their size and whether those pages were released.
	seen map[uintptr]chunkSeen
}

type chunkSeen struct {
	size     uintptr
	released bool
}

// detachedEnd is the end of a region taken out of the arena to be given
// back: [addr, addr+n) of the break region (brk) or of the heap at base.
type detachedEnd struct {
	brk     bool
	base    uintptr
	addr, n uintptr
}

// detachedChunk is a free chunk the releaser took off its bin, and the
// range of whole pages inside it that goes back.
type detachedChunk struct {
	p, size uintptr
	lo, n   uintptr
}

// lockSys locks the arena's sysMu (the arena lock is held) and takes back a
// region end whose release failed.
func (a *Arena) lockSys() {
	a.decay.sysMu.Lock()
	if a.decay.failed.n != 0 {
		a.reattach()
	}
}

func (a *Arena) unlockSys() { a.decay.sysMu.Unlock() }

// reattach gives back to the arena the region end whose release failed.
// Every move of a region end happens under lockSys, which comes here first,
// so the end is still where the releaser cut it. The memory may have been
// cleared or not: none of it counts as fresh.
func (a *Arena) reattach() {
	h := a.h
	f := a.decay.failed
	a.decay.failed = detachedEnd{}
	a.decay.inFlight -= f.n
	r := a.cur()
	topEnd := a.top + chunkSize(a.top)
	switch {
	case f.brk && r.isBrk && h.brkEnd.Load() == f.addr && topEnd == f.addr:
		h.brkEnd.Store(f.addr + f.n)
	case !f.brk && !r.isBrk && r.base == f.base && heapEnd(r.base) == f.addr && topEnd == f.addr:
		setHeapEnd(r.base, f.addr+f.n)
	default:
		return // unreachable (see above): the bytes stay out of the arena
	}
	a.addSystem(f.n)
	a.setTop(a.top, chunkSize(a.top)+f.n)
	a.freshFrom = f.addr + f.n
}

// noteDecay is autoTrim with decay on: it notes that the arena has
// something to give back and arms the releaser for decay from now.
func (a *Arena) noteDecay(decay int64) {
	if a.decay.pending || len(a.regions) == 0 {
		return
	}
	a.decay.pending = true
	a.decay.since = nanotime()
	a.decay.topMin = chunkSize(a.top)
	a.decay.mallocs = a.stats.mallocs
	a.h.kickDecay(a.decay.since + decay)
}

// decayer is the Heap's releaser: a timer armed while something is kept.
type decayer struct {
	mu      sync.Mutex
	timer   *time.Timer
	armedAt int64 // the nanotime the timer fires at; 0: not armed
	stopped bool  // stopDecay was called: never armed again

	passMu sync.Mutex // one pass at a time

	released atomic.Uint64 // bytes given back by passes, cumulative
	calls    atomic.Uint64 // system calls the passes made, cumulative
	passes   atomic.Uint64 // passes made, cumulative
	last     atomic.Int64  // wall-clock Unix nanoseconds of the last pass that gave something back; 0: none
}

// kickDecay arms the releaser for nanotime deadline (0: at once), unless it
// is armed for earlier already.
func (h *Heap) kickDecay(deadline int64) {
	d := &h.decay
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped || d.armedAt != 0 && d.armedAt <= deadline {
		return
	}
	now := nanotime()
	if deadline < now {
		deadline = now
	}
	d.armedAt = deadline
	if d.timer == nil {
		d.timer = time.AfterFunc(time.Duration(deadline-now), h.decayTimer)
	} else {
		d.timer.Reset(time.Duration(deadline - now))
	}
}

// stopDecay stops the releaser for good and waits for a pass in progress:
// for a Heap whose memory is about to vanish (tests).
func (h *Heap) stopDecay() {
	d := &h.decay
	d.mu.Lock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
	}
	d.armedAt = 0
	d.mu.Unlock()
	d.passMu.Lock()
	d.passMu.Unlock()
}

// decayTimer is the timer's function: a pass, then the timer armed again
// for the next thing to go, if any.
func (h *Heap) decayTimer() {
	d := &h.decay
	d.mu.Lock()
	d.armedAt = 0
	d.mu.Unlock()
	if next := h.releaseDecayed(nanotime()); next != 0 {
		h.kickDecay(next)
	}
}

// releaseDecayed is a pass of the releaser at nanotime now: it gives back
// what has stayed unused for the decay, and returns the nanotime when
// something more may go, or 0 when nothing is kept.
func (h *Heap) releaseDecayed(now int64) (next int64) {
	d := &h.decay
	d.passMu.Lock()
	defer d.passMu.Unlock()
	d.mu.Lock()
	stopped := d.stopped
	d.mu.Unlock()
	if stopped {
		return 0
	}
	d.passes.Add(1)
	decay := h.decayNs.Load()
	earliest := func(t int64) {
		if t != 0 && (next == 0 || t < next) {
			next = t
		}
	}
	for i := 0; i < h.NumArenas(); i++ {
		earliest(h.Arena(i).releaseDecayed(now, decay))
	}
	earliest(h.kept.releaseDecayed(h, now, decay))
	return next
}

// releaseDecayed is the pass over arena a (see the file's comment).
func (a *Arena) releaseDecayed(now, decay int64) (next int64) {
	h := a.h
	a.mu.Lock()
	if !a.decay.pending {
		a.mu.Unlock()
		return 0
	}
	if now-a.decay.since < decay {
		a.mu.Unlock()
		return a.decay.since + decay
	}
	all := decay == 0 // decay was turned off: everything goes, as glibc would
	// idle: the arena served no allocation in the window. Then the end of
	// the top goes even below the trim threshold, and so do the free
	// chunks seen at the last pass: nothing can have used them since.
	idle := a.stats.mallocs == a.decay.mallocs
	if a.haveFast {
		a.consolidate()
	}
	a.lockSys()

	// A heap free for the whole window, or the end of the top.
	var heapBase, heapSize uintptr
	var end detachedEnd
	r := a.cur()
	if !r.isBrk && len(a.regions) > 1 && a.top == r.start && (all || a.decay.topMin >= heapEnd(r.base)-r.start) {
		heapBase, heapSize = a.detachFreeHeap()
	} else if topMin := a.decay.topMin; all || idle || topMin > h.trimThreshold.Load() {
		pad := h.topPad.Load()
		extra := a.topExtra(pad)
		if !all {
			extra = min(extra, a.extraOf(topMin, pad))
		}
		if extra > 0 {
			end = a.detachTopEnd(extra)
		}
	}

	// Free chunks seen free at the last pass, at the same place and size.
	unit := h.growUnit()
	seen := make(map[uintptr]chunkSeen, len(a.decay.seen))
	var chunks []detachedChunk
	for i := 1; i < nBins; i++ {
		bin := a.binAt(i)
		for p := bk(bin); p != bin; {
			prev := bk(p)
			size := chunkSize(p)
			if lo, n := wholeUnits(p, size, unit); n != 0 {
				was, ok := a.decay.seen[p]
				ok = ok && was.size == size
				switch {
				case ok && was.released:
					seen[p] = was
				case ok && idle || all:
					a.unlink(p)
					handOut(p) // in use, as far as everyone else can tell
					if a.lastRemainder == p {
						a.lastRemainder = 0
					}
					chunks = append(chunks, detachedChunk{p: p, size: size, lo: lo, n: n})
				default:
					seen[p] = chunkSeen{size: size}
				}
			}
			p = prev
		}
	}
	a.mu.Unlock()

	// The system calls, holding sysMu alone.
	var calls uint64
	heapGone := heapBase != 0 && h.mem.Unmap(heapBase, HeapSize) == nil
	if heapBase != 0 {
		calls++
	}
	var endErr error
	if end.n != 0 {
		calls++
		if end.brk {
			endErr = h.brk.Shrink(end.n)
		} else {
			endErr = h.mem.Decommit(end.addr, end.n)
		}
		if endErr != nil {
			a.decay.failed = end
		}
	}
	var releasedMid uintptr
	for i := range chunks {
		calls++
		if h.mem.Release(chunks[i].lo, chunks[i].n) == nil {
			releasedMid += chunks[i].n
		} else {
			chunks[i].n = 0
		}
	}
	a.unlockSys()

	a.mu.Lock()
	for _, c := range chunks {
		p := c.p
		if !prevInuse(p) {
			p -= prevSize(p)
		}
		if a.coalesce(c.p, c.size) == c.size && p == c.p {
			seen[c.p] = chunkSeen{size: c.size, released: c.n != 0}
		}
	}
	var released uintptr
	if heapGone {
		released += heapSize
		h.decayEvent(EventShrink, a.index, heapBase, heapSize)
	}
	if end.n != 0 && endErr == nil {
		a.decay.inFlight -= end.n
		released += end.n
		h.decayEvent(EventShrink, a.index, end.addr, end.n)
	}
	if releasedMid != 0 {
		released += releasedMid
		h.decayEvent(EventRelease, a.index, 0, releasedMid)
	}
	a.lockSys() // takes back a region end whose release failed
	a.unlockSys()

	// The next window.
	a.decay.since = now
	a.decay.topMin = chunkSize(a.top)
	a.decay.mallocs = a.stats.mallocs
	a.decay.seen = seen
	pending := a.keptBytes() != 0 || a.topExtra(h.topPad.Load()) != 0
	for _, s := range seen {
		pending = pending || !s.released
	}
	a.decay.pending = pending
	if !pending {
		a.decay.seen = nil
	}
	a.mu.Unlock()

	h.decay.calls.Add(calls)
	if released != 0 {
		h.decay.released.Add(uint64(released))
		h.decay.last.Store(time.Now().UnixNano())
	}
	if pending {
		return now + max(decay, 1)
	}
	return 0
}

// wholeUnits returns the whole units (pages, or huge pages) inside free
// chunk p of size bytes, past its header and list links.
func wholeUnits(p, size, unit uintptr) (lo, n uintptr) {
	const keep = 48 // header and list links of a free chunk
	lo = roundUp(p+keep, unit)
	hi := (p + size) &^ (unit - 1)
	if hi <= lo {
		return 0, 0
	}
	return lo, hi - lo
}

// detachTopEnd takes extra bytes off the end of the top and of its region,
// to be given back; the caller holds the lock and sysMu.
func (a *Arena) detachTopEnd(extra uintptr) detachedEnd {
	h := a.h
	top := a.top
	topSize := chunkSize(top)
	end := top + topSize
	r := a.cur()
	if r.isBrk {
		if h.brk.Current() != end {
			return detachedEnd{} // someone else moved the break
		}
		h.brkEnd.Store(end - extra)
	} else {
		setHeapEnd(r.base, end-extra)
	}
	a.subSystem(extra)
	a.setTop(top, topSize-extra)
	if a.freshFrom > end-extra {
		a.freshFrom = end - extra
	}
	a.decay.inFlight += extra
	return detachedEnd{brk: r.isBrk, base: r.base, addr: end - extra, n: extra}
}

func (h *Heap) decayEvent(k EventKind, arena int, addr, size uintptr) {
	if h.onEvent != nil {
		h.onEvent(Event{Kind: k, Arena: arena, Addr: addr, Size: size, Decay: true})
	}
}

// keptMaps holds the mappings of freed mapped chunks kept for decay, oldest
// first, in a fixed array: keeping and reusing allocate nothing.
type keptMaps struct {
	// count first: sysmalloc reads it on every growth, and at the front
	// it shares the Heap's first page with the fields read beside it
	// (after the list it was a page of its own, faulted in by the first
	// Malloc of a process).
	count atomic.Int32 // n, for a lock-free look
	mu    sync.Mutex
	n     int
	bytes atomic.Int64 // their bytes

	reused atomic.Uint64 // mappings reused, cumulative
	purged atomic.Uint64 // mappings unmapped (decay, Trim or the bound), cumulative
	list   [keptMax]keptMap
}

type keptMap struct {
	base, size uintptr
	at         int64 // nanotime kept
}

// keptFit reports whether a kept mapping of size bytes serves a request
// for need bytes without much waste: at most a quarter of need to spare.
func keptFit(size, need uintptr) bool { return size >= need && size-need <= need/4 }

// keptLimit is the bound on the bytes of kept mappings: what the program
// uses, its live mapped chunks and its heaps, and at least keptMinBytes.
func (h *Heap) keptLimit() uintptr {
	return max(keptMinBytes, uintptr(h.mapped.bytes.Load()+h.heapSys.Load()))
}

// keep keeps the mapping [base, base+size) of a freed mapped chunk, unless
// it is larger than the bound allows. A tagged header at base (size, M)
// lets Check verify it. Mappings pushed out by the bound are unmapped.
func (k *keptMaps) keep(h *Heap, base, size uintptr) bool {
	limit := h.keptLimit()
	if size > limit {
		return false
	}
	setPrevSize(base, 0)
	h.setHead(base, size, flagM)
	now := nanotime()
	var out [keptMax]keptMap
	nOut := 0
	k.mu.Lock()
	for k.n == keptMax || uintptr(k.bytes.Load())+size > limit {
		out[nOut] = k.removeLocked(0)
		nOut++
	}
	k.list[k.n] = keptMap{base: base, size: size, at: now}
	k.n++
	k.count.Store(int32(k.n))
	k.bytes.Add(int64(size))
	k.mu.Unlock()
	for _, e := range out[:nOut] {
		h.purge(e, false)
	}
	h.kickDecay(now + h.decayNs.Load())
	return true
}

// removeLocked takes entry i out of the list.
func (k *keptMaps) removeLocked(i int) keptMap {
	e := k.list[i]
	copy(k.list[i:k.n], k.list[i+1:k.n])
	k.n--
	k.list[k.n] = keptMap{}
	k.count.Store(int32(k.n))
	k.bytes.Add(-int64(e.size))
	return e
}

// take returns the smallest kept mapping that fits a mapping of need bytes
// (keptFit), taken out of the list, or 0.
func (k *keptMaps) take(h *Heap, need uintptr) (base, size uintptr) {
	if k.count.Load() == 0 {
		return 0, 0
	}
	k.mu.Lock()
	best := -1
	for i := 0; i < k.n; i++ {
		if s := k.list[i].size; keptFit(s, need) && (best < 0 || s < k.list[best].size) {
			best = i
		}
	}
	if best < 0 {
		k.mu.Unlock()
		return 0, 0
	}
	e := k.removeLocked(best)
	k.mu.Unlock()
	if !h.validHead(e.base) || chunkSize(e.base) != e.size || !isMmapped(e.base) {
		// Written after it was freed: give it back rather than reuse it.
		h.purge(e, false)
		return 0, 0
	}
	k.reused.Add(1)
	return e.base, e.size
}

// purge unmaps kept mapping e.
func (h *Heap) purge(e keptMap, decayed bool) {
	h.mem.Unmap(e.base, e.size)
	h.kept.purged.Add(1)
	if h.onEvent != nil {
		h.onEvent(Event{Kind: EventPurge, Arena: -1, Addr: e.base, Size: e.size, Decay: decayed})
	}
}

// releaseDecayed unmaps the kept mappings that have stayed unused for
// decay, and returns when the oldest left may go (0: none left).
func (k *keptMaps) releaseDecayed(h *Heap, now, decay int64) int64 {
	for {
		k.mu.Lock()
		if k.n == 0 {
			k.mu.Unlock()
			return 0
		}
		if e := k.list[0]; now-e.at < decay {
			k.mu.Unlock()
			return e.at + decay
		}
		e := k.removeLocked(0)
		k.mu.Unlock()
		h.purge(e, true)
		h.decay.calls.Add(1)
		h.decay.released.Add(uint64(e.size))
		h.decay.last.Store(time.Now().UnixNano())
	}
}

// purgeAll unmaps every kept mapping (Trim) and reports whether there was
// any.
func (k *keptMaps) purgeAll(h *Heap) bool {
	any := false
	for {
		k.mu.Lock()
		if k.n == 0 {
			k.mu.Unlock()
			return any
		}
		e := k.removeLocked(k.n - 1)
		k.mu.Unlock()
		h.purge(e, false)
		any = true
	}
}

// DecayInfo describes what decay keeps and what it gave back.
type DecayInfo struct {
	Decay        time.Duration // Params.Decay
	KeptMapped   uintptr       // bytes of the kept mappings of freed mapped chunks
	KeptMappings int           // how many
	Reused       uint64        // kept mappings that served a request, cumulative
	Purged       uint64        // kept mappings unmapped (by decay, Trim or the bound), cumulative
	Released     uint64        // bytes the releaser gave back, cumulative
	Calls        uint64        // system calls the releaser made, cumulative
	Passes       uint64        // passes of the releaser, cumulative
	LastRelease  time.Time     // when the releaser last gave something back; zero if never
	NextPass     time.Time     // when the releaser runs next; zero when nothing is kept
}

// DecayInfo returns what decay keeps and what it gave back. The kept part
// of each arena is in its Info (Kept).
func (h *Heap) DecayInfo() DecayInfo {
	k := &h.kept
	k.mu.Lock()
	in := DecayInfo{KeptMapped: uintptr(k.bytes.Load()), KeptMappings: k.n}
	k.mu.Unlock()
	d := &h.decay
	in.Decay = time.Duration(h.decayNs.Load())
	in.Reused, in.Purged = k.reused.Load(), k.purged.Load()
	in.Released, in.Calls, in.Passes = d.released.Load(), d.calls.Load(), d.passes.Load()
	if t := d.last.Load(); t != 0 {
		in.LastRelease = time.Unix(0, t)
	}
	d.mu.Lock()
	if d.armedAt != 0 {
		in.NextPass = time.Now().Add(time.Duration(d.armedAt - nanotime()))
	}
	d.mu.Unlock()
	return in
}

// EachKept calls f with every kept mapping (start and size), under the
// lock of the kept list: f must not call into the heap.
func (h *Heap) EachKept(f func(start, size uintptr)) {
	k := &h.kept
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range k.list[:k.n] {
		f(e.base, e.size)
	}
}

// keptBytes is the part of the arena's free memory that decay keeps and
// glibc's policy would have given back by now: the top beyond top_pad when
// it exceeds the trim threshold, and a free heap at the end.
func (a *Arena) keptBytes() uintptr {
	h := a.h
	if h.decayNs.Load() == 0 || len(a.regions) == 0 {
		return 0
	}
	if r := a.cur(); !r.isBrk && len(a.regions) > 1 && a.top == r.start {
		return heapEnd(r.base) - r.base
	}
	if chunkSize(a.top) > h.trimThreshold.Load() {
		return a.topExtra(h.topPad.Load()) // 0 when less than a page (huge page) would go
	}
	return 0
}
