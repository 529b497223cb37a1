package alloc

import (
	"io"
	"io/fs"
	"unsafe"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/tune"
)

// Internals for the tests of statistics, limits and the environment.

// StatsRaceEnabled reports whether the test binary runs under the race
// detector.
const StatsRaceEnabled = raceEnabled

// ReadStatsBins is ReadStats that also returns every arena's bins.
func ReadStatsBins(s *Stats) [][]arena.BinSize {
	var bins [][]arena.BinSize
	readStats(s, &bins)
	return bins
}

// WriteStatsOf, WriteInfoOf and WriteJSONOf print a given snapshot.
func WriteStatsOf(w io.Writer, s *Stats) error { return writeStatsText(w, s) }

func WriteInfoOf(w io.Writer, s *Stats, bins [][]arena.BinSize) error {
	return writeInfoXML(w, s, bins)
}

func WriteJSONOf(w io.Writer, s *Stats) error { return writeStatsJSON(w, s, "  ") }

// Accounts returns the three accounts of the heaps' system memory: the
// OS boundary's (heap bytes), the arenas' events' and Sys split into heap
// and Map bytes.
func Accounts() (sys, heapBytes, mapBytes, eventHeapSys int64) {
	return account.sys.Load(), account.heapBytes.Load(), account.mapBytes.Load(), events.heapSys.Load()
}

// SettingsGet returns the setting of p in force.
func SettingsGet(p tune.Param) int64 {
	theHeap()
	initMu.Lock()
	defer initMu.Unlock()
	return settings.Get(p)
}

// HeapParams returns the arenas' parameters in force.
func HeapParams() arena.Params { return theHeap().Params() }

// NumArenas returns how many arenas exist.
func NumArenas() int { return theHeap().NumArenas() }

// IsMapped reports whether p is a mapped chunk's user pointer.
func IsMapped(p unsafe.Pointer) bool {
	k, _ := theHeap().Lookup(uintptr(p))
	return k == arena.InMapped
}

// ArenaMalloc allocates n bytes from arena i (creating arenas up to i),
// bypassing the per-P caches.
func ArenaMalloc(i, n int) unsafe.Pointer {
	h := theHeap()
	for h.NumArenas() <= i {
		if _, err := h.NewArena(); err != nil {
			panic(err)
		}
	}
	return unsafe.Add(nil, h.Arena(i).Malloc(uintptr(n)))
}

// SetMapBudget sets the mapping budget and returns the old one.
func SetMapBudget(b int64) int64 { return account.mapBudget.Swap(b) }

// CgroupMemoryLimit is cgroupMemoryLimit.
func CgroupMemoryLimit(fsys fs.FS) (int64, bool) { return cgroupMemoryLimit(fsys) }

// LimitErrors are the errors a request refused by the limit or the
// mapping budget gets.
func LimitErrors() []error { return []error{errLimit, errMapBudget} }
