//go:build !race

package alloc

// Prefetch hints for the arena lists (remote.go). A batch on a list is
// linked through its chunks, and the P that takes it (the producer of a
// producer/consumer pair) hands them out one by one, each pop reading the
// link of a chunk whose line another core wrote last: one cross-core miss
// after another, the next address known only once the last miss is over.
// The pusher has the batch's addresses in an array already; it leaves
// them in a small table of the arena's, keyed by the batch's first chunk,
// and the taker, finding its batch there, asks for every chunk's line at
// once (prefetchLinks), so that the misses overlap: prodcons/64 85 -> 33
// ns a block, xmalloc-test 48 -> 40, in one run.
//
// The table is a hint and nothing more: entries are overwritten by later
// batches, read while another P may be writing them, and never trusted
// (a prefetch neither faults nor changes memory, so a stale or torn entry
// costs a wasted prefetch at worst). It is compiled out under the race
// detector, whose report of those deliberate races would hide real ones
// (remotehint_race.go).

// hintSlots is the size of an arena's hint table (a power of two).
const hintSlots = 64

// batchHint is the addresses of one batch's chunks, after its first.
type batchHint struct {
	first uintptr
	n     int
	rest  [maxBatch]uintptr
}

// hintTable is an arena's table of batch hints.
type hintTable [hintSlots]batchHint

func hintSlot(first uintptr) int { return int(first>>4) & (hintSlots - 1) }

// noteBatch records the chunks of a batch about to be pushed (run[0] its
// first).
func (t *hintTable) noteBatch(run []uintptr) {
	e := &t[hintSlot(run[0])]
	e.first = 0 // a reader meanwhile sees no entry rather than a mixed one (mostly: it is a hint)
	n := copy(e.rest[:], run[1:])
	e.n = n
	e.first = run[0]
}

// prefetchBatch asks for the lines of the batch starting at first, if the
// table knows it.
func (t *hintTable) prefetchBatch(first uintptr, n int) {
	e := &t[hintSlot(first)]
	if e.first != first {
		return
	}
	if k := min(e.n, n-1, len(e.rest)); k > 0 {
		prefetchLinks(&e.rest[0], k)
	}
}
