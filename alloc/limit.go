package alloc

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/brk"
	"github.com/offheap/offheap/mmapper"
	"github.com/offheap/offheap/tune"
)

// The OS boundary as the arenas see it. osMemory (arena.Memory over
// mmapper) and countedBreak (arena.Break over brk) charge every byte that
// crosses it to one account, as runtime.sysAlloc charges its stat: Sys, the
// memory offheap holds from the operating system (mapped read-write, or
// below the break), resident or not. Three things rest on that account:
//
//   - The memory limit (OFFHEAP=limit=8g, SetMemoryLimit, Mallopt of
//     tune.Limit). A request that would take Sys past it is refused before
//     any system call is made, and the arena takes it as the OS saying no.
//     The allocation slow path then flushes the per-P caches and trims every
//     arena (reclaimForLimit) and tries once more; only then does Malloc
//     return nil.
//   - The coupling with the Go runtime's memory limit (OFFHEAP=gomemlimit=auto,
//     CoupleGoMemoryLimit): the Go limit is kept at the total the operator
//     gave (GOMEMLIMIT, or the cgroup's memory limit) minus Sys. It is
//     updated from the account's changes, only when Sys has moved by more
//     than 1 MiB or 1% of the total since the last update.
//   - The mapping budget against vm.max_map_count: each Map counts one
//     mapping and each heap reservation two (its committed and its reserved
//     part), an upper bound since the kernel merges neighbours. Past the
//     budget Map is refused, so the arenas serve large requests from their
//     heaps instead of mapping them one by one.
//
// The account is kept with atomics; the reservations (one per 64 MiB heap)
// are remembered in a small map so that Unmap knows how much of one was
// committed. Nothing here allocates on the Go heap when chunks are mapped
// and unmapped.

// account is the memory offheap holds from the operating system.
var account struct {
	sys, sysPeak atomic.Int64
	mapBytes     atomic.Int64 // memory from Map: mapped chunks and offheap's tables
	heapBytes    atomic.Int64 // committed memory of the heaps and the break
	breakBytes   atomic.Int64 // memory below the break
	mappings     atomic.Int64 // mappings made, the estimate the budget is checked against

	limit       atomic.Int64  // bytes; 0 is none
	refused     atomic.Uint64 // requests refused because of the limit
	refusedSeen atomic.Uint64 // refused when the last reclaim began
	reclaims    atomic.Uint64 // flush-and-trim passes made for the limit
	reclaimMu   sync.Mutex    // one reclaim at a time

	maxMapCount atomic.Int64  // vm.max_map_count
	mapBudget   atomic.Int64  // mappings allowed for Map; 0 is no budget
	mapRefused  atomic.Uint64 // Map calls refused because of the budget

	mu           sync.Mutex
	reservations map[uintptr]*reservation // by start
}

// reservation is one range from Reserve: a heap.
type reservation struct {
	size, committed uintptr
}

// The mapping budget leaves the rest of the process room: at least
// budgetReserveMin mappings, or an eighth of vm.max_map_count. Heaps (two
// mappings each, and rare) may use heapBudgetSlack of that room, so that a
// large request refused a mapping can still be served from a new heap.
const (
	defaultMaxMapCount = 65530
	budgetReserveMin   = 1024
	heapBudgetSlack    = 256
	breakMappings      = 2 // the break: one mapping, two for the reserved stand-in
)

// The errors a refused request gets; the arenas treat them as the OS's ENOMEM.
var (
	errLimit     = fmt.Errorf("offheap: memory limit reached: %w", syscall.ENOMEM)
	errMapBudget = fmt.Errorf("offheap: mapping budget (vm.max_map_count) reached: %w", syscall.ENOMEM)
)

// initAccount reads vm.max_map_count and sets the mapping budget; the
// break's mappings count from the start.
func initAccount() {
	account.reservations = make(map[uintptr]*reservation)
	// vm.max_map_count is read when the mappings first pass
	// mapCountEarly (readMaxMapCount): reading /proc costs the first
	// allocation about 100 us, and the kernel's default holds until then.
	setMaxMapCount(defaultMaxMapCount)
	account.mappings.Store(breakMappings)
}

// mapCountEarly is how many mappings offheap makes before it reads
// vm.max_map_count: far below any budget the kernel's range allows.
const mapCountEarly = 512

var maxMapCountOnce sync.Once

// readMaxMapCount reads vm.max_map_count, once.
func readMaxMapCount() {
	maxMapCountOnce.Do(func() {
		if b, err := os.ReadFile("/proc/sys/vm/max_map_count"); err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 {
				setMaxMapCount(v)
			}
		}
	})
}

// setMaxMapCount sets vm.max_map_count as offheap sees it, and the budget.
func setMaxMapCount(n int64) {
	account.maxMapCount.Store(n)
	account.mapBudget.Store(max(n-max(budgetReserveMin, n/8), 1))
}

// charge adds n bytes to Sys, unless that would pass the limit.
func charge(n uintptr) bool {
	for {
		cur := account.sys.Load()
		next := cur + int64(n)
		if l := account.limit.Load(); l > 0 && next > l {
			account.refused.Add(1)
			return false
		}
		if account.sys.CompareAndSwap(cur, next) {
			raise(&account.sysPeak, next)
			goLimitFollow()
			return true
		}
	}
}

// uncharge takes n bytes off Sys.
func uncharge(n uintptr) {
	account.sys.Add(-int64(n))
	goLimitFollow()
}

// raise makes peak at least v.
func raise(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// mappingAllowed reports whether k more mappings fit: in the budget, or
// for a heap, in the budget plus heapBudgetSlack.
func mappingAllowed(k int64, heap bool) bool {
	if account.mappings.Load()+k > mapCountEarly {
		readMaxMapCount()
	}
	b := account.mapBudget.Load()
	if heap {
		b += heapBudgetSlack
	}
	return account.mappings.Load()+k <= b
}

// admitMap lets one more mapping of n bytes in, or says why not: the
// mapping budget (max_map_count) or the memory limit. On nil the n bytes
// are charged to the account.
func admitMap(n uintptr) error {
	if !mappingAllowed(1, false) {
		account.mapRefused.Add(1)
		return errMapBudget
	}
	if !charge(n) {
		return errLimit
	}
	return nil
}

// osMemory is the arena's Memory over mmapper, charging the account.
type osMemory struct{}

func (osMemory) PageSize() uintptr { return mmapper.PageSize() }

func (osMemory) Map(n uintptr) (uintptr, error) {
	if err := admitMap(n); err != nil {
		return 0, err
	}
	addr, err := mmapper.Map(n)
	if err != nil {
		uncharge(n)
		return 0, err
	}
	account.mapBytes.Add(int64(n))
	account.mappings.Add(1)
	return addr, nil
}

func (osMemory) Unmap(addr, n uintptr) error {
	// A reservation leaves the account before its range goes back to the
	// system: once unmapped, the address may be another goroutine's new
	// reservation at once, entered under the same key.
	account.mu.Lock()
	r := account.reservations[addr]
	if r != nil {
		delete(account.reservations, addr)
	}
	account.mu.Unlock()
	if err := mmapper.Unmap(addr, n); err != nil {
		if r != nil {
			account.mu.Lock()
			account.reservations[addr] = r
			account.mu.Unlock()
		}
		return err
	}
	if r != nil {
		account.heapBytes.Add(-int64(r.committed))
		account.mappings.Add(-2)
		uncharge(r.committed)
		return nil
	}
	// A whole range from Map: the arenas unmap nothing else.
	account.mapBytes.Add(-int64(n))
	account.mappings.Add(-1)
	uncharge(n)
	return nil
}

// UnmapRange gives back count whole ranges from Map lying side by side
// from addr for n bytes, in one call (arena.RangeUnmapper).
func (osMemory) UnmapRange(addr, n uintptr, count int) error {
	if err := mmapper.Unmap(addr, n); err != nil {
		return err
	}
	account.mapBytes.Add(-int64(n))
	account.mappings.Add(-int64(count))
	uncharge(n)
	return nil
}

func (osMemory) Remap(addr, oldN, newN uintptr) (uintptr, error) {
	if newN > oldN && !charge(newN-oldN) {
		return 0, errLimit
	}
	na, err := mmapper.Remap(addr, oldN, newN, true)
	if err != nil {
		if newN > oldN {
			uncharge(newN - oldN)
		}
		return 0, err
	}
	account.mapBytes.Add(int64(newN) - int64(oldN))
	if newN < oldN {
		uncharge(oldN - newN)
	}
	return na, nil
}

func (osMemory) Reserve(n, align uintptr) (uintptr, error) {
	if !mappingAllowed(2, true) {
		account.mapRefused.Add(1)
		return 0, errMapBudget
	}
	addr, err := mmapper.Reserve(n, align)
	if err != nil {
		return 0, err
	}
	account.mu.Lock()
	account.reservations[addr] = &reservation{size: n}
	account.mu.Unlock()
	account.mappings.Add(2)
	return addr, nil
}

func (osMemory) Commit(addr, n uintptr) error {
	if !charge(n) {
		return errLimit
	}
	if err := mmapper.Commit(addr, n); err != nil {
		uncharge(n)
		return err
	}
	account.heapBytes.Add(int64(n))
	commitIn(addr, int64(n))
	return nil
}

func (osMemory) Decommit(addr, n uintptr) error {
	if err := mmapper.Decommit(addr, n); err != nil {
		return err
	}
	account.heapBytes.Add(-int64(n))
	commitIn(addr, -int64(n))
	uncharge(n)
	return nil
}

func (osMemory) Release(addr, n uintptr) error { return mmapper.DontNeed(addr, n) }

// Populate is arena.PopulateMemory's: the pages become resident in one call.
func (osMemory) Populate(addr, n uintptr) error { return mmapper.Populate(addr, n) }

// commitIn records d more committed bytes in the reservation holding addr.
func commitIn(addr uintptr, d int64) {
	account.mu.Lock()
	defer account.mu.Unlock()
	if r := account.reservations[addr&^(arena.HeapSize-1)]; r != nil {
		r.committed = uintptr(int64(r.committed) + d)
		return
	}
	for base, r := range account.reservations {
		if addr >= base && addr-base < r.size {
			r.committed = uintptr(int64(r.committed) + d)
			return
		}
	}
}

// reservedRanges returns the start and size of every reservation.
func reservedRanges() [][2]uintptr {
	account.mu.Lock()
	defer account.mu.Unlock()
	out := make([][2]uintptr, 0, len(account.reservations))
	for base, r := range account.reservations {
		out = append(out, [2]uintptr{base, r.size})
	}
	return out
}

// countedBreak is the arena's Break over brk, charging the account.
type countedBreak struct{ b *brk.Break }

func (c countedBreak) Base() uintptr    { return c.b.Base() }
func (c countedBreak) Current() uintptr { return c.b.Current() }

func (c countedBreak) Grow(n uintptr) (uintptr, error) {
	if !charge(n) {
		return 0, errLimit
	}
	old, err := c.b.Grow(n)
	if err != nil {
		uncharge(n)
		return 0, err
	}
	account.heapBytes.Add(int64(n))
	account.breakBytes.Add(int64(n))
	return old, nil
}

func (c countedBreak) Shrink(n uintptr) error {
	if err := c.b.Shrink(n); err != nil {
		return err
	}
	account.heapBytes.Add(-int64(n))
	account.breakBytes.Add(-int64(n))
	uncharge(n)
	return nil
}

// SetMemoryLimit sets offheap's memory limit to limit bytes and returns the
// previous one; 0 means no limit, and a negative limit changes nothing (it
// only reads the limit, like runtime/debug.SetMemoryLimit). The limit
// bounds Sys (see Stats): the memory offheap holds from the operating
// system, its heaps, mapped chunks and tables together. A request that
// would pass it is refused before any system call; offheap then flushes
// the per-P caches and trims every arena, tries once more, and failing
// that Malloc (and Calloc, Realloc, AlignedAlloc) returns nil. Each refused
// request costs that flush and trim, a stop-the-world pause and a walk of
// the free lists, so a program should not spin on allocations refused at
// its limit. A limit below what offheap holds already frees nothing by
// itself: it stops growth, and a flush and trim are made at once.
//
// It is Mallopt(tune.Limit, limit), and the environment's OFFHEAP=limit=.
func SetMemoryLimit(limit int64) int64 {
	theHeap()
	prev := account.limit.Load()
	if limit < 0 {
		return prev
	}
	if err := Mallopt(tune.Limit, int(limit)); err != nil {
		panic("offheap: SetMemoryLimit: " + err.Error()) // the range is 0..MaxInt64: unreachable
	}
	if limit > 0 && account.sys.Load() > limit {
		flushAll()
		theHeap().Trim(0)
	}
	return prev
}

// reclaimForLimit is the allocation slow path's second chance, called
// when an arena could not serve a request, with no arena lock held. When a
// memory limit is set and a request was refused for it since the last
// reclaim, it flushes the per-P caches and trims every arena. It reports
// whether the allocation is worth trying again: a goroutine that failed
// while another reclaimed waits for that reclaim and tries again too.
func reclaimForLimit() bool {
	if account.limit.Load() == 0 {
		return false
	}
	r := account.refused.Load()
	if r == 0 {
		return false
	}
	account.reclaimMu.Lock()
	defer account.reclaimMu.Unlock()
	if account.refusedSeen.Load() < r {
		account.refusedSeen.Store(account.refused.Load())
		account.reclaims.Add(1)
		flushAll()
		theHeap().Trim(0)
	}
	return true
}

// ---- the Go runtime's memory limit ----

// goLimit couples the Go runtime's soft memory limit with Sys.
var goLimit struct {
	mu      sync.Mutex // held while turning on or off and while updating
	on      atomic.Bool
	total   atomic.Int64  // the memory Go and offheap share
	orig    int64         // the Go limit before the coupling began
	applied atomic.Int64  // Sys when the Go limit was last set
	limit   atomic.Int64  // the Go limit last set
	updates atomic.Uint64 // times the Go limit was set
	source  string        // where total came from
}

// goLimitStep is the hysteresis: the Go limit is updated when Sys has
// moved by at least this much since the last update.
func goLimitStep() int64 { return max(1<<20, goLimit.total.Load()/100) }

// goLimitFollow updates the Go limit if Sys moved far enough. Cheap when
// the coupling is off (one atomic load) or Sys moved little (three).
func goLimitFollow() {
	if !goLimit.on.Load() {
		return
	}
	for range 4 {
		d := account.sys.Load() - goLimit.applied.Load()
		if d < 0 {
			d = -d
		}
		if d < goLimitStep() || !goLimit.mu.TryLock() {
			return
		}
		if goLimit.on.Load() {
			applyGoLimitLocked()
		}
		goLimit.mu.Unlock()
	}
}

// applyGoLimitLocked sets the Go limit to total - Sys (not below 0: the
// Go runtime's GC CPU limiter then bounds what the collector costs).
func applyGoLimitLocked() {
	sys := account.sys.Load()
	l := max(goLimit.total.Load()-sys, 0)
	debug.SetMemoryLimit(l)
	goLimit.applied.Store(sys)
	goLimit.limit.Store(l)
	goLimit.updates.Add(1)
}

// CoupleGoMemoryLimit makes offheap keep the Go runtime's soft memory limit
// (runtime/debug.SetMemoryLimit) at total minus Sys, the memory offheap
// holds, so that the garbage collector works to keep the Go heap and
// offheap together within total. The Go limit follows Sys as it grows and
// shrinks, updated when Sys has moved by more than 1 MiB or 1% of total
// since the last update (an atomic load or three per system call
// otherwise). It never goes below 0; the Go runtime's GC CPU limiter then
// bounds what the collector costs.
//
// total 0 finds the total: the Go memory limit in force (GOMEMLIMIT, or an
// earlier debug.SetMemoryLimit) if one is set, otherwise the memory limit
// of the process's cgroup (memory.max in cgroup v2, memory.limit_in_bytes
// in v1, the lowest on the path to the root); it is an error if there is
// neither. A negative total ends the coupling and gives the Go runtime back
// the limit it had when the coupling began. CoupleGoMemoryLimit returns the
// total in use, 0 once the coupling is off.
//
// OFFHEAP=gomemlimit=auto and Mallopt(tune.GoMemLimit, 1) are
// CoupleGoMemoryLimit(0); gomemlimit=off and Mallopt(tune.GoMemLimit, 0)
// are CoupleGoMemoryLimit(-1).
func CoupleGoMemoryLimit(total int64) (int64, error) {
	theHeap()
	on := int64(0)
	if total >= 0 {
		on = 1
	}
	initMu.Lock()
	defer initMu.Unlock()
	if err := coupleGoLimitLocked(total); err != nil {
		return 0, fmt.Errorf("offheap: CoupleGoMemoryLimit: %w", err)
	}
	_ = settings.Set(tune.GoMemLimit, on)
	setByMallopt[tune.GoMemLimit] = true
	return goLimit.total.Load(), nil
}

// applyLimitsLocked applies the limit and gomemlimit settings when the
// allocator starts (initMu held) and returns the problems met.
func applyLimitsLocked() []error {
	account.limit.Store(settings.Get(tune.Limit))
	if settings.Get(tune.GoMemLimit) == 1 {
		if err := coupleGoLimitLocked(0); err != nil {
			_ = settings.Set(tune.GoMemLimit, 0)
			return []error{err}
		}
	}
	return nil
}

// coupleGoLimitLocked turns the coupling on with total (0: detect) or, for
// a negative total, off. initMu is held.
func coupleGoLimitLocked(total int64) error {
	goLimit.mu.Lock()
	defer goLimit.mu.Unlock()
	if total < 0 {
		if goLimit.on.Swap(false) {
			debug.SetMemoryLimit(goLimit.orig)
			goLimit.total.Store(0)
			goLimit.limit.Store(0)
		}
		return nil
	}
	orig := debug.SetMemoryLimit(-1)
	if goLimit.on.Load() {
		orig = goLimit.orig // the limit now in force is ours
	}
	source := "CoupleGoMemoryLimit"
	if total == 0 {
		var err error
		total, source, err = detectMemoryTotal(orig)
		if err != nil {
			return err
		}
	}
	goLimit.orig = orig
	goLimit.source = source
	goLimit.total.Store(total)
	goLimit.on.Store(true)
	applyGoLimitLocked()
	return nil
}

// errNoTotal says that gomemlimit=auto found nothing to share.
var errNoTotal = errors.New("gomemlimit=auto: neither GOMEMLIMIT (the Go memory limit) nor a cgroup memory limit is set; the Go memory limit is left alone")

// detectMemoryTotal finds the memory Go and offheap share: goLimit, the Go
// limit in force, if set; otherwise the cgroup's limit.
func detectMemoryTotal(goLimitNow int64) (int64, string, error) {
	if goLimitNow != math.MaxInt64 {
		return goLimitNow, "GOMEMLIMIT", nil
	}
	if l, ok := cgroupMemoryLimit(os.DirFS("/")); ok {
		return l, "cgroup", nil
	}
	return 0, "", errNoTotal
}

// cgroupMemoryLimit returns the memory limit of this process's cgroup, read
// from fsys, the root of the file system: the lowest limit set on the path
// from the process's cgroup up to the root, in cgroup v2 (memory.max) or in
// v1 (the memory controller's memory.limit_in_bytes). ok is false when no
// limit is set or nothing could be read.
func cgroupMemoryLimit(fsys fs.FS) (limit int64, ok bool) {
	b, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	best := int64(math.MaxInt64)
	for line := range strings.SplitSeq(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		var dir, file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			dir, file = "sys/fs/cgroup", "memory.max"
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			dir, file = "sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		for p := path.Clean(parts[2]); ; p = path.Dir(p) {
			if v, ok := readCgroupLimit(fsys, path.Join(dir, p, file)); ok && v < best {
				best = v
			}
			if p == "/" {
				break
			}
		}
	}
	return best, best != math.MaxInt64
}

// readCgroupLimit reads one limit file: a number of bytes, or "max" (v2)
// or a number near 2^63 (v1) for none.
func readCgroupLimit(fsys fs.FS, name string) (int64, bool) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v <= 0 || v >= 1<<62 {
		return 0, false
	}
	return v, true
}
