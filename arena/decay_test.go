package arena_test

import (
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// The decay tests run the releaser's passes by hand (DecayPass, as if at a
// later time) with a decay long enough that its timer never fires during
// the test, except TestDecayTimer, which lets the timer do the work.

const longDecay = time.Hour

func decayParams() arena.Params {
	p := arena.DefaultParams()
	p.Decay = longDecay
	p.KeepMapped = true
	return p
}

// events records a heap's events.
type events struct {
	mu  sync.Mutex
	all []arena.Event
}

func (e *events) add(ev arena.Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

func (e *events) count(k arena.EventKind, decay bool) (n int, bytes uintptr) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.all {
		if ev.Kind == k && ev.Decay == decay {
			n++
			bytes += ev.Size
		}
	}
	return n, bytes
}

func newDecayHeap(t *testing.T, brkLimit uintptr, p arena.Params, mem arena.Memory, m *plainMemory) (*arena.Heap, *events) {
	t.Helper()
	ev := &events{}
	h, err := arena.New(arena.Config{Memory: mem, Break: m, Params: p, OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.StopDecay) // before the memory goes
	return h, ev
}

// The top above the trim threshold stays after a free; a pass once the
// decay has passed gives it back to top_pad, as glibc's trim would have at
// once, and says so in its events.
func TestDecayTop(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	h, ev := newDecayHeap(t, 1<<30, decayParams(), m, m)
	a := h.Arena(0)
	brk0 := m.Current()
	big := make([]uintptr, 0, 64) // below the mmap threshold: from the break
	for range 64 {
		big = append(big, a.Malloc(100<<10))
	}
	grown := m.Current()
	if grown <= brk0 {
		t.Fatalf("the break did not grow: %#x", grown)
	}
	for _, b := range big {
		h.Free(b)
	}
	mustCheck(t, h)
	check(t, "break after freeing everything (kept)", grown, m.Current())
	in := a.Info(false)
	if in.Kept == 0 || in.Kept > in.Top {
		t.Errorf("Info.Kept = %d with a top of %d", in.Kept, in.Top)
	}
	check(t, "pending", true, a.DecayPending())

	// Not yet: the decay has not passed.
	if next := h.DecayPass(0); next <= 0 || next > longDecay {
		t.Errorf("next pass in %v", next)
	}
	check(t, "break before the decay", grown, m.Current())
	// The window began at the first free, when the blocks still held the
	// top's memory: none of it has been free for a whole window yet.
	h.DecayPass(longDecay + time.Second)
	check(t, "break after the first window", grown, m.Current())

	h.DecayPass(2*longDecay + 2*time.Second)
	mustCheck(t, h)
	_, top := a.Top()
	if top > 128<<10+4096+arena.MinSize || m.Current() >= grown {
		t.Errorf("after the decay: top %d, break %#x (grown to %#x)", top, m.Current(), grown)
	}
	check(t, "kept after the decay", uintptr(0), a.Info(false).Kept)
	n, bytes := ev.count(arena.EventShrink, true)
	check(t, "decay shrink events", 1, n)
	check(t, "bytes given back", grown-m.Current(), bytes)
	d := h.DecayInfo()
	check(t, "DecayInfo.Released", uint64(bytes), d.Released)
	if d.LastRelease.IsZero() || d.Calls != 1 {
		t.Errorf("DecayInfo %+v", d)
	}
	check(t, "pending after the release", false, a.DecayPending())
	check(t, "nothing more to do", time.Duration(-1), h.DecayPass(3*longDecay))
}

// A top that the program keeps using is not given back: only what stayed
// unused for the whole window goes.
func TestDecayTopInUse(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.MmapThreshold, p.DynamicThreshold = 64<<20, false
	h, _ := newDecayHeap(t, 1<<30, p, m, m)
	a := h.Arena(0)
	cycle := func() {
		b := a.Malloc(8 << 20)
		h.Free(b)
	}
	cycle()
	grown := m.Current()
	check(t, "pending", true, a.DecayPending())
	// Used again within the window: the low-water mark falls to the pad.
	cycle()
	h.DecayPass(longDecay + time.Second)
	check(t, "break after a pass over a window of use", grown, m.Current())
	check(t, "still pending", true, a.DecayPending())
	// A window without use: it goes.
	h.DecayPass(2*longDecay + 2*time.Second)
	if m.Current() >= grown {
		t.Errorf("break %#x not below %#x after an idle window", m.Current(), grown)
	}
	mustCheck(t, h)
}

// Free pages inside a heap go once the chunk has been free, at the same
// place and size, across a whole window; their contents read as zero, and
// the chunk is reused as usual.
func TestDecayFreePagesInside(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.MmapThreshold, p.DynamicThreshold = 64<<20, false
	h, ev := newDecayHeap(t, 1<<30, p, m, m)
	a := h.Arena(0)
	x := a.Malloc(1 << 20)
	g := a.Malloc(16) // keeps x from merging into the top
	s := unsafe.Slice((*byte)(unsafe.Add(nil, x)), 1<<20)
	for i := range s {
		s[i] = 0xAA
	}
	h.Free(x)
	check(t, "pending", true, a.DecayPending())
	h.DecayPass(longDecay + time.Second) // first sight of the free chunk
	check(t, "released at the first pass", 0, m.Calls("release"))
	h.DecayPass(2*longDecay + 2*time.Second)
	check(t, "released at the second pass", 1, m.Calls("release"))
	n, bytes := ev.count(arena.EventRelease, true)
	if n != 1 || bytes < 1<<20-2*pageSize {
		t.Errorf("release events %d, %d bytes", n, bytes)
	}
	mustCheck(t, h)
	if s[1<<19] != 0 {
		t.Errorf("a released page still holds %#x", s[1<<19])
	}
	// Released once: a later pass does not release it again, and, nothing
	// else being kept, the releaser goes idle.
	check(t, "next", time.Duration(-1), h.DecayPass(3*longDecay+3*time.Second))
	check(t, "released again", 1, m.Calls("release"))
	y := a.Malloc(1 << 20)
	check(t, "the chunk is reused", x, y)
	h.Free(y)
	h.Free(g)
	mustCheck(t, h)
}

// A freed mapped chunk's mapping is kept, reused by a request it fits
// (cleared for Calloc), and unmapped once unused for the decay.
func TestDecayMapped(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.DynamicThreshold = false
	h, ev := newDecayHeap(t, 1<<30, p, m, m)
	a := h.Arena(0)
	x := a.Malloc(1 << 20)
	maps := m.Calls("map")
	s := unsafe.Slice((*byte)(unsafe.Add(nil, x)), 1<<20)
	for i := range s {
		s[i] = 0x55
	}
	h.Free(x)
	check(t, "unmaps after the free", 0, m.Calls("unmap"))
	d := h.DecayInfo()
	if d.KeptMappings != 1 || d.KeptMapped < 1<<20 {
		t.Errorf("DecayInfo %+v", d)
	}
	mustCheck(t, h)

	// A request it fits reuses it; Calloc clears it.
	y := a.Calloc(900 << 10)
	check(t, "reused mapping", x, y)
	check(t, "no new mapping", maps, m.Calls("map"))
	for i, b := range unsafe.Slice((*byte)(unsafe.Add(nil, y)), 900<<10) {
		if b != 0 {
			t.Fatalf("calloc from a kept mapping: byte %d = %#x", i, b)
		}
	}
	if u := h.Usable(y); u < 1<<20 {
		t.Errorf("usable %d: the whole kept mapping is the chunk", u)
	}
	h.Free(y)
	// One it does not fit (more than a quarter to spare) maps afresh.
	z := a.Malloc(300 << 10)
	if z == x {
		t.Error("a 1 MiB mapping served 300 KiB")
	}
	h.Free(z)
	check(t, "kept now", 2, h.DecayInfo().KeptMappings)
	n, _ := ev.count(arena.EventReuse, false)
	check(t, "reuse events", 1, n)
	mustCheck(t, h)

	h.DecayPass(longDecay + time.Second)
	check(t, "unmapped by the decay", 2, m.Calls("unmap"))
	n, _ = ev.count(arena.EventPurge, true)
	check(t, "purge events", 2, n)
	d = h.DecayInfo()
	check(t, "kept after the decay", 0, d.KeptMappings)
	mustCheck(t, h)
}

// What is kept of mapped chunks stays in proportion to what is used: a
// mapping larger than the bound is unmapped at once, and the oldest go
// first when the bound is reached.
func TestDecayMappedBound(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.DynamicThreshold = false
	h, _ := newDecayHeap(t, 1<<30, p, m, m)
	a := h.Arena(0)
	x := a.Malloc(40 << 20) // above 32 MiB with nothing else mapped
	h.Free(x)
	check(t, "a 40 MiB mapping unmapped at once", 1, m.Calls("unmap"))
	var xs []uintptr
	for range 5 {
		xs = append(xs, a.Malloc(10<<20))
	}
	for _, x := range xs {
		h.Free(x)
	}
	d := h.DecayInfo()
	if d.KeptMapped > 32<<20 || d.KeptMappings != 3 {
		t.Errorf("kept %d mappings, %d bytes; want the last 3, at most 32 MiB", d.KeptMappings, d.KeptMapped)
	}
	mustCheck(t, h)
}

// Trim gives back everything decay keeps, at once.
func TestDecayTrim(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.DynamicThreshold = false
	h, _ := newDecayHeap(t, 1<<30, p, m, m)
	a := h.Arena(0)
	var bs []uintptr
	for range 40 {
		bs = append(bs, a.Malloc(100<<10))
	}
	x := a.Malloc(1 << 20) // mapped
	grown := m.Current()
	for _, b := range bs {
		h.Free(b)
	}
	h.Free(x)
	if h.DecayInfo().KeptMappings != 1 || a.Info(false).Kept == 0 {
		t.Fatal("nothing kept")
	}
	if !h.Trim(0) {
		t.Error("Trim returned false")
	}
	check(t, "kept mappings after Trim", 0, h.DecayInfo().KeptMappings)
	check(t, "kept heap after Trim", uintptr(0), a.Info(false).Kept)
	if m.Current() >= grown {
		t.Errorf("break %#x not lowered by Trim", m.Current())
	}
	mustCheck(t, h)
}

// A heap that became entirely free is kept, then given back.
func TestDecayFreeHeap(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	h, ev := newDecayHeap(t, 1<<30, decayParams(), m, m)
	a1, err := h.NewArena()
	if err != nil {
		t.Fatal(err)
	}
	var bs []uintptr
	for range 700 { // 70 MiB: a second heap
		bs = append(bs, a1.Malloc(100<<10))
	}
	if r := a1.Info(false).Regions; r < 2 {
		t.Fatalf("regions %d", r)
	}
	for i := len(bs) - 1; i >= 0; i-- {
		h.Free(bs[i])
	}
	mustCheck(t, h)
	if r := a1.Info(false).Regions; r < 2 {
		t.Fatalf("a free heap was given back at once: regions %d", r)
	}
	unmaps := m.Calls("unmap")
	for i := 1; i <= 4 && a1.Info(false).Regions > 1; i++ {
		h.DecayPass(time.Duration(i) * (longDecay + time.Second))
		mustCheck(t, h)
	}
	check(t, "regions after the decay", 1, a1.Info(false).Regions)
	if m.Calls("unmap") == unmaps {
		t.Error("no heap unmapped")
	}
	if n, _ := ev.count(arena.EventShrink, true); n == 0 {
		t.Error("no decay shrink event")
	}
}

// The releaser runs by itself, off a timer, while nothing calls the heap.
func TestDecayTimer(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.Decay = 20 * time.Millisecond
	p.DynamicThreshold = false
	h, _ := newDecayHeap(t, 1<<30, p, m, m)
	a := h.Arena(0)
	var bs []uintptr
	for range 40 {
		bs = append(bs, a.Malloc(100<<10))
	}
	x := a.Malloc(1 << 20)
	grown := m.Current()
	for _, b := range bs {
		h.Free(b)
	}
	h.Free(x)
	deadline := time.Now().Add(5 * time.Second)
	for (m.Current() >= grown || h.DecayInfo().KeptMappings != 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if m.Current() >= grown || h.DecayInfo().KeptMappings != 0 {
		t.Fatalf("after 5 s: break %#x (grown %#x), %d kept mappings", m.Current(), grown, h.DecayInfo().KeptMappings)
	}
	mustCheck(t, h)
	// Idle: no pass is due.
	deadline = time.Now().Add(time.Second)
	for !h.DecayInfo().NextPass.IsZero() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if next := h.DecayInfo().NextPass; !next.IsZero() {
		t.Errorf("the releaser stays armed for %v with nothing kept", next)
	}
}

// Decay turned off gives back what is kept at once (glibc's policy from
// then on).
func TestDecayTurnedOff(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.DynamicThreshold = false
	h, _ := newDecayHeap(t, 1<<30, p, m, m)
	a := h.Arena(0)
	x := a.Malloc(1 << 20)
	h.Free(x)
	check(t, "kept", 1, h.DecayInfo().KeptMappings)
	p.Decay = 0
	h.SetParams(p)
	deadline := time.Now().Add(5 * time.Second)
	for h.DecayInfo().KeptMappings != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	check(t, "kept after decay=0", 0, h.DecayInfo().KeptMappings)
	y := a.Malloc(1 << 20)
	h.Free(y)
	check(t, "a free unmaps at once", 2, m.Calls("unmap"))
}

// failingShrink is a plainMemory whose break shrink and decommit fail
// while fail is set.
type failingShrink struct {
	*plainMemory
	mu   sync.Mutex
	fail bool
}

func (f *failingShrink) failing() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.fail }

func (f *failingShrink) Shrink(n uintptr) error {
	if f.failing() {
		return syscall.ENOMEM
	}
	return f.plainMemory.Shrink(n)
}

func (f *failingShrink) Decommit(addr, n uintptr) error {
	if f.failing() {
		return syscall.ENOMEM
	}
	return f.plainMemory.Decommit(addr, n)
}

// A release whose system call fails leaves the memory with the arena: the
// top takes it back, Check passes, and growth goes on contiguously.
func TestDecayReleaseFails(t *testing.T) {
	pm := newPlainMemory(t, 1<<30)
	f := &failingShrink{plainMemory: pm}
	p := decayParams()
	p.MmapThreshold, p.DynamicThreshold = 64<<20, false
	ev := &events{}
	h, err := arena.New(arena.Config{Memory: f, Break: f, Params: p, OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.StopDecay)
	a := h.Arena(0)
	b := a.Malloc(8 << 20)
	h.Free(b)
	grown := pm.Current()
	_, top := a.Top()
	f.mu.Lock()
	f.fail = true
	f.mu.Unlock()
	h.DecayPass(longDecay + time.Second)
	mustCheck(t, h)
	check(t, "break after a failed release", grown, pm.Current())
	_, top2 := a.Top()
	check(t, "top after a failed release", top, top2)
	check(t, "system", grown-pm.Base(), a.Info(false).System)
	f.mu.Lock()
	f.fail = false
	f.mu.Unlock()
	c := a.Malloc(16 << 20) // grows the break contiguously
	if k, ar := h.Lookup(c); k != arena.InHeap || ar != a {
		t.Fatalf("Lookup after growth: %d", k)
	}
	check(t, "regions", 1, a.Info(false).Regions)
	h.Free(c)
	h.DecayPass(3 * (longDecay + time.Second)) // the window that saw c
	h.DecayPass(4 * (longDecay + time.Second))
	if pm.Current() >= grown {
		t.Errorf("break %#x not lowered once the calls work", pm.Current())
	}
	mustCheck(t, h)
}

// hugePlain is a plainMemory with huge pages: it records AdviseHuge and
// maps MapHuge aligned.
type hugePlain struct {
	*plainMemory
	mu      sync.Mutex
	advised [][2]uintptr
}

const hugePage = 2 << 20

func (hp *hugePlain) AdviseHuge(addr, n uintptr) error {
	hp.mu.Lock()
	hp.advised = append(hp.advised, [2]uintptr{addr, n})
	hp.mu.Unlock()
	return nil
}

func (hp *hugePlain) MapHuge(n uintptr) (uintptr, error) {
	hp.count("maphuge")
	if n%hugePage != 0 {
		return 0, syscall.EINVAL
	}
	return hp.alloc(n, hugePage)
}

// With HugePage, the break region starts on a huge page boundary and grows
// and shrinks in whole huge pages, each growth advised; a heap is advised
// whole; a large mapped chunk is mapped whole huge pages, aligned.
func TestHugePages(t *testing.T) {
	pm := newPlainMemory(t, 1<<30)
	pm.brkCur += 3 * pageSize // a break that does not start on a boundary
	pm.brkBase = pm.brkCur
	hm := &hugePlain{plainMemory: pm}
	p := arena.DefaultParams()
	p.HugePage = hugePage
	p.MmapThreshold, p.DynamicThreshold = 1<<20, false
	h, err := arena.New(arena.Config{Memory: hm, Break: pm, Params: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.StopDecay)
	a := h.Arena(0)
	var bs []uintptr
	for range 256 { // 64 MiB of 256 KiB blocks
		bs = append(bs, a.Malloc(256<<10))
	}
	check(t, "chunks start on a huge page boundary", uintptr(0), a.RegionStart()%hugePage)
	check(t, "the break's end on a huge page boundary", uintptr(0), pm.Current()%hugePage)
	if n := pm.Calls("brk"); n > 64<<20/hugePage+1 {
		t.Errorf("%d break moves for 64 MiB", n)
	}
	hm.mu.Lock()
	for _, r := range hm.advised {
		if r[0]%hugePage != 0 || r[1]%hugePage != 0 {
			t.Errorf("advised [%#x, +%d): not whole huge pages", r[0], r[1])
		}
	}
	advised := len(hm.advised)
	hm.mu.Unlock()
	if advised == 0 {
		t.Error("nothing advised")
	}
	mustCheck(t, h)
	for _, b := range bs {
		h.Free(b)
	}
	check(t, "the break's end after trimming", uintptr(0), pm.Current()%hugePage)
	mustCheck(t, h)

	// A mapped chunk of a huge page or more: whole huge pages, aligned.
	x := a.Malloc(3 << 20)
	check(t, "MapHuge calls", 1, hm.Calls("maphuge"))
	check(t, "chunk aligned", uintptr(0), (x-16)%hugePage)
	check(t, "usable", uintptr(4<<20-16), h.Usable(x))
	y := a.Malloc(1 << 20) // below a huge page: an ordinary mapping
	check(t, "MapHuge calls after a small mapping", 1, hm.Calls("maphuge"))
	h.Free(x)
	h.Free(y)

	// A new arena's heap is advised whole.
	hm.mu.Lock()
	hm.advised = nil
	hm.mu.Unlock()
	if _, err := h.NewArena(); err != nil {
		t.Fatal(err)
	}
	hm.mu.Lock()
	if len(hm.advised) != 1 || hm.advised[0][1] != arena.HeapSize {
		t.Errorf("new heap advised %v", hm.advised)
	}
	hm.mu.Unlock()
	mustCheck(t, h)
}

// Decay and the allocator's work at the same time: the timer's passes run
// (every millisecond) while goroutines allocate, write, verify and free;
// nothing a goroutine holds changes, and Check passes.
func TestDecayConcurrent(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.Decay = time.Millisecond
	p.TrimThreshold, p.TopPad = 0, 0
	h, _ := newDecayHeap(t, 1<<30, p, m, m)
	a1, _ := h.NewArena()
	arenas := []*arena.Arena{h.Arena(0), a1}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := arenas[g%2]
			for i := range 3000 {
				n := uintptr(1+(i*7919+g*104729)%300) << 10
				b := a.Malloc(n)
				if b == 0 {
					t.Error("malloc failed")
					return
				}
				s := unsafe.Slice((*byte)(unsafe.Add(nil, b)), n)
				for j := 0; j < len(s); j += 512 {
					s[j] = byte(i + g)
				}
				time.Sleep(time.Duration(i%3) * 10 * time.Microsecond)
				for j := 0; j < len(s); j += 512 {
					if s[j] != byte(i+g) {
						t.Errorf("goroutine %d block %d byte %d changed", g, i, j)
						return
					}
				}
				h.Free(b)
			}
		}()
	}
	wg.Wait()
	mustCheck(t, h)
	if h.DecayInfo().Passes == 0 {
		t.Error("no pass ran")
	}
}

// With decay, a request the heap would grow for takes a kept mapping that
// fits instead of fresh memory, and growth asks for an eighth of the heap
// beyond the request.
func TestDecayGrowth(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.DynamicThreshold = false
	p.MmapThreshold = 1 << 20
	h, ev := newDecayHeap(t, 1<<30, p, m, m)
	a := h.Arena(0)
	x := a.Malloc(2 << 20) // mapped
	h.Free(x)              // kept
	brk := m.Current()
	// The threshold goes up: 2 MiB would now come from the heap, which
	// has no room for it; the kept mapping serves it instead.
	p.MmapThreshold = 64 << 20
	h.SetParams(p)
	y := a.Malloc(2<<20 - 100<<10)
	check(t, "the kept mapping serves a heap request", x, y)
	check(t, "the break did not move", brk, m.Current())
	n, _ := ev.count(arena.EventReuse, false)
	check(t, "reuse events", 1, n)
	h.Free(y)
	// Growth by an eighth of the heap: 16 x 1 MiB blocks.
	var bs []uintptr
	grows := m.Calls("brk")
	for range 40 {
		bs = append(bs, a.Malloc(1<<20))
	}
	if g := m.Calls("brk") - grows; g > 24 {
		t.Errorf("%d break moves for 40 MiB of 1 MiB blocks", g)
	}
	for _, b := range bs {
		h.Free(b)
	}
	mustCheck(t, h)
}

// With decay, the first freed mapped chunk that raises the dynamic
// threshold raises it to its maximum at once.
func TestDecayDynamicThreshold(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	h, _ := newDecayHeap(t, 1<<30, decayParams(), m, m)
	x := h.Arena(0).Malloc(1 << 20)
	h.Free(x)
	check(t, "mmap threshold", uintptr(arena.MaxDynamicThreshold), h.Params().MmapThreshold)
	check(t, "trim threshold", uintptr(2*arena.MaxDynamicThreshold), h.Params().TrimThreshold)
}

// An arena that served no allocation for a whole window gives back its top
// beyond top_pad even below the trim threshold; one that did keeps it.
func TestDecayIdleTop(t *testing.T) {
	m := newPlainMemory(t, 1<<30)
	p := decayParams()
	p.MmapThreshold, p.TrimThreshold, p.DynamicThreshold = 64<<20, 64<<20, false
	h, _ := newDecayHeap(t, 1<<30, p, m, m)
	a := h.Arena(0)
	b := a.Malloc(8 << 20)
	h.Free(b) // the top: about 8 MiB, below the trim threshold
	grown := m.Current()
	h.Free(a.Malloc(100)) // an allocation in the window: not idle
	h.DecayPass(longDecay + time.Second)
	check(t, "break after a window with an allocation", grown, m.Current())
	h.DecayPass(2 * (longDecay + time.Second))
	if _, top := a.Top(); m.Current() >= grown || top > 128<<10+pageSize+arena.MinSize {
		t.Errorf("after an idle window: break %#x (grown %#x), top %d", m.Current(), grown, top)
	}
	check(t, "pending", false, a.DecayPending())
	mustCheck(t, h)
}
