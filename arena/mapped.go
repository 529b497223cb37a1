package arena

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Mapped chunks: a request of at least the mmap threshold, when the top
// cannot serve it and fewer than MmapMax mappings are live, gets a mapping
// of its own, ALIGN_UP(nb + 8, page) bytes, with the M bit set and
// prev_size holding the offset of the chunk from the mapping's start (non
// zero only for aligned allocations). Freeing it unmaps it; when the
// dynamic threshold is on, freeing one larger than the threshold (and at
// most MaxDynamicThreshold) raises the mmap threshold to its size and the
// trim threshold to twice that.
//
// With Params.Decay and KeepMapped, freeing a mapped chunk keeps its
// mapping instead (keptMaps, decay.go), to serve a later request it fits
// without much waste; the decay releaser unmaps what stays unused. With
// Params.HugePage, a chunk of at least a huge page is mapped in whole huge
// pages, aligned to one, and advised for (or taken from) huge pages.
//
// Every mapped chunk is in mappedSet, an open-addressing hash set kept in
// off-heap memory, so that Free can tell a mapped chunk from a pointer that
// offheap never returned before it reads any header.

type mappedSet struct {
	mu    sync.Mutex
	mem   Memory
	table uintptr // slots of one word: 0 empty, 1 deleted, else a chunk address
	slots uintptr // power of two
	used  uintptr // live + deleted
	live  atomic.Int64
	bytes atomic.Int64
	peak  atomic.Int64 // peak bytes
}

func (s *mappedSet) init(m Memory) { s.mem = m }

func hashAddr(c uintptr) uintptr { return (c >> 4) * 0x9E3779B97F4A7C15 }

func (s *mappedSet) slot(i uintptr) *uintptr {
	return (*uintptr)(unsafe.Add(nil, s.table+i*8))
}

func (s *mappedSet) find(c uintptr) (uintptr, bool) {
	if s.slots == 0 {
		return 0, false
	}
	mask := s.slots - 1
	for i := hashAddr(c) & mask; ; i = (i + 1) & mask {
		v := *s.slot(i)
		if v == c {
			return i, true
		}
		if v == 0 {
			return i, false
		}
	}
}

func (s *mappedSet) contains(c uintptr) bool {
	s.mu.Lock()
	_, ok := s.find(c)
	s.mu.Unlock()
	return ok
}

// add records chunk c of mapping size n. It fails only when the table
// cannot grow.
func (s *mappedSet) add(c, n uintptr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if (s.used+1)*2 > s.slots {
		if err := s.grow(); err != nil {
			return err
		}
	}
	i, ok := s.find(c)
	if !ok {
		*s.slot(i) = c
		s.used++
	}
	s.live.Add(1)
	b := s.bytes.Add(int64(n))
	if b > s.peak.Load() {
		s.peak.Store(b)
	}
	return nil
}

// move records that a mapped chunk moved from c to nc and its mapping
// changed from oldN to newN bytes.
func (s *mappedSet) move(c, nc, oldN, newN uintptr) {
	s.mu.Lock()
	s.moveLocked(c, nc, oldN, newN)
	s.mu.Unlock()
}

func (s *mappedSet) moveLocked(c, nc, oldN, newN uintptr) {
	if i, ok := s.find(c); ok && c != nc {
		*s.slot(i) = 1
		if (s.used+1)*2 > s.slots {
			s.grow() // drops the tombstones; on failure the table still has room
		}
		if j, found := s.find(nc); !found {
			*s.slot(j) = nc
			s.used++
		}
	}
	b := s.bytes.Add(int64(newN) - int64(oldN))
	if b > s.peak.Load() {
		s.peak.Store(b)
	}
}

func (s *mappedSet) grow() error {
	n := s.slots * 2
	if live := uintptr(s.live.Load()); n < 4*(live+1) {
		n = 4 * (live + 1)
	}
	if n < 512 {
		n = 512
	}
	for n&(n-1) != 0 {
		n++
	}
	t, err := s.mem.Map(roundUp(n*8, s.mem.PageSize()))
	if err != nil {
		return err
	}
	old, oldSlots := s.table, s.slots
	s.table, s.slots, s.used = t, n, 0
	for i := uintptr(0); i < oldSlots; i++ {
		v := *(*uintptr)(unsafe.Add(nil, old+i*8))
		if v > 1 {
			j, _ := s.find(v)
			*s.slot(j) = v
			s.used++
		}
	}
	if old != 0 {
		s.mem.Unmap(old, roundUp(oldSlots*8, s.mem.PageSize()))
	}
	return nil
}

// each calls f for every mapped chunk, under the set's lock.
func (s *mappedSet) each(f func(c uintptr)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := uintptr(0); i < s.slots; i++ {
		if v := *s.slot(i); v > 1 {
			f(v)
		}
	}
}

// release gives back the table's memory (Destroy): the set is empty after.
func (s *mappedSet) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.table != 0 {
		s.mem.Unmap(s.table, roundUp(s.slots*8, s.mem.PageSize()))
	}
	s.table, s.slots, s.used = 0, 0, 0
	s.live.Store(0)
	s.bytes.Store(0)
}

func roundUp(n, a uintptr) uintptr { return (n + a - 1) &^ (a - 1) }

// mapChunk maps a chunk for nb bytes (a chunk size). alignment, when more
// than 16, places the chunk so that its user memory is aligned to it. It
// returns 0 when the mapping fails; kept says the chunk is a kept mapping
// reused (decay), whose memory holds old data.
func (h *Heap) mapChunk(nb, alignment uintptr) (c uintptr, kept bool) {
	return h.mapChunkFrom(nb, alignment, false)
}

// reuseKept makes a mapped chunk for nb bytes out of a kept mapping that
// fits, and returns 0 if none does: it maps nothing.
func (h *Heap) reuseKept(nb uintptr) uintptr {
	c, _ := h.mapChunkFrom(nb, 0, true)
	return c
}

// mapChunkFrom is mapChunk; keptOnly takes the memory from a kept mapping
// or fails.
func (h *Heap) mapChunkFrom(nb, alignment uintptr, keptOnly bool) (c uintptr, kept bool) {
	extra := uintptr(0)
	if alignment > align {
		extra = alignment
	}
	size := roundUp(nb+sizeSz+extra, h.pageSize)
	if size < nb || size > maxSize {
		return 0, false
	}
	hm, huge := h.mem.(HugeMemory)
	hp := h.hugePage.Load()
	huge = huge && hp != 0 && size >= hp
	if huge {
		if size = roundUp(size, hp); size > maxSize {
			return 0, false
		}
	}
	m, got := h.kept.take(h, size)
	kept = m != 0
	if !kept && keptOnly {
		return 0, false
	}
	if !kept {
		var err error
		if huge {
			m, err = hm.MapHuge(size)
		} else {
			m, err = h.mem.Map(size)
		}
		if err != nil {
			return 0, false
		}
		got = size
	}
	size = got
	off := uintptr(0)
	if extra != 0 {
		mem := roundUp(m+hdrSz, alignment)
		off = mem - hdrSz - m
	}
	c = m + off
	setPrevSize(c, off)
	h.setHead(c, size-off, flagM)
	if err := h.mapped.add(c, size); err != nil {
		h.mem.Unmap(m, size)
		return 0, false
	}
	if kept {
		h.event(EventReuse, -1, m, size)
	} else {
		h.event(EventMap, -1, m, size)
	}
	return c, kept
}

// unmapChunk frees mapped chunk c, applying the dynamic threshold; it
// panics if c is not a live mapped chunk.
func (h *Heap) unmapChunk(c uintptr) {
	if err := h.FreeMapped(Mem(c)); err != nil {
		panic(err)
	}
}

// FreeMapped frees the mapped chunk of user pointer p, applying the dynamic
// threshold, or returns "munmap_chunk(): invalid pointer" without changing
// anything if p is not a live mapped chunk. The header is read and the chunk
// taken out of the set under the set's lock, so that of two goroutines
// freeing p at once exactly one unmaps it and the other gets the error,
// without reading memory that is already unmapped.
func (h *Heap) FreeMapped(p uintptr) *CorruptionError {
	c := ChunkOf(p)
	s := &h.mapped
	s.mu.Lock()
	i, ok := s.find(c)
	if !ok {
		s.mu.Unlock()
		return &CorruptionError{Op: "munmap_chunk(): invalid pointer", Addr: p}
	}
	off := prevSize(c)
	size := chunkSize(c)
	total := off + size
	if !h.validHead(c) || !isMmapped(c) || (c-off)&(h.pageSize-1) != 0 || total&(h.pageSize-1) != 0 {
		s.mu.Unlock()
		return &CorruptionError{Op: "munmap_chunk(): invalid pointer", Addr: p}
	}
	*s.slot(i) = 1
	s.live.Add(-1)
	s.bytes.Add(-int64(total))
	s.mu.Unlock()
	if h.dynamic.Load() && size > h.mmapThreshold.Load() && size <= MaxDynamicThreshold {
		if h.decayNs.Load() > 0 {
			// With decay, straight to the largest threshold: the heap,
			// whose free chunks coalesce and stay, serves sizes it has
			// seen better than kept mappings that fit only their own size.
			size = MaxDynamicThreshold
		}
		h.mmapThreshold.Store(size)
		h.trimThreshold.Store(2 * size)
		h.setBorderReach()
		h.event(EventThreshold, -1, 0, size)
	}
	if h.keepMapped.Load() && h.decayNs.Load() > 0 && h.kept.keep(h, c-off, total) {
		h.event(EventKeep, -1, c-off, total)
		return nil
	}
	h.mem.Unmap(c-off, total)
	h.event(EventUnmap, -1, c-off, total)
	return nil
}

// remapChunk resizes mapped chunk c to hold nb bytes; 0 if it cannot.
func (h *Heap) remapChunk(c, nb uintptr) uintptr {
	off := prevSize(c)
	size := chunkSize(c)
	newTotal := roundUp(off+nb+sizeSz, h.pageSize)
	if newTotal < nb || newTotal > maxSize {
		return 0
	}
	if newTotal == off+size {
		return c
	}
	// The set stays locked across mremap: once the old range is released,
	// another thread's mmap may return that address and add it to the set,
	// which must not happen before the old entry is gone.
	h.mapped.mu.Lock()
	m, err := h.mem.Remap(c-off, off+size, newTotal)
	if err != nil {
		h.mapped.mu.Unlock()
		return 0
	}
	nc := m + off
	h.mapped.moveLocked(c, nc, off+size, newTotal)
	h.mapped.mu.Unlock()
	h.setHead(nc, newTotal-off, flagM)
	h.event(EventRemap, -1, m, newTotal)
	return nc
}
