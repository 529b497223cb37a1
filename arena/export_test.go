package arena

import (
	"fmt"
	"time"
)

// Dump prints the chunks of arena a's regions between lo and hi (debugging aid).
func (a *Arena) Dump(lo, hi uintptr) string {
	s := ""
	for _, r := range a.regions {
		p := r.start
		var end uintptr
		if r.isBrk {
			end = a.h.brkEnd.Load()
		} else {
			end = heapEnd(r.base)
		}
		for p < end && p < hi {
			size := chunkSize(p)
			if p >= lo {
				s += fmt.Sprintf("%#x size %d flags %x prevsize %d top=%v\n", p, size, head(p)&flagMask, prevSize(p), p == a.top)
			}
			if size == 0 {
				break
			}
			p += size
		}
	}
	return s
}

// DecayPass runs one pass of the decay releaser as if it were later by
// after, and returns how long until the next pass is due (-1: none).
func (h *Heap) DecayPass(after time.Duration) time.Duration {
	now := nanotime()
	next := h.releaseDecayed(now + int64(after))
	if next == 0 {
		return -1
	}
	return time.Duration(next - now)
}

// DecayPending reports whether the arena has something decay keeps.
func (a *Arena) DecayPending() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.decay.pending
}

// RegionStart returns where the chunks of the arena's first region begin.
func (a *Arena) RegionStart() uintptr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.regions[0].start
}

// Top returns the arena's top chunk and its size.
func (a *Arena) Top() (uintptr, uintptr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.top, chunkSize(a.top)
}

// StopDecay stops the decay releaser for good and waits for a pass in
// progress, before the test's memory goes.
func (h *Heap) StopDecay() { h.stopDecay() }

// RegionEndOf is heapRegionEnd: the end of the break region or heap (its
// header left out) that holds c, or 0; FastRegion's reference in tests.
func (h *Heap) RegionEndOf(c uintptr) uintptr { return h.heapRegionEnd(c) }
