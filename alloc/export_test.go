package alloc

import (
	"unsafe"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/brk"
	"github.com/offheap/offheap/tune"
)

// RaceEnabled reports whether the test binary runs under the race
// detector (which links libc, so the break is the reserved stand-in).
const RaceEnabled = raceEnabled

// BreakKind reports what backs the main arena's break region.
func BreakKind() brk.Kind {
	theHeap()
	return brkUsed.Kind()
}

// BreakRange returns the break region offheap uses: its base and current end.
func BreakRange() (base, end uintptr) {
	theHeap()
	return brkUsed.Base(), brkUsed.Current()
}

// Params returns the parameters the arenas obey now, including the
// effect of the dynamic threshold.
func Params() arena.Params { return theHeap().Params() }

// Setting returns the value of a parameter as Mallopt stored it.
func Setting(p tune.Param) int64 {
	theHeap()
	initMu.Lock()
	defer initMu.Unlock()
	return settings.Get(p)
}

// ArenaLimit returns the most arenas offheap creates now (M_ARENA_MAX
// resolved: 0 becomes GOMAXPROCS).
func ArenaLimit() int { return int(arenaMax.Load()) }

// FastPaths says that this build has the nosplit fast paths (not -race,
// -asan or -msan): without them every Free takes the checked path.
const FastPaths = fastPaths

// FirstMallocStatics returns the static memory that the first Malloc of a
// process writes (touchFirstPages), by name: address and size. Started
// reports whether the heap is set up already.
func FirstMallocStatics() (statics map[string][2]uintptr, started bool) {
	return map[string][2]uintptr{
		"caches[0]":      {uintptr(unsafe.Pointer(&caches[0])), unsafe.Sizeof(caches[0])},
		"pidArena[0]":    {uintptr(unsafe.Pointer(&pidArena[0])), unsafe.Sizeof(pidArena[0])},
		"arenaStates[0]": {uintptr(unsafe.Pointer(&arenaStates[0])), unsafe.Sizeof(arenaStates[0])},
		"firstPcache":    {uintptr(unsafe.Pointer(&firstPcache)), unsafe.Sizeof(firstPcache)},
		"firstLimits":    {uintptr(unsafe.Pointer(&firstLimits)), unsafe.Sizeof(firstLimits)},
	}, inited.Load()
}
