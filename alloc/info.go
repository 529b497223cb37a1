package alloc

import "github.com/offheap/offheap/arena"

// Mallinfo is glibc's struct mallinfo2: figures in bytes (counts where
// named), summed over every arena.
type Mallinfo struct {
	Arena    int // bytes obtained from the OS for the heaps (break and heaps), mapped chunks excluded
	Ordblks  int // free chunks in the bins, the top of each arena included
	Smblks   int // free chunks in fastbins
	Hblks    int // mapped chunks
	Hblkhd   int // bytes of mapped chunks
	Usmblks  int // always 0, as in glibc
	Fsmblks  int // bytes in fastbins
	Uordblks int // bytes in use: Arena - Fordblks (chunks in the per-P caches count as in use, as glibc counts its tcache)
	Fordblks int // free bytes, tops included
	Keepcost int // size of the main arena's top: what Trim(0) could release at most from the break
}

// Mallinfo2 returns glibc's mallinfo2 figures. Uordblks + Fordblks ==
// Arena always holds.
func Mallinfo2() Mallinfo { return mallinfoOf(theHeap()) }

// mallinfoOf is Mallinfo2 for heap h.
func mallinfoOf(h *arena.Heap) Mallinfo {
	var m Mallinfo
	for i := 0; i < h.NumArenas(); i++ {
		in := h.Arena(i).Info(false)
		m.Arena += int(in.System)
		m.Ordblks += in.FreeChunks
		m.Smblks += in.FastChunks
		m.Fsmblks += int(in.FastBytes)
		m.Fordblks += int(in.Free)
		if i == 0 {
			m.Keepcost = int(in.Top)
		}
	}
	m.Uordblks = m.Arena - m.Fordblks
	n, bytes, _ := h.MappedInfo()
	m.Hblks, m.Hblkhd = n, int(bytes)
	return m
}

// Trim is glibc's malloc_trim: it empties the per-P caches, gives the
// whole free pages inside every arena back to the OS (MADV_DONTNEED) and
// shrinks each arena's top to pad bytes, the arenas of the live private
// heaps included (their caches stay as they are); and it gives back the
// heaps that heap_cache keeps for new private heaps. It reports whether
// any memory was released.
func Trim(pad int) bool {
	if pad < 0 {
		pad = 0
	}
	h := theHeap()
	flushAll()
	released := h.Trim(uintptr(pad))
	forEachHeap(func(ph *Heap) {
		if ph.ah != nil && ph.ah.Trim(uintptr(pad)) {
			released = true
		}
	})
	if heapPool != nil && heapPool.Release() {
		released = true
	}
	return released
}

// Check walks every arena, every mapped chunk and every per-P cache and
// returns an error naming the first broken invariant, or nil. It empties
// the caches (after checking what they hold). It costs time in proportion
// to the heap: for tests and debugging.
func Check() error {
	// checkAll keeps every cache slot empty during the walk, so the walk
	// stays exact while other goroutines allocate and free.
	return checkAll()
}
