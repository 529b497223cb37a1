package alloc

// LiveSamples returns how many blocks the table of sampled blocks holds.
func LiveSamples() int { return liveSampleCount() }

// FPUnwind reports whether samples take their stacks from frame pointers.
func FPUnwind() bool { return fpUnwind }

// FPCallers is fpCallers for tests: runtime.Callers from frame pointers.
//
//go:noinline
func FPCallers(skip int, pcs []uintptr) int { return fpCallers(skip+1, pcs) }

// FastLog2 is fastlog2, out of its fixed point.
func FastLog2(q uint32) float64 { return float64(fastlog2(q)) / (1 << log2FixedBits) }

// NextSampleGap is nextSampleGap.
func NextSampleGap() int64 { return nextSampleGap() }

// ExpandPhysical is expandPhysical.
func ExpandPhysical(stk []uintptr) []uintptr { return expandPhysical(stk) }

// ExpandLinked says whether expandPhysical is the runtime's.
const ExpandLinked = expandLinked

// MaxStack is the deepest stack a sample records.
const MaxStack = maxStack

// AddrTable is the table of sampled blocks, for tests of its own.
type AddrTable = addrTable

// NewAddrTable returns an empty table of n slots (a power of two).
func NewAddrTable(n int) *AddrTable { return newAddrTable(n) }

// Insert enters p with bucket id; see addrTable.insert.
func (t *addrTable) Insert(p uintptr, id uint32) (full bool, stale uint32) {
	k := tableKey(p)
	r, stale := t.insert(k, k|uint64(id)<<entryAddrBits)
	return r == tableFull, stale
}

// Remove deletes p and returns its bucket id; see addrTable.remove.
func (t *addrTable) Remove(p uintptr) (id uint32, found bool) {
	id, r := t.remove(tableKey(p))
	return id, r != tableNotFound
}

// LineSlots is the entries a line of the table holds.
const LineSlots = lineSlots
