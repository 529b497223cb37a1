package arena

import "fmt"

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
