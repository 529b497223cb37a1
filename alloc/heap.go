package alloc

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/offheap/offheap/arena"
	"github.com/offheap/offheap/brk"
	"github.com/offheap/offheap/tune"
)

// The process-wide allocator: one arena.Heap over the program break (or its
// reserved stand-in) and mmapper, configured from the environment at the
// first allocation.
var (
	heap     *arena.Heap
	inited   atomic.Bool
	initMu   sync.Mutex
	settings tune.Settings // guarded by initMu after init
	brkUsed  *brk.Break

	// arenaMax is the most arenas offheap creates (M_ARENA_MAX; 0 in the
	// settings means GOMAXPROCS: one arena per P, as glibc gives one per
	// thread. glibc's 8 x cores allows for more threads than cores; Go runs
	// at most GOMAXPROCS goroutines at once, so arenas beyond that only
	// catch a goroutine preempted with an arena locked, and each one keeps
	// the high-water mark of its heaps resident.)
	arenaMax atomic.Int32

	// perturbByte mirrors M_PERTURB for the slow paths.
	perturbByte atomic.Uint32

	// fastOff is the one word the fast paths (fast.go) read of every
	// optional feature: while any bit is set, Malloc and Free go straight
	// to their slow paths.
	fastOff atomic.Uint32

	// eventHook receives arena events (the demo command prints them).
	eventHook atomic.Pointer[func(arena.Event)]
)

// The bits of fastOff.
const (
	fastNotInited = 1 << iota // the heap is not set up yet
	fastDebug                 // the debug mode (debugOn)
	fastTrace                 // a trace is being recorded (traceOn)
	fastPerturb               // M_PERTURB is set
	fastBadPid                // getPid disagrees with procPin (checkPid)
	fastHarden                // harden=1: every Free takes the checked path
	fastPending               // a background flush found corruption (raisePending)

	// mallocOff are the bits that turn Malloc's fast path off (harden
	// concerns Free only).
	mallocOff = ^uint32(fastHarden)
)

func init() {
	fastOff.Store(fastNotInited | fastDebug) // debugOn starts true too
	touchFirstPages()
}

// setFast sets or clears one bit of fastOff, and publishes what the
// assembly fast paths read instead of it (publishFast). fastMu makes the
// two one step: the pointers always say what fastOff says once a setFast
// has returned.
func setFast(bit uint32, on bool) {
	fastMu.Lock()
	defer fastMu.Unlock()
	if on {
		fastOff.Or(bit)
	} else {
		fastOff.And(^bit)
	}
	publishFast(fastOff.Load())
}

// fastMu serializes setFast.
var fastMu sync.Mutex

// checkPid verifies getPid against procPin on the current P and turns the
// fast paths off for good if they disagree (a runtime whose structures
// moved; pid_amd64.go).
func checkPid() {
	if !pidFast {
		return
	}
	pid := runtimeProcPin()
	got := getPid()
	runtimeProcUnpin()
	if got != pid {
		setFast(fastBadPid, true)
	}
}

// maxArenaTable is the capacity of the arena table.
const maxArenaTable = 1024

// theHeap returns the heap, initializing it on first use.
func theHeap() *arena.Heap {
	if !inited.Load() {
		initHeap()
	}
	return heap
}

// touchFirstPages writes, at package initialization, the static memory
// that the first Malloc of a process writes: the first slots of the per-P
// tables (caches, pidArena, the main arena's arenaStates) and the pages of
// firstPcache and firstLimits. Each is a page of zeroes that nothing else may have touched,
// and the first write to it is a page fault (3.5-9 us on the machine of the
// README's figures). The process pays those faults when it starts (five
// with the arena package's, which does the same for its static memory:
// 20-45 us there, of a start-up that takes milliseconds), as it pays
// glibc's for its static main arena, and the first Malloc does not (issue
// 11's target 8). A page that is read first is mapped to the kernel's zero
// page and faults again when written: the tables are written, not read.
// They hold nil and 0 until initHeap fills them.
func touchFirstPages() {
	caches[0].Store(nil)
	pidArena[0].Store(0)
	arenaStates[0].users.Store(0)
	touchPages(unsafe.Pointer(&firstPcache), unsafe.Sizeof(firstPcache))
	touchPages(unsafe.Pointer(&firstLimits), unsafe.Sizeof(firstLimits))
}

// touchPages writes a zero byte to every page of the zeroed static memory
// [p, p+n) (its first byte and each page boundary within it). It runs at
// package initialization, before any goroutine can use the memory.
func touchPages(p unsafe.Pointer, n uintptr) {
	const page = 4096 // the smallest page size; a larger one is touched more than once
	for off := uintptr(0); off < n; off = (uintptr(p)+off+page)&^(page-1) - uintptr(p) {
		*(*byte)(unsafe.Add(p, off)) = 0
	}
}

func initHeap() {
	initMu.Lock()
	defer initMu.Unlock()
	if inited.Load() {
		return
	}
	initAccount()
	s, problems := tune.FromEnv(os.LookupEnv)
	settings = s
	b := brk.Default()
	brkUsed = b
	h, err := arena.New(arena.Config{
		Memory:    osMemory{},
		Break:     countedBreak{b},
		MaxArenas: maxArenaTable,
		Params:    paramsFrom(&s),
		OnEvent:   onEvent,
	})
	if err != nil {
		// Without even a bin page there is nothing to allocate from; every
		// allocation returns nil and the reason is said once.
		fmt.Fprintf(os.Stderr, "offheap: cannot start: %v\n", err)
		panic(fmt.Sprintf("offheap: cannot start: %v", err))
	}
	heap = h
	installGrowHook(h)
	applyGlobals(&s)
	configurePool(&s)
	initProfiling(&s)
	problems = append(problems, applyLimitsLocked()...)
	for _, err := range problems {
		fmt.Fprintf(os.Stderr, "offheap: %v (the setting keeps its previous value)\n", err)
	}
	envProblems = problems
	checkPid()
	inited.Store(true)
	setFast(fastNotInited, false)
}

func onEvent(e arena.Event) {
	logRuntimeTrace(e)
	countEvent(e)
	if f := eventHook.Load(); f != nil {
		(*f)(e)
	}
}

// paramsFrom converts settings to the arena's parameters (initMu held). As
// in glibc, an explicit M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_TOP_PAD or
// M_MMAP_MAX turns the dynamic threshold off. Decay keeps freed mapped
// chunks too, except in the debug mode, whose mapped chunks end in a guard
// page (debug.go); hugetlb gives the huge page size (huge.go).
func paramsFrom(s *tune.Settings) arena.Params {
	debugMode := canaries || !debugStarted && s.Get(tune.Debug) > 0
	return arena.Params{
		Decay:         time.Duration(s.Get(tune.Decay)) * time.Millisecond,
		KeepMapped:    !debugMode,
		HugePage:      configureHuge(s),
		MmapThreshold: uintptr(s.Get(tune.MmapThreshold)),
		TrimThreshold: uintptr(s.Get(tune.TrimThreshold)),
		TopPad:        uintptr(s.Get(tune.TopPad)),
		MmapMax:       int(s.Get(tune.MmapMax)),
		MXFast:        uintptr(s.Get(tune.MXFast)),
		Perturb:       byte(s.Get(tune.Perturb)),
		Populate:      s.Get(tune.Populate) != 0,
		DynamicThreshold: !s.IsSet(tune.MmapThreshold) && !s.IsSet(tune.TrimThreshold) &&
			!s.IsSet(tune.TopPad) && !s.IsSet(tune.MmapMax),
	}
}

func applyGlobals(s *tune.Settings) {
	am := s.Get(tune.ArenaMax)
	if am == 0 {
		am = int64(runtime.GOMAXPROCS(0))
	}
	arenaMax.Store(int32(min(am, maxArenaTable)))
	perturbByte.Store(uint32(s.Get(tune.Perturb)))
	setFast(fastPerturb, s.Get(tune.Perturb) != 0)
	configureCaches(s)
}

// Mallopt sets parameter param to value, like glibc's mallopt, but it
// returns an error for an unknown parameter or a value out of range (the
// error names the accepted range) and leaves the setting unchanged. Setting
// tune.MmapThreshold, TrimThreshold, TopPad or MmapMax turns the dynamic
// mmap threshold off for good. Setting tune.Limit sets the memory limit
// (see SetMemoryLimit); tune.GoMemLimit 1 (auto) or 0 (off) is
// CoupleGoMemoryLimit(0) or (-1), and fails like it. Mallopt wins over the
// environment, read at the first allocation or by ReadEnv.
func Mallopt(param tune.Param, value int) error {
	h := theHeap()
	initMu.Lock()
	defer initMu.Unlock()
	if err := malloptLocked(h, param, value); err != nil {
		return err
	}
	setByMallopt[param] = true
	return nil
}

// malloptLocked is Mallopt with initMu held; ReadEnv uses it too.
func malloptLocked(h *arena.Heap, param tune.Param, value int) error {
	saved := settings
	if err := settings.Set(param, int64(value)); err != nil {
		return err
	}
	switch param {
	case tune.Limit:
		account.limit.Store(int64(value))
	case tune.GoMemLimit:
		if err := coupleGoLimitLocked(int64(value) - 1); err != nil {
			settings = saved
			return err
		}
	}
	p := h.Params()
	switch param {
	case tune.MmapThreshold:
		p.MmapThreshold = uintptr(value)
	case tune.TrimThreshold:
		p.TrimThreshold = uintptr(value)
	case tune.TopPad:
		p.TopPad = uintptr(value)
	case tune.MmapMax:
		p.MmapMax = value
	case tune.MXFast:
		p.MXFast = uintptr(value)
	case tune.Perturb:
		p.Perturb = byte(value)
	case tune.Decay:
		p.Decay = time.Duration(value) * time.Millisecond
	case tune.HugeTLB:
		p.HugePage = configureHuge(&settings)
	case tune.Populate:
		p.Populate = value != 0
	}
	switch param {
	case tune.MmapThreshold, tune.TrimThreshold, tune.TopPad, tune.MmapMax:
		p.DynamicThreshold = false
	}
	h.SetParams(p)
	applyGlobals(&settings)
	switch param {
	case tune.MmapThreshold, tune.TrimThreshold, tune.TopPad, tune.MmapMax, tune.MXFast, tune.Perturb, tune.Decay, tune.HugeTLB, tune.Populate:
		// The private heaps follow (their dynamic thresholds restart).
		pp := privParamsLocked()
		forEachHeap(func(ph *Heap) { ph.ah.SetParams(pp) })
	case tune.HeapCache:
		configurePool(&settings)
	}
	if param == tune.ProfileRate {
		storeProfileRate(int64(value))
	}
	if param == tune.TcacheCount || param == tune.TcacheMax || param == tune.TcacheGrow || param == tune.ProfileRate {
		flushAll() // fresh caches take the new limits and sampling gaps
	}
	return nil
}
