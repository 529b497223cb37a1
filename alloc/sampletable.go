package alloc

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The table of sampled blocks: for each block in the heap profile, the id of
// its bucket (samplebucket.go), so that freeing it can count the free where
// its allocation was counted. A block's S header bit tells Free to look
// here; nothing else does.
//
// It is a hash table of one-word entries in lines of eight (a cache line):
// an entry lives in the line its address hashes to, anywhere in it, and an
// empty slot is 0. A sample enters its block with one compare-and-swap and a
// free removes it with one ordinary store (clearSlot), without a lock; there
// are no tombstones, since a search always reads the whole line. An entry
// packs the user pointer (16-aligned and below 2^48, so 44 bits hold p>>4)
// and the bucket id (20 bits).
//
// A line that is full when a sample comes is what makes the table grow: it
// is rebuilt with twice the slots, and at least eight per live entry, so
// that a line (one entry in it on average) fills up about once in 10^5
// lines. Updates run pinned to their P (procPin), so the rebuilder freezes
// the table, waits for a stop-the-world (by then no pinned update of the old
// table is still running, as for the per-P caches, see flush.go), copies the
// entries, and publishes the new table; an update that finds the table
// frozen waits for the rebuild and starts again. Under the race detector,
// where procPin does not pin, a mutex serializes updates instead.

const (
	tableHashMul  = 0x9E3779B97F4A7C15 // Fibonacci hashing's multiplier, a key's to its line
	entryAddrBits = 44
	entryAddrMask = 1<<entryAddrBits - 1
	lineSlots     = 8
	minTableSlots = 1024
)

type addrTable struct {
	slots  []atomic.Uint64
	shift  uint // 64 - log2(number of lines)
	frozen atomic.Bool
}

func newAddrTable(n int) *addrTable {
	lines := n / lineSlots
	return &addrTable{slots: make([]atomic.Uint64, n), shift: uint(64 - bits.TrailingZeros(uint(lines)))}
}

var sampleTable struct {
	cur atomic.Pointer[addrTable]
	mu  sync.Mutex // rebuilds; every update under the race detector
}

// tableKey returns the key of user pointer p, or 0 if p cannot be in the
// table (it is not 16-aligned, or too high).
func tableKey(p uintptr) uint64 {
	k := uint64(p) >> 4
	if p&15 != 0 || k == 0 || k > entryAddrMask {
		return 0
	}
	return k
}

// line returns the line of key. (Through unsafe.Add: the index is below
// len(t.slots) by construction, the top bits of a 64-bit product shifted
// down to a line's number, so the slice's bounds checks were dead code.)
func (t *addrTable) line(key uint64) *[lineSlots]atomic.Uint64 {
	i := (key * tableHashMul) >> t.shift * lineSlots
	return (*[lineSlots]atomic.Uint64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.slots)), i*8))
}

// Results of the table's updates.
const (
	tableDone     = iota
	tableFrozen   // a rebuild is under way: wait for it and retry
	tableFull     // the key's line is full: rebuild and retry
	tableNotFound // remove: no such entry
)

// insert enters e, the entry of key. An entry of the same key still in the
// table is stale (its block was freed on a path that could not tell the
// profile: a free given up after heap corruption was reported), since an
// allocation just returned the address again: insert replaces it and
// returns its bucket id as stale, for the caller to count as freed.
func (t *addrTable) insert(key uint64, e uint64) (result int, stale uint32) {
	if t.frozen.Load() {
		return tableFrozen, 0
	}
	l := t.line(key)
again:
	// The key first (key is never 0, so a match is never an empty slot),
	// eight compares in a row (a switch, not a loop: the line is read
	// whole for every sample, and a loop's counting doubled the work),
	// then the first empty slot, which a line that is mostly empty shows
	// at once. A slot that changes between the reads and the
	// compare-and-swap makes it look again.
	i := 0
	switch key {
	case l[0].Load() & entryAddrMask:
	case l[1].Load() & entryAddrMask:
		i = 1
	case l[2].Load() & entryAddrMask:
		i = 2
	case l[3].Load() & entryAddrMask:
		i = 3
	case l[4].Load() & entryAddrMask:
		i = 4
	case l[5].Load() & entryAddrMask:
		i = 5
	case l[6].Load() & entryAddrMask:
		i = 6
	case l[7].Load() & entryAddrMask:
		i = 7
	default:
		for i := range l {
			if l[i].Load() == 0 {
				if l[i].CompareAndSwap(0, e) {
					return tableDone, 0
				}
				goto again
			}
		}
		return tableFull, 0
	}
	if v := l[i].Load(); v&entryAddrMask == key && l[i].CompareAndSwap(v, e) {
		return tableDone, uint32(v >> entryAddrBits)
	}
	goto again
}

// remove deletes key's entry and returns its bucket id. Only the free of
// the block removes its entry, so no one else changes the slot between the
// load that finds it and the store.
func (t *addrTable) remove(key uint64) (uint32, int) {
	if t.frozen.Load() {
		return 0, tableFrozen
	}
	l := t.line(key)
	for i := range l {
		if v := l[i].Load(); v&entryAddrMask == key { // key != 0: not an empty slot
			clearSlot(&l[i])
			return uint32(v >> entryAddrBits), tableDone
		}
	}
	return 0, tableNotFound
}

// clearSlot empties slot x with an ordinary store: an aligned word store is
// indivisible on every platform Go supports, and no ordering is needed
// here. An inserter that reads the old entry meanwhile finds no empty slot
// or another key and looks again or reports the line full (the rebuild
// then copies what it finds after a stop-the-world, which orders this
// store before it). atomic's Store is an exchange on amd64, a locked
// instruction: it cost each sampled block's free about 5 ns. Under the
// race detector a mutex serializes every update (above), and the store is
// atomic there, to keep the detector's view of the table consistent.
func clearSlot(x *atomic.Uint64) {
	if raceEnabled {
		x.Store(0)
		return
	}
	*(*uint64)(unsafe.Pointer(x)) = 0
}

// insertSample enters user pointer p with bucket id in the table, and
// reports false if p cannot be entered. It returns the bucket id of a
// stale entry it replaced, or 0.
func insertSample(p uintptr, id uint32) (ok bool, stale uint32) {
	key := tableKey(p)
	if key == 0 {
		return false, 0
	}
	e := key | uint64(id)<<entryAddrBits
	for {
		r := tableFull
		if raceEnabled {
			sampleTable.mu.Lock()
			t := sampleTable.cur.Load()
			if t != nil {
				r, stale = t.insert(key, e)
			}
			if r != tableDone {
				rebuildSampleTableLocked(t)
			}
			sampleTable.mu.Unlock()
		} else {
			procPin()
			t := sampleTable.cur.Load()
			if t != nil {
				r, stale = t.insert(key, e)
			}
			procUnpin()
			if r != tableDone {
				rebuildSampleTable(t)
			}
		}
		if r == tableDone {
			return true, stale
		}
	}
}

// removeSample deletes user pointer p from the table and returns its
// bucket id, or false if p is not there.
func removeSample(p uintptr) (uint32, bool) {
	key := tableKey(p)
	if key == 0 || sampleTable.cur.Load() == nil {
		return 0, false
	}
	for {
		if raceEnabled {
			sampleTable.mu.Lock()
			id, r := sampleTable.cur.Load().remove(key)
			sampleTable.mu.Unlock()
			return id, r == tableDone
		}
		procPin()
		t := sampleTable.cur.Load()
		id, r := t.remove(key)
		procUnpin()
		switch r {
		case tableDone:
			return id, true
		case tableNotFound:
			return 0, false
		}
		rebuildSampleTable(t) // frozen: wait for the rebuild, then retry
	}
}

// rebuildSampleTable rebuilds table t, unless someone else did already
// (then it only waits for that rebuild to end).
func rebuildSampleTable(t *addrTable) {
	sampleTable.mu.Lock()
	defer sampleTable.mu.Unlock()
	rebuildSampleTableLocked(t)
}

func rebuildSampleTableLocked(t *addrTable) {
	if sampleTable.cur.Load() != t {
		return
	}
	n, live := minTableSlots, 0
	if t != nil {
		t.frozen.Store(true)
		if !raceEnabled {
			// No pinned update of t is still running once the world has
			// stopped; later ones see it frozen.
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
		}
		for i := range t.slots {
			if t.slots[i].Load() != 0 {
				live++
			}
		}
		n = max(n, 2*len(t.slots), 1<<bits.Len(uint(live*lineSlots)))
	}
	for {
		nt := newAddrTable(n)
		if t == nil || copyEntries(nt, t) {
			sampleTable.cur.Store(nt)
			return
		}
		n *= 2 // a line overflowed: unlucky, try bigger
	}
}

// copyEntries enters every entry of t in nt, which nobody else sees yet,
// and reports false if a line of nt overflowed.
func copyEntries(nt, t *addrTable) bool {
	for i := range t.slots {
		v := t.slots[i].Load()
		if v == 0 {
			continue
		}
		l := nt.line(v & entryAddrMask)
		j := 0
		for j < lineSlots && l[j].Load() != 0 {
			j++
		}
		if j == lineSlots {
			return false
		}
		l[j].Store(v)
	}
	return true
}

// liveSampleCount counts the table's entries (for tests and statistics).
func liveSampleCount() int {
	t := sampleTable.cur.Load()
	if t == nil {
		return 0
	}
	n := 0
	for i := range t.slots {
		if t.slots[i].Load() != 0 {
			n++
		}
	}
	return n
}
