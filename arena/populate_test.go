package arena_test

import (
	"sync"
	"testing"

	"github.com/offheap/offheap/arena"
)

// populatePlain is a plainMemory that records Populate's ranges.
type populatePlain struct {
	*plainMemory
	mu  sync.Mutex
	got [][2]uintptr
}

func (pp *populatePlain) Populate(addr, n uintptr) error {
	pp.mu.Lock()
	pp.got = append(pp.got, [2]uintptr{addr, n})
	pp.mu.Unlock()
	return nil
}

func (pp *populatePlain) ranges() [][2]uintptr {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return append([][2]uintptr(nil), pp.got...)
}

// With Populate, an arena's growth is populated once the arena holds
// 1 MiB: page-aligned, past the request that caused it, top_pad at most,
// inside the new top; never a small arena's, never with the parameter off
// or with huge pages, never once the Heap has a second arena; on the break
// and on a heap alike.
func TestPopulate(t *testing.T) {
	for _, c := range []struct {
		name             string
		populate, onHeap bool
		hugePage         uintptr
		arenas           int
	}{
		{"break", true, false, 0, 1},
		{"heap", true, true, 0, 1},
		{"off", false, false, 0, 1},
		{"huge pages", true, false, hugePage, 1},
		{"two arenas", true, false, 0, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			pm := newPlainMemory(t, 1<<30)
			mem := &populatePlain{plainMemory: pm}
			p := arena.DefaultParams()
			p.Populate, p.HugePage = c.populate, c.hugePage
			p.MmapThreshold, p.DynamicThreshold = 1<<20, false
			cfg := arena.Config{Memory: mem, Params: p}
			if !c.onHeap {
				cfg.Break = pm
			}
			h, err := arena.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.StopDecay)
			if c.arenas == 2 {
				if _, err := h.NewArenaUpTo(2); err != nil {
					t.Fatal(err)
				}
			}
			a := h.Arena(0)
			var bs []uintptr
			for range 400 { // 400 KiB: grows the top a few times, below 1 MiB
				bs = append(bs, a.Malloc(1000))
			}
			if got := mem.ranges(); len(got) != 0 {
				t.Fatalf("an arena of 400 KiB populated %v", got)
			}
			for range 3000 { // 3 MiB of 1000-byte blocks: the top grows many times
				bs = append(bs, a.Malloc(1000))
			}
			big := a.Malloc(512 << 10) // a request larger than top_pad
			got := mem.ranges()
			if !c.populate || c.hugePage != 0 || c.arenas > 1 {
				if len(got) != 0 {
					t.Fatalf("populated %v", got)
				}
				return
			}
			if len(got) == 0 {
				t.Fatal("3 MiB of growth and nothing populated")
			}
			for _, r := range got {
				if r[0]%pageSize != 0 || r[1]%pageSize != 0 || r[1] == 0 || r[1] > p.TopPad {
					t.Errorf("populated [%#x, +%d): want whole pages, at most top_pad (%d)", r[0], r[1], p.TopPad)
				}
			}
			// The last growth was for big: its pages are the program's.
			last := got[len(got)-1]
			if last[0] < big+512<<10 {
				t.Errorf("populated [%#x, +%d) overlaps the 512 KiB block at %#x", last[0], last[1], big)
			}
			top, topSize := a.Top()
			if last[0] < top || last[0]+last[1] > top+topSize {
				t.Errorf("populated [%#x, +%d) outside the top [%#x, +%d)", last[0], last[1], top, topSize)
			}
			for _, b := range append(bs, big) {
				h.Free(b)
			}
			mustCheck(t, h)
		})
	}
}
