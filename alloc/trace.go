package alloc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	rttrace "runtime/trace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/offheap/offheap/alloc/tracefmt"
	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/tune"
)

// Allocation traces: every Malloc, Calloc, Realloc, AlignedAlloc and Free,
// and the private heaps' creations, destructions and allocations, in order,
// in the format of package tracefmt.
//
// Recording. Each call with tracing on pins its P, takes the next number of
// one global sequence, appends a fixed-size record (operation, sizes,
// addresses, the coarse clock) to the P's buffer and unpins: no lock, one
// atomic add. With tracing off a call pays one atomic load and a compare
// (traceOn). The order of the sequence respects what the calls did to each
// address: an allocation takes its number after it has its block, a free
// before it gives the block back, so a block's free is numbered before any
// later allocation of the same address. A realloc takes two numbers, one
// before (the old block leaves) and one after (the new block arrives).
// A private heap's creation is numbered before any allocation in it; its
// destruction after its memory went back (Heap.Destroy), so an allocation
// elsewhere may take one of its addresses, and a number, before the
// destroy is numbered: the writer then takes the address from the dead
// block (evict), and the destroy still ends that block in the trace.
//
// Writing. A background goroutine (the writer) wakes every traceInterval,
// or when full buffers are queued, reads the sequence counter S, swaps every
// P's buffer for an empty one, and waits until no goroutine can still be
// appending to the old ones (a stop-the-world, as flush.go's quiesce). Then
// it holds every record numbered up to S: it sorts them, turns addresses
// into object ids (a map of the live traced blocks, and for each private
// heap the addresses of its blocks, which its destroy takes out of the
// map) and writes them; later records wait for the next round. The file is flushed every round, so a
// process that never stops the trace loses at most the last round (the
// trace then lacks its end block; the tools accept it with -partial).
// Producers block, unpinned, only when more than traceMaxQueued buffers
// wait for the writer.

const (
	traceBufRecords = 2048                  // records per P buffer
	traceInterval   = 20 * time.Millisecond // writer rounds
	traceMaxQueued  = 64                    // full buffers before producers wait
	traceTick       = time.Millisecond      // timestamp unit and clock resolution
)

// Record kinds: the tracefmt ops (the private heaps' in privheap_hooks.go),
// plus the first half of a realloc.
const (
	recMalloc       = uint8(tracefmt.Malloc)
	recCalloc       = uint8(tracefmt.Calloc)
	recRealloc      = uint8(tracefmt.Realloc) // the second half
	recAligned      = uint8(tracefmt.Aligned)
	recFree         = uint8(tracefmt.Free)
	recReallocBegin = 0x20
)

// traceRec is one recorded call, as the hooks write it (64 bytes).
type traceRec struct {
	seq  uint64
	t    int64   // coarse clock, ns since the trace started
	addr uintptr // the block allocated or freed (recRealloc: the new block, 0 if it failed)
	old  uintptr // recRealloc: the old block
	size uint64
	arg  uint64 // calloc count, alignment; recRealloc: the number its recReallocBegin took
	op   uint8
	pid  uint32
	heap uint32 // the private heap allocated in, created or destroyed (0: the process heap)
}

type traceBuf struct {
	n    int
	recs [traceBufRecords]traceRec
	mu   sync.Mutex // used only under the race detector
}

var (
	// traceOn is the hooks' one check.
	traceOn atomic.Bool
	// traceSeq numbers the calls.
	traceSeq atomic.Uint64
	// traceClock is the coarse clock: ns since the trace started, updated
	// every traceTick by the ticker.
	traceClock atomic.Int64
	// traceSlots holds each P's buffer; a P beyond maxCachedProcs shares
	// the last slot's overflow path (traceOverflow).
	traceSlots [maxCachedProcs]atomic.Pointer[traceBuf]

	traceMu    sync.Mutex // serializes StartTrace and StopTrace
	traceState *tracer    // the running trace, guarded by traceMu

	// traceQueue holds full buffers for the writer.
	traceQueueMu   sync.Mutex
	traceQueueCond = sync.NewCond(&traceQueueMu)
	traceQueue     []*traceBuf
	tracePool      []*traceBuf // empty buffers, guarded by traceQueueMu

	// traceOverflow records the calls of Ps without a slot, under a lock.
	traceOverflowMu sync.Mutex
)

// tracer is a running trace's writer side.
type tracer struct {
	out      *tracefmt.Writer
	bw       *bufio.Writer
	closer   io.Closer // the file of OFFHEAP=trace, closed by StopTrace
	start    time.Time
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	err      error                           // first write error
	carry    []traceCursor                   // buffers whose later records wait for the next round
	addrs    map[uintptr]tracedBlock         // live traced blocks by address
	heaps    map[uint32]map[uintptr]struct{} // live traced private heaps: the addresses of their blocks in addrs
	reallocs map[uint64]tracedBlock          // recReallocBegin seq -> the old block (id 0: not traced)
}

// tracedBlock is a live block of the trace: its id and its heap.
type tracedBlock struct {
	id   uint64
	heap uint32 // 0: the process heap
}

// StartTrace starts recording every Malloc, Calloc, Realloc, AlignedAlloc
// and Free to w in the binary format of package tracefmt (operation, sizes,
// object ids instead of addresses, a global sequence number, a timestamp of
// about a millisecond's resolution), those of private heaps too, with the
// heaps' creation and destruction (private heaps live when the trace
// starts appear created at its start). Writes happen in the background, in
// blocks; w need not be safe for concurrent use, as only the writer
// goroutine writes to it, and it must not allocate with offheap (its calls
// would be traced, and could wait for the writer itself). It returns an error if a trace is already running
// or the header cannot be written. Calls made while StartTrace or StopTrace
// runs may or may not be recorded; a Free or Realloc of a block allocated
// before the trace started is left out (the trace's end block counts them),
// as are the calls of a private heap created while StartTrace runs.
// An AlignedAlloc with an alignment of at most 16 is recorded as the Malloc
// it is, Realloc(nil, n) as a Malloc and Realloc(p, 0) as a Free.
//
// OFFHEAP=trace=/path starts a trace to that file at the first allocation.
func StartTrace(w io.Writer) error {
	traceMu.Lock()
	defer traceMu.Unlock()
	return startTraceLocked(w, nil)
}

func startTraceLocked(w io.Writer, closer io.Closer) error {
	if traceState != nil {
		return errors.New("offheap: StartTrace: a trace is already running")
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	start := time.Now()
	out, err := tracefmt.NewWriter(bw, start, traceTick)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("offheap: StartTrace: %w", err)
	}
	t := &tracer{
		out: out, bw: bw, closer: closer, start: start,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		addrs: make(map[uintptr]tracedBlock), heaps: make(map[uint32]map[uintptr]struct{}),
		reallocs: make(map[uint64]tracedBlock),
	}
	// Fresh buffers: whatever a call racing the last StopTrace left in a
	// slot is dropped.
	for i := range traceSlots {
		traceSlots[i].Store(nil)
	}
	traceQueueMu.Lock()
	traceQueue = nil
	traceQueueMu.Unlock()
	traceClock.Store(0)
	traceState = t
	go t.run()
	// The private heaps live now are created at the start of the trace
	// (one created from here to traceOn is not, and its calls are left
	// out; one recorded twice is created once).
	forEachHeap(func(h *Heap) { traceHeap(recHeapNew, h.id) })
	traceOn.Store(true)
	setFast(fastTrace, true)
	return nil
}

// StopTrace stops the trace StartTrace (or OFFHEAP=trace) started, writes
// what is left and the end block, and returns the first error met writing
// the trace. It closes the file of OFFHEAP=trace, not a writer given to
// StartTrace. Without a running trace it returns an error.
func StopTrace() error {
	traceMu.Lock()
	defer traceMu.Unlock()
	t := traceState
	if t == nil {
		return errors.New("offheap: StopTrace: no trace is running")
	}
	traceOn.Store(false)
	setFast(fastTrace, false)
	close(t.stop)
	<-t.done
	traceState = nil
	err := t.err
	if t.closer != nil {
		if cerr := t.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// startTraceFile starts a trace to path (OFFHEAP=trace).
func startTraceFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	traceMu.Lock()
	defer traceMu.Unlock()
	if err := startTraceLocked(f, f); err != nil {
		f.Close()
		return err
	}
	return nil
}

// ---- recording (the hooks' side) ----

// traceAlloc records an allocation of size bytes (arg: calloc count or
// alignment) that returned p; nothing when p is 0.
//
//go:noinline
func traceAlloc(op uint8, p uintptr, size, arg uint64) {
	if p == 0 {
		return
	}
	traceRecord(traceRec{op: op, addr: p, size: size, arg: arg})
}

// traceFree records Free(p) before the block is given back.
//
//go:noinline
func traceFree(p uintptr) {
	if p == 0 {
		return
	}
	traceRecord(traceRec{op: recFree, addr: p})
}

// traceReallocBegin records that Realloc(old, ...) starts and returns its
// sequence number, which traceReallocEnd takes.
//
//go:noinline
func traceReallocBegin(old uintptr) uint64 {
	return traceRecord(traceRec{op: recReallocBegin, addr: old})
}

// traceReallocEnd records the end of the realloc that began as seq0: the
// new block np (0 when it failed) of size bytes, with its heap (which the
// writer needs when the old block predates the trace).
//
//go:noinline
func traceReallocEnd(seq0 uint64, old, np uintptr, size int) {
	var hid uint32
	if np != 0 {
		if ph := privateOwner(np); ph != nil {
			hid = ph.id
		}
	}
	traceRecord(traceRec{op: recRealloc, arg: seq0, old: old, addr: np, size: uint64(size), heap: hid})
}

// traceRecord numbers r and appends it to this P's buffer; it returns r's
// sequence number.
func traceRecord(r traceRec) uint64 {
	for {
		pid := procPin()
		if uint(pid) >= maxCachedProcs {
			procUnpin()
			return traceRecordOverflow(r, pid)
		}
		b := traceSlots[pid].Load()
		if b == nil {
			procUnpin()
			traceRefill(pid, nil)
			continue
		}
		if raceEnabled {
			// Under the race detector procPin does not keep the
			// goroutine on its P, so the writer may have swapped b out
			// (and locked and unlocked it) between the Load and this
			// Lock: append only while the slot still holds b.
			b.mu.Lock()
			if traceSlots[pid].Load() != b {
				b.mu.Unlock()
				procUnpin()
				continue
			}
		}
		if b.n == traceBufRecords {
			if raceEnabled {
				b.mu.Unlock()
			}
			procUnpin()
			traceRefill(pid, b)
			continue
		}
		r.seq = traceSeq.Add(1)
		r.t = traceClock.Load()
		r.pid = uint32(pid)
		b.recs[b.n] = r
		b.n++
		if raceEnabled {
			b.mu.Unlock()
		}
		procUnpin()
		return r.seq
	}
}

// traceRecordOverflow records for a P without a slot, through the queue.
func traceRecordOverflow(r traceRec, pid int) uint64 {
	traceOverflowMu.Lock()
	defer traceOverflowMu.Unlock()
	b := getTraceBuf()
	// Numbered and queued under traceQueueMu, so that a writer round that
	// reads a sequence counter covering it finds it queued (round).
	traceQueueMu.Lock()
	waitTraceRoomLocked()
	r.seq = traceSeq.Add(1)
	r.t = traceClock.Load()
	r.pid = uint32(pid)
	b.recs[0] = r
	b.n = 1
	n := queueTraceBufLocked(b)
	traceQueueMu.Unlock()
	wakeTraceWriterAt(n)
	return r.seq
}

// traceRefill gives P pid an empty buffer in place of full (which may be
// nil), queueing full for the writer. Called unpinned.
func traceRefill(pid int, full *traceBuf) {
	nb := getTraceBuf()
	// The swap and the hand-over of full to the writer's queue happen
	// under traceQueueMu, as the writer's own swaps do (round): a writer
	// round sees full either still in its slot or already queued. The
	// wait for room in the queue comes first.
	traceQueueMu.Lock()
	if full != nil {
		waitTraceRoomLocked()
	}
	if !traceSlots[pid].CompareAndSwap(full, nb) {
		putTraceBufLocked(nb) // the writer (or another goroutine) swapped it already
		traceQueueMu.Unlock()
		return
	}
	n := 0
	if full != nil {
		// No goroutine can still append to full: appends happen pinned
		// on this P, and the slot no longer holds it. Under the race
		// detector, its mutex makes that visible.
		if raceEnabled {
			full.mu.Lock()
			full.mu.Unlock() //nolint:staticcheck // an empty critical section is the point
		}
		n = queueTraceBufLocked(full)
	}
	traceQueueMu.Unlock()
	wakeTraceWriterAt(n)
}

func getTraceBuf() *traceBuf {
	traceQueueMu.Lock()
	defer traceQueueMu.Unlock()
	return getTraceBufLocked()
}

// getTraceBufLocked is getTraceBuf for a caller holding traceQueueMu.
func getTraceBufLocked() *traceBuf {
	if n := len(tracePool); n > 0 {
		b := tracePool[n-1]
		tracePool = tracePool[:n-1]
		b.n = 0
		return b
	}
	return new(traceBuf)
}

func putTraceBuf(b *traceBuf) {
	traceQueueMu.Lock()
	putTraceBufLocked(b)
	traceQueueMu.Unlock()
}

// putTraceBufLocked is putTraceBuf for a caller holding traceQueueMu.
func putTraceBufLocked(b *traceBuf) {
	b.n = 0
	tracePool = append(tracePool, b)
}

// waitTraceRoomLocked waits, holding traceQueueMu (which the wait lets go
// of meanwhile), while too many buffers are queued for the writer.
func waitTraceRoomLocked() {
	for len(traceQueue) >= traceMaxQueued && traceOn.Load() {
		traceQueueCond.Wait()
	}
}

// queueTraceBufLocked hands b to the writer, with traceQueueMu held, and
// returns how many buffers are queued.
func queueTraceBufLocked(b *traceBuf) int {
	traceQueue = append(traceQueue, b)
	return len(traceQueue)
}

// wakeTraceWriterAt wakes the writer once n buffers wait for it.
func wakeTraceWriterAt(n int) {
	if n >= traceMaxQueued/4 {
		wakeTraceWriter()
	}
}

// ---- writing (the writer goroutine) ----

var traceWake atomic.Pointer[chan struct{}]

func wakeTraceWriter() {
	if c := traceWake.Load(); c != nil {
		select {
		case *c <- struct{}{}:
		default:
		}
	}
}

func (t *tracer) run() {
	defer close(t.done)
	traceWake.Store(&t.wake)
	defer traceWake.Store(nil)
	tick := time.NewTicker(traceTick)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case now := <-tick.C:
			traceClock.Store(int64(now.Sub(t.start)))
			if now.Sub(last) < traceInterval {
				continue
			}
		case <-t.wake:
		case <-t.stop:
			t.round(true)
			return
		}
		last = time.Now()
		t.round(false)
	}
}

// round collects every record numbered up to now and writes them; final
// writes everything collected and the end block.
func (t *tracer) round(final bool) {
	upTo := traceSeq.Load()
	stolen := make([]*traceBuf, 0, runtime.GOMAXPROCS(0))
	// The swaps hold traceQueueMu, as a producer's hand-over of a full
	// buffer does (traceRefill): a buffer that left its slot before a swap
	// is in the queue by the time it is taken below, so every record
	// numbered up to upTo is in hand. (Without the lock, a buffer a
	// producer had taken out of its slot but not yet queued came a round
	// late, after records numbered later: the trace's writer refused it,
	// "sequence 4120 after 20591", once in a CI run.)
	traceQueueMu.Lock()
	for i := range traceSlots {
		if traceSlots[i].Load() == nil {
			continue
		}
		if b := traceSlots[i].Swap(getTraceBufLocked()); b != nil {
			stolen = append(stolen, b)
		}
	}
	traceQueueMu.Unlock()
	// Wait until no pinned section still appends to a stolen buffer.
	if raceEnabled {
		for _, b := range stolen {
			b.mu.Lock()
			b.mu.Unlock() //nolint:staticcheck // an empty critical section is the point
		}
	} else {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
	}
	traceQueueMu.Lock()
	stolen = append(stolen, traceQueue...)
	traceQueue = nil
	traceQueueCond.Broadcast()
	traceQueueMu.Unlock()
	// Each buffer holds one P's records in sequence order: merge them.
	h := t.carry
	for _, b := range stolen {
		if b.n == 0 {
			putTraceBuf(b)
			continue
		}
		h = append(h, traceCursor{b: b})
	}
	cursorHeap(h).init()
	for len(h) > 0 {
		c := &h[0]
		r := &c.b.recs[c.i]
		if !final && r.seq > upTo {
			break
		}
		t.emit(r)
		if c.i++; c.i == c.b.n {
			putTraceBuf(c.b)
			last := len(h) - 1
			h[0] = h[last]
			h = h[:last]
		}
		cursorHeap(h).down(0)
	}
	t.carry = h
	if t.err == nil {
		t.err = t.out.Flush()
	}
	if final && t.err == nil {
		t.err = t.out.Close()
	}
	if t.err == nil {
		t.err = t.bw.Flush()
	}
	if t.err != nil && !final {
		// Writing failed: stop paying for the recording. StopTrace
		// returns the error.
		traceOn.Store(false)
		setFast(fastTrace, false)
	}
}

// traceCursor is a buffer being merged and the index of its next record.
type traceCursor struct {
	b *traceBuf
	i int
}

// cursorHeap is a binary min-heap of cursors by their next record's
// sequence number.
type cursorHeap []traceCursor

func (h cursorHeap) less(i, j int) bool { return h[i].b.recs[h[i].i].seq < h[j].b.recs[h[j].i].seq }

func (h cursorHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h cursorHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// emit turns one record into an event of the trace.
func (t *tracer) emit(r *traceRec) {
	if t.err != nil {
		return
	}
	e := tracefmt.Event{Seq: r.seq, Time: r.t, Thread: r.pid, Size: r.size, Arg: r.arg}
	switch r.op {
	case recMalloc, recCalloc, recAligned:
		if r.heap != 0 && t.heaps[r.heap] == nil {
			// In a heap the trace does not hold (created while
			// StartTrace ran): left out, as its frees will be.
			t.evict(r.addr)
			t.out.Drop()
			return
		}
		e.Op, e.Heap = tracefmt.Op(r.op), r.heap
		e.ID = t.out.NextID()
		t.bind(r.addr, tracedBlock{e.ID, r.heap})
	case recFree:
		b, ok := t.addrs[r.addr]
		if !ok {
			t.out.Drop() // allocated before the trace (or a bad pointer)
			return
		}
		t.evict(r.addr)
		e.Op, e.ID = tracefmt.Free, b.id
	case recReallocBegin:
		t.reallocs[r.seq] = t.addrs[r.addr]
		t.evict(r.addr)
		return
	case recRealloc:
		seq0 := r.arg
		e.Arg = 0
		old := t.reallocs[seq0] // id 0 when the first half predates the trace
		delete(t.reallocs, seq0)
		if r.addr == 0 {
			if old.id != 0 && (old.heap == 0 || t.heaps[old.heap] != nil) {
				t.bind(r.old, old) // failed: the old block stays
			}
			return
		}
		h := r.heap
		if old.id != 0 {
			h = old.heap // a block keeps its heap
		}
		if h != 0 && t.heaps[h] == nil {
			t.evict(r.addr)
			t.out.Drop()
			return
		}
		e.ID, e.Heap = t.out.NextID(), h
		if old.id == 0 {
			// The old block predates the trace: the new one appears
			// from nowhere, as a malloc.
			t.out.Drop()
			e.Op = tracefmt.Malloc
		} else {
			e.Op, e.Old = tracefmt.Realloc, old.id
		}
		t.bind(r.addr, tracedBlock{e.ID, h})
	case recHeapNew:
		if t.heaps[r.heap] != nil {
			return // recorded at StartTrace already
		}
		t.heaps[r.heap] = map[uintptr]struct{}{}
		e.Op, e.Heap = tracefmt.HeapCreate, r.heap
	case recHeapDestroy:
		set := t.heaps[r.heap]
		if set == nil {
			t.out.Drop() // created while StartTrace ran
			return
		}
		for a := range set {
			delete(t.addrs, a)
		}
		delete(t.heaps, r.heap)
		e.Op, e.Heap = tracefmt.HeapDestroy, r.heap
	default:
		return
	}
	t.err = t.out.Write(&e)
}

// bind records that the traced block b lives at addr, taking the address
// from the dead block that may still hold it (evict).
func (t *tracer) bind(addr uintptr, b tracedBlock) {
	t.evict(addr)
	t.addrs[addr] = b
	if b.heap != 0 {
		t.heaps[b.heap][addr] = struct{}{}
	}
}

// evict forgets the block at addr, if any. Besides frees, an allocation
// evicts a block of a destroyed heap whose destroy is numbered after the
// allocation (the order explained above).
func (t *tracer) evict(addr uintptr) {
	if b, ok := t.addrs[addr]; ok {
		delete(t.addrs, addr)
		if b.heap != 0 {
			delete(t.heaps[b.heap], addr)
		}
	}
}

// initProfiling applies the profiling settings at the first allocation
// (initHeap calls it, with initMu held): the sampling rate
// (OFFHEAP=profile_rate) and the trace file (OFFHEAP=trace).
func initProfiling(s *tune.Settings) {
	storeProfileRate(s.Get(tune.ProfileRate))
	if s.Trace != "" {
		if err := startTraceFile(s.Trace); err != nil {
			fmt.Fprintf(os.Stderr, "offheap: trace=%s: %v (not tracing)\n", s.Trace, err)
		}
	}
}

// logRuntimeTrace reports e to runtime/trace, when it is running, as a
// log message of category "offheap" ("grow arena=0 size=135168
// addr=0x..."): heap growth and shrinking, new heaps, mappings, releases
// and threshold changes then appear in `go tool trace` next to the
// goroutine that caused them. Off, it costs one atomic load.
func logRuntimeTrace(e arena.Event) {
	if rttrace.IsEnabled() {
		rttrace.Log(context.Background(), "offheap", fmt.Sprintf("%v arena=%d size=%d addr=%#x", e.Kind, e.Arena, e.Size, e.Addr))
	}
}
