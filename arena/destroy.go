package arena

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// Destroying a Heap, and the pool of heaps that destroyed Heaps leave for
// new ones.
//
// A Heap with no Break (a private heap of package alloc) can be destroyed
// whole: Destroy gives back every heap of every arena, every mapped chunk
// and every kept mapping, without looking at a single chunk, so that it
// costs time in proportion to the mappings, not to the blocks. Its granule
// table entries are cleared first: from then on no pointer into its memory
// passes for one of its chunks, nor for another Heap's, until the address
// is handed out again.
//
// A HeapPool, shared by the Heaps that name it in their Config, keeps heaps
// (64 MiB reservations with their committed pages, contents and all) of
// destroyed Heaps up to a budget of committed bytes, for the next arenas
// that need a heap: a loop of short-lived Heaps then does not map, commit
// and fault its pages in again every time.

// HeapPool keeps the heaps of destroyed Heaps for reuse. Its zero value
// keeps nothing; SetMax sets the budget.
type HeapPool struct {
	mem   Memory
	mu    sync.Mutex
	heaps []pooledHeap
	bytes uintptr // committed bytes of the heaps kept
	max   atomic.Uintptr

	reused, dropped atomic.Uint64
}

type pooledHeap struct {
	base, end uintptr // the reservation and its committed end
}

// NewHeapPool returns a pool that keeps up to max committed bytes of
// heaps, unmapping the rest through m.
func NewHeapPool(m Memory, max uintptr) *HeapPool {
	p := &HeapPool{mem: m}
	p.max.Store(max)
	return p
}

// SetMax changes the budget, giving back at once what is now over it.
func (p *HeapPool) SetMax(max uintptr) {
	p.max.Store(max)
	p.shrink(max)
}

// Max returns the budget.
func (p *HeapPool) Max() uintptr { return p.max.Load() }

// Bytes returns the committed bytes the pool holds and how many heaps.
func (p *HeapPool) Bytes() (bytes uintptr, heaps int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes, len(p.heaps)
}

// Counts returns how many heaps the pool handed out again and how many it
// gave back to the system (over budget, or Release), cumulative.
func (p *HeapPool) Counts() (reused, dropped uint64) {
	return p.reused.Load(), p.dropped.Load()
}

// Release gives every heap the pool holds back to the system.
func (p *HeapPool) Release() bool {
	_, n := p.Bytes()
	p.shrink(0)
	return n > 0
}

// shrink unmaps heaps until the pool holds at most max bytes (the oldest
// first), without holding the pool's lock during the system calls.
func (p *HeapPool) shrink(max uintptr) {
	for {
		p.mu.Lock()
		if p.bytes <= max || len(p.heaps) == 0 {
			p.mu.Unlock()
			return
		}
		e := p.heaps[0]
		p.heaps = p.heaps[1:]
		p.bytes -= e.end - e.base
		// Counted with the heap's removal, so that no reader of Bytes
		// and Counts sees a heap gone from the pool and not yet counted.
		p.dropped.Add(1)
		p.mu.Unlock()
		p.mem.Unmap(e.base, HeapSize)
	}
}

// put keeps the heap at base, committed to end, if the budget allows, and
// reports whether it did.
func (p *HeapPool) put(base, end uintptr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := end - base; p.bytes+n <= p.max.Load() {
		p.heaps = append(p.heaps, pooledHeap{base, end})
		p.bytes += n
		return true
	}
	return false
}

// take hands out the most recently kept heap (its pages the likeliest to be
// resident still), or false.
func (p *HeapPool) take() (pooledHeap, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.heaps)
	if n == 0 {
		return pooledHeap{}, false
	}
	e := p.heaps[n-1]
	p.heaps = p.heaps[:n-1]
	p.bytes -= e.end - e.base
	p.reused.Add(1)
	return e, true
}

// ID returns the Heap's number, unique in the process while it lives
// (OwnerID returns it for a pointer into one of its heaps).
func (h *Heap) ID() uint32 { return h.id }

// OwnerID returns the ID of the Heap whose heap (not the break region, not
// a mapped chunk) holds user pointer p, or 0. It reads only the granule
// table, so any address may be asked about.
func OwnerID(p uintptr) uint32 {
	if g := (p - hdrSz) >> granuleShift; g < granules {
		return atomic.LoadUint32(&granuleTable[g]) >> arenaBits
	}
	return 0
}

// ErrDestroyBreak is Destroy's error for a Heap on the program break.
var ErrDestroyBreak = errors.New("arena: a Heap on the program break cannot be destroyed")

// Destroy gives every heap of every arena (to h's pool, within its budget,
// or back to the system), every mapped chunk, every kept mapping and the
// arenas' bin heads back at once, without a look at the chunks. h must not
// be used again, and no other goroutine may be using it; its ID goes to a
// later Heap (see heapIDs). A Heap with a Break cannot be destroyed.
func (h *Heap) Destroy() error {
	if h.brk != nil {
		return ErrDestroyBreak
	}
	h.stopDecay()
	for i := 0; i < h.NumArenas(); i++ {
		a := h.Arena(i)
		a.mu.Lock()
		regions := a.regions
		a.regions = nil
		a.top = 0
		a.system = 0
		a.mu.Unlock()
		// First out of the granule table, every one of them: from here on
		// no pointer into them is h's.
		for _, r := range regions {
			atomic.StoreUint32(h.granuleSlot(r.base), 0)
		}
		for _, r := range regions {
			end := heapEnd(r.base)
			h.event(EventShrink, a.index, r.base, end-r.base)
			if h.pool != nil && h.pool.put(r.base, end) {
				continue
			}
			h.mem.Unmap(r.base, HeapSize)
		}
		if a.binStatic {
			putBinPage(a.binPage)
		} else {
			h.mem.Unmap(a.binPage, h.pageSize)
		}
		a.binPage = 0
	}
	var maps []mapRange
	h.mapped.each(func(c uintptr) {
		off := prevSize(c)
		maps = append(maps, mapRange{c - off, off + chunkSize(c), 1})
	})
	for _, m := range maps {
		h.event(EventUnmap, -1, m.addr, m.n)
	}
	h.unmapAll(maps)
	h.mapped.release()
	h.kept.purgeAll(h)
	freeHeapID(h.id) // nothing of h's is left to be taken for the next Heap's
	return nil
}

// mapRange is count whole mappings from Memory.Map, side by side, from
// addr for n bytes.
type mapRange struct {
	addr, n uintptr
	count   int
}

// RangeUnmapper is a Memory that can give back, in one call, count whole
// mappings from Map that lie side by side from addr for n bytes. Destroy
// uses it where it can: the system places fresh mappings next to each
// other, so the mapped chunks of a heap most often form a few runs, and a
// call per run instead of one per chunk spares the kernel most of its work
// (a heap of 1,000 mapped chunks of 500 KiB: 26 ms in 1,000 calls).
type RangeUnmapper interface {
	UnmapRange(addr, n uintptr, count int) error
}

// unmapAll gives back the mappings of ms, in runs of neighbours through a
// RangeUnmapper when the Memory is one, one by one otherwise.
func (h *Heap) unmapAll(ms []mapRange) {
	ru, ok := h.mem.(RangeUnmapper)
	if !ok {
		for _, m := range ms {
			h.mem.Unmap(m.addr, m.n)
		}
		return
	}
	slices.SortFunc(ms, func(a, b mapRange) int { return cmp.Compare(a.addr, b.addr) })
	for i := 0; i < len(ms); {
		run := ms[i]
		j := i + 1
		for ; j < len(ms) && ms[j].addr == run.addr+run.n; j++ {
			run.n += ms[j].n
			run.count++
		}
		ru.UnmapRange(run.addr, run.n, run.count)
		i = j
	}
}
