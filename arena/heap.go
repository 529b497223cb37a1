package arena

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Memory is what the arenas need from the operating system. All addresses
// are page aligned and all sizes are multiples of PageSize. The alloc
// package implements it with mmapper; tests implement it on plain memory.
type Memory interface {
	// PageSize returns the page size.
	PageSize() uintptr
	// Map returns n bytes of zeroed, readable and writable memory at a fresh
	// address.
	Map(n uintptr) (uintptr, error)
	// Unmap gives back memory obtained from Map (or a part of it).
	Unmap(addr, n uintptr) error
	// Remap resizes a mapping from Map from oldN to newN bytes, keeping its
	// contents; the mapping may move.
	Remap(addr, oldN, newN uintptr) (uintptr, error)
	// Reserve reserves n bytes of address space aligned to align; the bytes
	// are not usable until committed.
	Reserve(n, align uintptr) (uintptr, error)
	// Commit makes reserved bytes usable; they read as zero.
	Commit(addr, n uintptr) error
	// Decommit returns committed bytes to the reserved state.
	Decommit(addr, n uintptr) error
	// Release discards the contents of committed pages, which stay usable
	// and read as zero afterwards (MADV_DONTNEED).
	Release(addr, n uintptr) error
}

// Break is a contiguous region that grows and shrinks at its end, like the
// program break. The main arena grows it before anything else; without one
// (or once it cannot grow) the main arena continues on heaps reserved
// through Memory, non-contiguous, as glibc does when sbrk fails.
type Break interface {
	// Base returns the start of the region.
	Base() uintptr
	// Current returns the end of the region.
	Current() uintptr
	// Grow extends the region by n bytes and returns the old end.
	Grow(n uintptr) (old uintptr, err error)
	// Shrink cuts n bytes off the end of the region.
	Shrink(n uintptr) error
}

// HeapSize is the size and alignment of a heap: the reserved, lazily
// committed region that non-main arenas (and the main arena, when its break
// cannot grow) allocate from. As glibc's HEAP_MAX_SIZE, twice the largest
// dynamic mmap threshold.
const HeapSize = 64 << 20

const (
	granuleShift = 26 // log2(HeapSize)
	granules     = 1 << (47 - granuleShift)
	heapHdrSz    = 48 // heap header: arena index, committed end, padding; keeps chunks 16-aligned
)

// MaxDynamicThreshold is the largest value the dynamic mmap threshold takes
// (glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit).
const MaxDynamicThreshold = 32 << 20

// Params are the tunable parameters the arenas obey.
type Params struct {
	MmapThreshold    uintptr // requests of at least this size are mapped (if the top cannot serve them)
	TrimThreshold    uintptr // the top is trimmed when it exceeds this
	TopPad           uintptr // extra bytes asked for on growth, and left on trim
	MmapMax          int     // most mapped chunks live at once
	MXFast           uintptr // largest request served by fastbins (0 turns them off)
	Perturb          byte    // when non-zero, fill allocated memory with ^Perturb and freed memory with Perturb
	DynamicThreshold bool    // let freed mapped chunks raise MmapThreshold (glibc's default)

	// Decay, when above zero, keeps what glibc's policy gives back to the
	// system at once (the top above TrimThreshold, heaps that became free)
	// and the free pages inside the heaps, until they have stayed unused
	// for Decay; a background timer gives them back (see decay.go). 0 is
	// glibc's policy exactly.
	Decay time.Duration
	// KeepMapped, with Decay, also keeps the mappings of freed mapped
	// chunks for Decay, to serve later requests they fit. Package alloc
	// turns it off in its debug mode, whose mapped chunks end in a guard
	// page.
	KeepMapped bool
	// HugePage, when not 0, is the huge page size (a power of two, a
	// multiple of the page size): heaps and the break region grow and are
	// trimmed in whole huge pages, start on a huge page boundary, and are
	// advised for transparent huge pages, as are mapped chunks of at least
	// HugePage, which are mapped aligned to it (glibc.malloc.hugetlb). It
	// needs a Memory that is also a HugeMemory; otherwise only the
	// rounding applies.
	HugePage uintptr
	// Populate, when the Memory is also a PopulateMemory, faults in with
	// one call the pages that a growth of an arena already holding
	// populateFloor adds beyond the request, up to TopPad (see populate in
	// sys.go), while the Heap has one arena. Not with huge pages, whose one
	// fault maps a huge page.
	Populate bool
}

// DefaultParams returns glibc 2.36's defaults.
func DefaultParams() Params {
	return Params{
		MmapThreshold:    128 << 10,
		TrimThreshold:    128 << 10,
		TopPad:           128 << 10,
		MmapMax:          65536,
		MXFast:           128,
		DynamicThreshold: true,
	}
}

// EventKind names what an Event reports.
type EventKind int

// Kinds of Event.
const (
	EventGrow      EventKind = iota // an arena's memory grew (Size bytes at Addr)
	EventShrink                     // an arena gave back Size bytes at the end of a region
	EventNewHeap                    // an arena reserved a new heap at Addr
	EventMap                        // a chunk of Size bytes was mapped at Addr
	EventUnmap                      // a mapped chunk of Size bytes at Addr was unmapped
	EventRemap                      // a mapped chunk was resized to Size bytes (now at Addr)
	EventRelease                    // Trim (or decay) released Size bytes of free pages inside the heap
	EventThreshold                  // the dynamic threshold rose to Size (trim threshold to 2 x Size)
	EventKeep                       // a freed mapped chunk's mapping (Size bytes at Addr) was kept for reuse (decay)
	EventReuse                      // a kept mapping (Size bytes at Addr) became a mapped chunk again
	EventPurge                      // a kept mapping (Size bytes at Addr) was unmapped
)

var eventNames = [...]string{"grow", "shrink", "new-heap", "map", "unmap", "remap", "release", "threshold", "keep", "reuse", "purge"}

// String returns the event's short name ("grow", "shrink", ...).
func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports a change in what the heap holds from the operating system.
type Event struct {
	Kind  EventKind
	Arena int     // arena index (-1 for mapped chunks)
	Addr  uintptr // where
	Size  uintptr // how much
	// Decay says that the decay releaser gave the memory back (EventShrink,
	// EventRelease, EventPurge), after it stayed unused for Params.Decay.
	Decay bool
}

// Config configures a Heap.
type Config struct {
	Memory    Memory // required
	Break     Break  // optional: the main arena's contiguous region
	MaxArenas int    // capacity of the arena table; 0 means 1024
	Params    Params
	// OnEvent, if set, is called for every Event, with an arena lock held:
	// it must not call back into the heap.
	OnEvent func(Event)
	// Pool, if set, is where a new heap is taken from before one is
	// reserved, and where Destroy leaves this Heap's heaps (destroy.go).
	Pool *HeapPool
}

// Heap is a whole allocator: the main arena, any further arenas, the mapped
// chunks and the parameters they share.
type Heap struct {
	mem      Memory
	brk      Break
	pool     *HeapPool // heaps of destroyed Heaps to reuse, or nil
	pageSize uintptr
	secret   uintptr
	onEvent  func(Event)

	mmapThreshold atomic.Uintptr
	trimThreshold atomic.Uintptr
	topPad        atomic.Uintptr
	mmapMax       atomic.Int64
	mxFast        atomic.Uintptr
	perturb       atomic.Uint32
	dynamic       atomic.Bool
	decayNs       atomic.Int64   // Params.Decay; 0: glibc's policy
	keepMapped    atomic.Bool    // Params.KeepMapped
	hugePage      atomic.Uintptr // Params.HugePage; 0: none
	populate      atomic.Bool    // Params.Populate
	// borderReach is MayBorderTop's bound, kept by setBorderReach
	// whenever a parameter it depends on changes.
	borderReach atomic.Uintptr
	heapSys     atomic.Int64 // the system memory of every arena (the kept mappings' bound)
	growHook    atomic.Pointer[func(*Arena) bool]

	// main is the break region, [brkBase, brkEnd): chunks there belong to
	// arena 0. brkEnd moves under arena 0's lock and is read atomically.
	brkBase, brkEnd atomic.Uintptr

	// arenas holds the arenas in blocks of arenaBlock, allocated as
	// arenas are created (a Heap with one arena does not pay for a table of
	// 1024); maxArenas is the table's capacity.
	arenas    [maxArenaBlocks]atomic.Pointer[[arenaBlock]atomic.Pointer[Arena]]
	maxArenas int
	narenas   atomic.Int32
	arenasMu  sync.Mutex

	// id tells this Heap's heaps from other Heaps' in granuleTable.
	id uint32

	mapped mappedSet
	kept   keptMaps // freed mapped chunks kept for decay
	decay  decayer  // the background releaser
}

// ErrNoMemory reports that the operating system refused memory.
var ErrNoMemory = errors.New("arena: out of memory")

// New creates a Heap with its main arena.
func New(cfg Config) (*Heap, error) {
	if cfg.Memory == nil {
		return nil, errors.New("arena: Config.Memory is nil")
	}
	if cfg.MaxArenas <= 0 {
		cfg.MaxArenas = 1024
	}
	h := &Heap{mem: cfg.Memory, brk: cfg.Break, pageSize: cfg.Memory.PageSize(), onEvent: cfg.OnEvent, pool: cfg.Pool}
	h.secret = uintptr(rand.Uint64())
	h.SetParams(cfg.Params)
	h.id = newHeapID()
	if h.id == 0 {
		return nil, errors.New("arena: too many Heaps alive at once")
	}
	if cfg.MaxArenas >= 1<<arenaBits {
		cfg.MaxArenas = 1<<arenaBits - 1
	}
	h.maxArenas = min(cfg.MaxArenas, maxArenaBlocks*arenaBlock)
	h.mapped.init(h.mem)
	if h.brk != nil {
		b := h.brk.Current()
		h.brkBase.Store(b)
		h.brkEnd.Store(b)
	}
	if _, err := h.newArena(h.maxArenas); err != nil {
		freeHeapID(h.id)
		return nil, err
	}
	return h, nil
}

// SetParams replaces all parameters at once.
func (h *Heap) SetParams(p Params) {
	if p.MXFast > maxFast {
		p.MXFast = maxFast
	}
	h.mmapThreshold.Store(p.MmapThreshold)
	h.trimThreshold.Store(p.TrimThreshold)
	h.topPad.Store(p.TopPad)
	h.mmapMax.Store(int64(p.MmapMax))
	h.mxFast.Store(p.MXFast)
	h.perturb.Store(uint32(p.Perturb))
	h.dynamic.Store(p.DynamicThreshold)
	if p.HugePage != 0 && (p.HugePage&(p.HugePage-1) != 0 || p.HugePage < h.pageSize) {
		p.HugePage = 0 // not a power of two at least a page: no huge pages
	}
	h.hugePage.Store(p.HugePage)
	h.keepMapped.Store(p.KeepMapped)
	h.populate.Store(p.Populate)
	old := time.Duration(h.decayNs.Swap(int64(max(p.Decay, 0))))
	h.setBorderReach()
	if p.Decay < old {
		// A shorter decay (or none) applies to what is kept already.
		h.kickDecay(0)
	}
}

// setBorderReach recomputes MayBorderTop's bound from the parameters it
// depends on (decay, huge pages, trim threshold, top pad): how far from its
// region's end a chunk can still border the top. With decay every chunk
// may (the bound is all ones); the sum saturates rather than wrap. Called
// after any of them changes; a racing change can leave it stale for a
// moment, which is as harmless as any wrong answer of MayBorderTop.
func (h *Heap) setBorderReach() {
	if h.decayNs.Load() > 0 {
		h.borderReach.Store(^uintptr(0))
		return
	}
	r := max(h.trimThreshold.Load(), fastConsolid)
	for _, v := range [...]uintptr{h.topPad.Load(), max(h.hugePage.Load(), h.pageSize)} {
		if r+v < r {
			r = ^uintptr(0)
			break
		}
		r += v
	}
	h.borderReach.Store(r)
}

// Params returns the parameters in force, including the effect of the
// dynamic threshold.
func (h *Heap) Params() Params {
	return Params{
		MmapThreshold:    h.mmapThreshold.Load(),
		TrimThreshold:    h.trimThreshold.Load(),
		TopPad:           h.topPad.Load(),
		MmapMax:          int(h.mmapMax.Load()),
		MXFast:           h.mxFast.Load(),
		Perturb:          byte(h.perturb.Load()),
		DynamicThreshold: h.dynamic.Load(),
		Decay:            time.Duration(h.decayNs.Load()),
		KeepMapped:       h.keepMapped.Load(),
		HugePage:         h.hugePage.Load(),
		Populate:         h.populate.Load(),
	}
}

// HeapSys returns the system memory every arena of the Heap holds (its
// break region and heaps, not its mapped chunks).
func (h *Heap) HeapSys() uintptr { return uintptr(max(h.heapSys.Load(), 0)) }

// PageSize returns the page size of the heap's Memory.
func (h *Heap) PageSize() uintptr { return h.pageSize }

func (h *Heap) event(k EventKind, arena int, addr, size uintptr) {
	if h.onEvent != nil {
		h.onEvent(Event{Kind: k, Arena: arena, Addr: addr, Size: size})
	}
}

// Arena returns arena i, or nil.
func (h *Heap) Arena(i int) *Arena {
	if i < 0 || i >= h.maxArenas {
		return nil
	}
	if b := h.arenas[i/arenaBlock].Load(); b != nil {
		return b[i%arenaBlock].Load()
	}
	return nil
}

// NumArenas returns how many arenas exist.
func (h *Heap) NumArenas() int { return int(h.narenas.Load()) }

// MaxArenas returns the capacity of the arena table.
func (h *Heap) MaxArenas() int { return h.maxArenas }

// arenaBlock and maxArenaBlocks size the arena table (Heap.arenas).
const (
	arenaBlock     = 64
	maxArenaBlocks = 1 << arenaBits / arenaBlock
)

// NewArena creates another arena (on heaps reserved through Memory).
func (h *Heap) NewArena() (*Arena, error) { return h.newArena(h.maxArenas) }

// ErrArenaLimit is NewArenaUpTo's error when limit arenas exist already.
var ErrArenaLimit = errors.New("arena: the arena limit is reached")

// NewArenaUpTo creates another arena unless limit arenas (or the table's
// capacity) exist already; the count is checked and the arena created
// under one lock, so goroutines racing to add arenas never exceed limit.
func (h *Heap) NewArenaUpTo(limit int) (*Arena, error) {
	return h.newArena(min(limit, h.maxArenas))
}

func (h *Heap) newArena(limit int) (*Arena, error) {
	h.arenasMu.Lock()
	defer h.arenasMu.Unlock()
	n := int(h.narenas.Load())
	if n >= h.maxArenas {
		return nil, fmt.Errorf("arena: all %d arenas in use", h.maxArenas)
	}
	if n >= limit {
		return nil, ErrArenaLimit
	}
	page, _ := takeBinPage()
	mapped := page == 0
	if mapped {
		var err error
		if page, err = h.mem.Map(h.pageSize); err != nil {
			return nil, fmt.Errorf("arena: bin page: %w", err)
		}
	}
	a := newArenaStruct()
	*a = Arena{h: h, index: n, binPage: page, binStatic: !mapped}
	a.regions = a.regionStore[:0]
	for i := 1; i < nBins; i++ {
		b := a.binAt(i)
		setFd(b, b)
		setBk(b, b)
	}
	if n > 0 || h.brk == nil {
		if err := a.newHeap(0); err != nil {
			if mapped {
				h.mem.Unmap(page, h.pageSize)
			} else {
				putBinPage(page)
			}
			return nil, err
		}
	}
	if h.arenas[n/arenaBlock].Load() == nil {
		h.arenas[n/arenaBlock].Store(new([arenaBlock]atomic.Pointer[Arena]))
	}
	h.arenas[n/arenaBlock].Load()[n%arenaBlock].Store(a)
	h.narenas.Store(int32(n + 1))
	return a, nil
}

// firstArena is the first arena of the process, in static memory like
// binStore: a fresh process's first allocation then takes no span of the
// Go heap for it (a span's first use costs page faults of its own), one of
// the page faults of the first Malloc less. Later arenas come from the Go
// heap.
var (
	firstArena     Arena
	firstArenaUsed atomic.Bool
)

// newArenaStruct returns zeroed memory for an Arena: firstArena once,
// then the Go heap's.
func newArenaStruct() *Arena {
	if firstArenaUsed.CompareAndSwap(false, true) {
		return &firstArena
	}
	return new(Arena)
}

// binStore holds the bin heads of the first arenas of the process (the
// Heaps' arenas draw from it in turn), in static memory: an arena's bins
// then cost no mapping, which the first Malloc of a process would wait for,
// and the kernel backs only the part that is used. Arenas past it map a
// page for their bins. The slots start at the first page boundary inside
// binStore (binSlot), so that no slot straddles two pages: the first
// arena's bins then cost the first Malloc one page fault, not two.
var (
	binStore   [binStoreSlots + binSlotAlign/binSlotBytes][nBins * 2]uintptr
	binStoreMu sync.Mutex
	binNext    int       // slots of binStore handed out so far
	binFree    []uintptr // slots given back (putBinPage)
)

const (
	binStoreSlots = 64
	binSlotBytes  = nBins * 2 * 8 // a slot: the fd and bk words of every bin head
	binSlotAlign  = 4096          // the smallest page size; a multiple of binSlotBytes
)

// A slot must divide the alignment, or slots would straddle pages anyway.
var _ = [1]struct{}{}[binSlotAlign%binSlotBytes]

// The static memory that a process's first arena writes (firstArena and
// binStore's first slot) is written once when the package is initialized,
// so that the process's first allocation does not take those page faults
// (3.5-9 us each on the machine of the README's figures): the program's
// start-up pays them instead, as glibc's static main arena is written when
// libc is loaded. Each write stores the zero that is
// there; the memory is used only when New makes the first arena.
func init() {
	touchPages(unsafe.Pointer(&firstArena), unsafe.Sizeof(firstArena))
	slot := unsafe.Add(unsafe.Pointer(&binStore), binSlot(0)-uintptr(unsafe.Pointer(&binStore)))
	touchPages(slot, binSlotBytes)
}

// touchPages writes a zero byte to every page of the zeroed static memory
// [p, p+n) (its first byte and each page boundary within it). A page that
// is read first is mapped to the kernel's zero page and faults again when
// written, so the pages are written.
func touchPages(p unsafe.Pointer, n uintptr) {
	for off := uintptr(0); off < n; off = (uintptr(p)+off+binSlotAlign)&^(binSlotAlign-1) - uintptr(p) {
		*(*byte)(unsafe.Add(p, off)) = 0
	}
}

// binSlot returns the address of slot i of binStore.
func binSlot(i int) uintptr {
	base := (uintptr(unsafe.Pointer(&binStore)) + binSlotAlign - 1) &^ (binSlotAlign - 1)
	return base + uintptr(i)*binSlotBytes
}

// takeBinPage returns the address of a free slot of binStore for an
// arena's bin heads and true, or 0 when all are taken.
func takeBinPage() (uintptr, bool) {
	binStoreMu.Lock()
	defer binStoreMu.Unlock()
	if n := len(binFree); n > 0 {
		p := binFree[n-1]
		binFree = binFree[:n-1]
		return p, false
	}
	if binNext < binStoreSlots {
		binNext++
		return binSlot(binNext - 1), false
	}
	return 0, false
}

// putBinPage gives back a slot of binStore.
func putBinPage(p uintptr) {
	binStoreMu.Lock()
	binFree = append(binFree, p)
	binStoreMu.Unlock()
}

// granuleTable maps an address>>26 to the heap there, for every heap of
// every Heap in the process: the owning Heap's id << arenaBits | 1 + the
// arena's index, or 0. It is 8 MiB of zero-filled address space that the
// kernel backs only where it is written (a page per 64 GiB of heaps), and
// a plain array, so that the free fast path finds a heap with one load
// from a fixed address.
var granuleTable [granules]uint32

// arenaBits is the width of the arena field of a granuleTable entry.
const arenaBits = 11

// heapIDs numbers the live Heaps of the process. A destroyed Heap's ID
// goes to a later Heap, the most recently freed first, as a closed file's
// descriptor goes to a later open: the IDs in use stay as few as the
// Heaps alive at once, so a program that makes and destroys a Heap per
// request never runs out of them (a granuleTable entry has 21 bits for
// one), and what is kept per ID (profile buckets) stays bounded. An ID is
// freed only when Destroy is done with the Heap's memory and granule
// entries.
var heapIDs struct {
	mu   sync.Mutex
	next uint32   // the highest ID given so far
	free []uint32 // IDs of destroyed Heaps
}

// maxHeapID is the largest ID a granuleTable entry holds.
const maxHeapID = 1<<(32-arenaBits) - 1

// newHeapID returns an ID for a new Heap, or 0 when all are in use.
func newHeapID() uint32 {
	heapIDs.mu.Lock()
	defer heapIDs.mu.Unlock()
	if n := len(heapIDs.free); n > 0 {
		id := heapIDs.free[n-1]
		heapIDs.free = heapIDs.free[:n-1]
		return id
	}
	if heapIDs.next >= maxHeapID {
		return 0
	}
	heapIDs.next++
	return heapIDs.next
}

// freeHeapID gives id back for a later Heap.
func freeHeapID(id uint32) {
	heapIDs.mu.Lock()
	heapIDs.free = append(heapIDs.free, id)
	heapIDs.mu.Unlock()
}

func (h *Heap) granuleSlot(addr uintptr) *uint32 {
	return &granuleTable[(addr>>granuleShift)%granules]
}

// granuleEntry is the granuleTable entry of a heap of arena index i.
func (h *Heap) granuleEntry(i int) uint32 { return h.id<<arenaBits | uint32(i+1) }

// heapOf returns the base of the heap that holds addr, or 0.
func (h *Heap) heapOf(addr uintptr) (base uintptr, arena int) {
	if addr>>granuleShift >= granules {
		return 0, -1
	}
	v := atomic.LoadUint32(h.granuleSlot(addr))
	if v == 0 || v>>arenaBits != h.id {
		return 0, -1
	}
	return addr &^ (HeapSize - 1), int(v&(1<<arenaBits-1)) - 1
}

// heapEnd is the committed end of the heap at base, kept in its header's
// word at heapEndWord.
func heapEnd(base uintptr) uintptr {
	return atomic.LoadUintptr((*uintptr)(unsafe.Add(nil, base+heapEndWord)))
}

func setHeapEnd(base, end uintptr) {
	atomic.StoreUintptr((*uintptr)(unsafe.Add(nil, base+heapEndWord)), end)
}

// heapEndWord is where in a heap's header its committed end is kept.
const heapEndWord = 8

// Kind of memory a pointer belongs to, as found by Lookup.
const (
	NotOurs  = iota // offheap never handed out this address
	InHeap          // a chunk in an arena's heap or break region
	InMapped        // a chunk with its own mapping
)

// Lookup classifies the user pointer p: which arena's memory it lies in,
// or whether it is a mapped chunk. It reads no memory outside regions that
// the heap owns, so it is safe on any address. It does not check headers.
func (h *Heap) Lookup(p uintptr) (kind int, a *Arena) {
	if p&alignMask != 0 || p < hdrSz {
		return NotOurs, nil
	}
	c := p - hdrSz
	if b := h.brkBase.Load(); c >= b && p+MinSize-hdrSz <= h.brkEnd.Load() && b != 0 {
		return InHeap, h.Arena(0)
	}
	if base, i := h.heapOf(c); base != 0 {
		if c >= base+heapHdrSz && p+MinSize-hdrSz <= heapEnd(base) {
			return InHeap, h.Arena(i)
		}
		return NotOurs, nil
	}
	if h.mapped.contains(c) {
		return InMapped, nil
	}
	return NotOurs, nil
}
