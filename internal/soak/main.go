// Command soak runs offheap under a mixed, concurrent load for a fixed time
// and checks that nothing is lost: every block carries a pattern derived from
// its id that is verified before the block is freed and after every realloc,
// Check runs every few seconds, and RSS is sampled throughout. At the end it
// frees everything, trims, and compares RSS with the start.
//
//	go run ./internal/soak -duration 10m     # the soak run (scripts/soak.sh)
//	go run ./internal/soak -duration 30s     # CI's short version
//
// The load: 2 goroutines per core (GOMAXPROCS), each owning a table of block
// slots. Each step picks a random slot: an empty slot is filled by Malloc,
// Calloc (its zeroes verified) or AlignedAlloc (its alignment verified); a
// full one is freed after verification, or resized by Realloc (the kept
// prefix verified), or handed to another goroutine, which verifies and frees
// it. Sizes are mostly small, some up to 64 KiB (the per-P caches' classes),
// a few up to 512 KiB and rarely up to 4 MiB (mapped chunks and the dynamic
// threshold).
//
// Private heaps are in the mix: one more goroutine per core (-heaps) creates
// a heap, fills it with up to -heap-blocks patterned blocks (on one
// goroutine, or on two at once), frees some of them through alloc.Free and
// some through the heap's Free, reallocates some through either Realloc,
// verifies the rest, checks the heap now and then, destroys it with its
// blocks, and starts again. The heap_cache keeps destroyed heaps for the
// next ones; the final Trim(0) gives them back.
//
// It fails (exit status 1) when a pattern is broken, Check reports an error,
// an allocation returns nil (the load stays far below the machine's memory),
// RSS grows after the warm-up (the peak RSS over the last third of the
// samples after the warm-up above 110% of the first third's peak plus 8 MiB;
// judged in runs of 2 minutes or more), or RSS after the final Trim(0) is more than 8 MiB above the start.
//
// RSS follows the high-water mark of the live set in each arena, not the live
// set itself: as in glibc, free chunks inside a heap stay resident until
// Trim, and only the top of an arena above M_TRIM_THRESHOLD goes back on its
// own. The flatness test therefore compares peaks. The last line is a
// summary: operations, peak RSS, RSS after trim, time.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
)

type config struct {
	duration   time.Duration
	goroutines int
	slots      int
	check      time.Duration
	sample     time.Duration
	warmup     time.Duration
	seed       uint64
	maxBlock   int
	verbose    bool
	heapers    int // goroutines working in private heaps (0: GOMAXPROCS; negative: none)
	heapBlocks int // most blocks in a private heap
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 10*time.Minute, "how long to run the load")
	flag.IntVar(&cfg.goroutines, "goroutines", 0, "worker goroutines (0: 2 per GOMAXPROCS)")
	flag.IntVar(&cfg.slots, "slots", 1024, "block slots per goroutine")
	flag.DurationVar(&cfg.check, "check", 5*time.Second, "interval between full alloc.Check runs")
	flag.DurationVar(&cfg.sample, "sample", time.Second, "interval between RSS samples")
	flag.DurationVar(&cfg.warmup, "warmup", 0, "warm-up excluded from the RSS flatness test (0: a quarter of the duration, at most 2m30s)")
	flag.Uint64Var(&cfg.seed, "seed", 0, "random seed (0: from the clock)")
	flag.IntVar(&cfg.maxBlock, "max-block", 4<<20, "largest block size")
	flag.BoolVar(&cfg.verbose, "v", false, "print every RSS sample")
	flag.IntVar(&cfg.heapers, "heaps", 0, "goroutines working in private heaps, one heap at a time each (0: GOMAXPROCS; negative: none)")
	flag.IntVar(&cfg.heapBlocks, "heap-blocks", 2000, "most blocks in a private heap")
	flag.Parse()
	res, err := run(cfg, os.Stdout)
	fmt.Println(res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("soak: PASS")
}

// result holds the figures of a run.
type result struct {
	ops        int64
	elapsed    time.Duration
	startRSS   int64
	peakRSS    int64
	trimRSS    int64
	firstMean  int64 // mean RSS over the first third of the samples after warm-up
	lastMean   int64 // and over the last third
	firstPeak  int64 // peak RSS over the first third of the samples after warm-up
	lastPeak   int64 // and over the last third
	checks     int
	seed       uint64
	goroutines int
	heapers    int
	heaps      int64 // private heaps created and destroyed
	heapOps    int64 // operations in private heaps
}

func (r result) String() string {
	return fmt.Sprintf("soak: %d operations in %v (%.0f ops/s) by %d goroutines, seed %d; %d private heaps (%d operations) by %d goroutines; %d Checks; "+
		"RSS start %s, peak %s; after warm-up mean/peak %s/%s (first third) -> %s/%s (last third); after Trim(0) %s",
		r.ops, r.elapsed.Round(time.Millisecond), float64(r.ops)/r.elapsed.Seconds(), r.goroutines, r.seed, r.heaps, r.heapOps, r.heapers, r.checks,
		mib(r.startRSS), mib(r.peakRSS), mib(r.firstMean), mib(r.firstPeak), mib(r.lastMean), mib(r.lastPeak), mib(r.trimRSS))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// block is one live allocation.
type block struct {
	p     unsafe.Pointer
	n     int    // bytes the pattern covers (the requested size)
	id    uint64 // pattern seed
	align int    // alignment asked for (0: Malloc's 16)
}

// run runs the soak with cfg and returns its figures; log receives progress.
func run(cfg config, log *os.File) (res result, err error) {
	if cfg.goroutines <= 0 {
		cfg.goroutines = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.warmup <= 0 {
		cfg.warmup = min(cfg.duration/4, 150*time.Second)
	}
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())
	}
	if cfg.maxBlock < 1024 {
		cfg.maxBlock = 1024
	}
	switch {
	case cfg.heapers == 0:
		cfg.heapers = runtime.GOMAXPROCS(0)
	case cfg.heapers < 0:
		cfg.heapers = 0
	}
	if cfg.heapBlocks <= 0 {
		cfg.heapBlocks = 2000
	}
	res.seed, res.goroutines, res.heapers = cfg.seed, cfg.goroutines, cfg.heapers

	// Start the allocator, then measure the starting RSS.
	alloc.Free(alloc.Malloc(1))
	debug.FreeOSMemory()
	res.startRSS = rss()
	res.peakRSS = res.startRSS

	var (
		stop    atomic.Bool
		failMu  sync.Mutex
		failErr error
		ops     = make([]paddedCount, cfg.goroutines)
		inbox   = make([]chan block, cfg.goroutines)
		wg      sync.WaitGroup
		// gate stops the load while Check runs: alloc.Check is exact only
		// when no other goroutine allocates or frees meanwhile.
		gate sync.RWMutex
	)
	fail := func(e error) {
		failMu.Lock()
		if failErr == nil {
			failErr = e
		}
		failMu.Unlock()
		stop.Store(true)
	}
	for i := range inbox {
		inbox[i] = make(chan block, 64)
	}
	start := time.Now()
	for w := 0; w < cfg.goroutines; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					fail(fmt.Errorf("worker %d panicked: %v", w, r))
				}
			}()
			wk := &worker{
				id: w, cfg: &cfg, rng: rand.New(rand.NewPCG(cfg.seed, uint64(w))),
				slots: make([]block, cfg.slots), ops: &ops[w].n,
				inbox: inbox[w], next: inbox[(w+1)%len(inbox)],
			}
			if e := wk.loop(&stop, &gate); e != nil {
				fail(fmt.Errorf("worker %d: %w", w, e))
			}
			if e := wk.drain(); e != nil {
				fail(fmt.Errorf("worker %d: %w", w, e))
			}
		}(w)
	}

	var heaps, heapOps atomic.Int64
	for k := 0; k < cfg.heapers; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			hw := &heaper{id: k, cfg: &cfg, rng: rand.New(rand.NewPCG(cfg.seed, 1<<32|uint64(k))), heaps: &heaps, ops: &heapOps}
			if e := hw.loop(&stop); e != nil {
				fail(fmt.Errorf("heap goroutine %d: %w", k, e))
			}
		}(k)
	}

	// Monitor: RSS samples and periodic Checks until the time is up.
	type rssSample struct {
		at  time.Duration
		rss int64
	}
	var samples []rssSample
	sampleT := time.NewTicker(cfg.sample)
	checkT := time.NewTicker(cfg.check)
	deadline := time.NewTimer(cfg.duration)
loop:
	for {
		select {
		case <-deadline.C:
			break loop
		case <-sampleT.C:
			r := rss()
			at := time.Since(start)
			samples = append(samples, rssSample{at, r})
			res.peakRSS = max(res.peakRSS, r)
			if cfg.verbose {
				var st alloc.Stats
				alloc.ReadStats(&st)
				fmt.Fprintf(log, "soak: %6.1fs RSS %s live %s heap %s in use %s free %s (tops %s) mapped %s arenas %d ops %d\n",
					at.Seconds(), mib(r), mib(liveBytes.Load()), mib(int64(st.HeapSys)), mib(int64(st.HeapInuse)),
					mib(int64(st.HeapFree)), mib(int64(st.HeapTop)), mib(int64(st.Mapped.Bytes)), len(st.Arenas), sum(ops))
			}
		case <-checkT.C:
			res.checks++
			gate.Lock()
			e := alloc.Check()
			gate.Unlock()
			if e != nil {
				fail(fmt.Errorf("Check after %v: %w", time.Since(start).Round(time.Millisecond), e))
			}
		}
		if stop.Load() {
			break
		}
	}
	sampleT.Stop()
	checkT.Stop()
	stop.Store(true)
	// Workers drain their inboxes while others may still send; close the
	// inboxes only after every worker has stopped sending.
	wg.Wait()
	for _, ch := range inbox {
		close(ch)
		for b := range ch {
			if e := verifyFree(b); e != nil {
				fail(e)
			}
		}
	}
	res.elapsed = time.Since(start)
	res.ops = sum(ops)
	res.heaps, res.heapOps = heaps.Load(), heapOps.Load()
	if failErr != nil {
		return res, failErr
	}
	if e := alloc.Check(); e != nil {
		return res, fmt.Errorf("final Check: %w", e)
	}
	res.checks++

	if cfg.verbose {
		var st alloc.Stats
		alloc.ReadStats(&st)
		for i, a := range st.Arenas {
			fmt.Fprintf(log, "soak: arena %2d: system %s (peak %s), free %s, top %s, %d free chunks, %d regions\n",
				i, mib(int64(a.System)), mib(int64(a.SystemPeak)), mib(int64(a.Free)), mib(int64(a.Top)), a.FreeChunks, a.Regions)
		}
	}
	alloc.Trim(0)
	debug.FreeOSMemory()
	res.trimRSS = rss()

	// RSS flatness after the warm-up.
	var after []int64
	for _, s := range samples {
		if s.at >= cfg.warmup {
			after = append(after, s.rss)
		}
	}
	var errs []error
	if k := len(after) / 3; k > 0 {
		first, last := after[:k], after[len(after)-k:]
		res.firstMean, res.lastMean = mean(first), mean(last)
		res.firstPeak, res.lastPeak = slices.Max(first), slices.Max(last)
		if cfg.duration >= minFlatDuration && float64(res.lastPeak) > 1.10*float64(res.firstPeak)+8<<20 {
			errs = append(errs, fmt.Errorf("RSS grew after warm-up: peak %s over the first third, %s over the last",
				mib(res.firstPeak), mib(res.lastPeak)))
		}
	}
	if raceEnabled {
		// offheap's own resident memory (see race.go).
		var st alloc.Stats
		alloc.ReadResident(&st)
		if own := int64(st.RSS.Allocator); own > 8<<20 {
			errs = append(errs, fmt.Errorf("offheap's resident memory after Trim(0) is %s, more than 8 MiB", mib(own)))
		}
	} else if res.trimRSS > res.startRSS+8<<20 {
		errs = append(errs, fmt.Errorf("RSS after Trim(0) is %s, more than 8 MiB above the start (%s)",
			mib(res.trimRSS), mib(res.startRSS)))
	}
	return res, errors.Join(errs...)
}

// liveBytes counts the bytes of live blocks, for the verbose samples.
var liveBytes atomic.Int64

// minFlatDuration is the shortest run whose RSS flatness is judged: in a
// shorter one the warm-up (new arenas, the dynamic threshold settling, every
// arena reaching its high-water mark) is not over. Shorter runs report the
// figures only.
const minFlatDuration = 2 * time.Minute

type paddedCount struct {
	n atomic.Int64
	_ [56]byte
}

func sum(c []paddedCount) int64 {
	var t int64
	for i := range c {
		t += c[i].n.Load()
	}
	return t
}

func mean(v []int64) int64 {
	var t int64
	for _, x := range v {
		t += x
	}
	return t / int64(len(v))
}

// worker is one goroutine of the load.
type worker struct {
	id     int
	cfg    *config
	rng    *rand.Rand
	slots  []block
	ops    *atomic.Int64
	inbox  chan block // blocks other workers hand over to be freed here
	next   chan block // where this worker hands blocks over
	nextID uint64
}

// loop runs steps in batches of 64 until stop, holding gate for reading
// during each batch so that the monitor can stop the load for Check.
func (w *worker) loop(stop *atomic.Bool, gate *sync.RWMutex) error {
	for !stop.Load() {
		gate.RLock()
		err := w.receive()
		for i := 0; i < 64 && err == nil; i++ {
			err = w.step()
		}
		gate.RUnlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// receive frees what other workers handed over.
func (w *worker) receive() error {
	for {
		select {
		case b := <-w.inbox:
			if err := verifyFree(b); err != nil {
				return fmt.Errorf("handed-over block: %w", err)
			}
			w.ops.Add(1)
		default:
			return nil
		}
	}
}

// drain frees every live block and what is in the inbox.
func (w *worker) drain() error {
	for i := range w.slots {
		if w.slots[i].p != nil {
			if err := verifyFree(w.slots[i]); err != nil {
				return err
			}
			w.slots[i] = block{}
		}
	}
	return w.receive()
}

// size draws a block size: 75% up to 1 KiB, 20% up to 64 KiB, 4.5% up to
// 512 KiB, 0.5% up to maxBlock.
func (w *worker) size() int {
	r := w.rng.IntN(1000)
	switch {
	case r < 750:
		return w.rng.IntN(1025)
	case r < 950:
		return 1025 + w.rng.IntN(64<<10-1024)
	case r < 995:
		return 64<<10 + 1 + w.rng.IntN(448<<10)
	}
	return 512<<10 + 1 + w.rng.IntN(max(w.cfg.maxBlock-512<<10, 1))
}

func (w *worker) step() error {
	i := w.rng.IntN(len(w.slots))
	b := &w.slots[i]
	w.ops.Add(1)
	if b.p == nil {
		n := w.size()
		w.nextID++
		id := uint64(w.id)<<48 | w.nextID
		var p unsafe.Pointer
		align := 0
		switch r := w.rng.IntN(20); {
		case r < 14:
			p = alloc.Malloc(n)
		case r < 18:
			p = alloc.Calloc(1, n)
			if p != nil {
				if off := firstNonZero(p, n); off >= 0 {
					return fmt.Errorf("Calloc(1, %d) = %p: byte %d is not zero", n, p, off)
				}
			}
		default:
			align = 32 << w.rng.IntN(8) // 32 .. 4096
			p = alloc.AlignedAlloc(align, n)
			if p != nil && uintptr(p)%uintptr(align) != 0 {
				return fmt.Errorf("AlignedAlloc(%d, %d) = %p: misaligned", align, n, p)
			}
		}
		if p == nil {
			return fmt.Errorf("allocation of %d bytes returned nil", n)
		}
		if u := alloc.UsableSize(p); u < n {
			return fmt.Errorf("UsableSize(%p) = %d < %d requested", p, u, n)
		}
		fill(p, id, 0, n)
		*b = block{p: p, n: n, id: id, align: align}
		liveBytes.Add(int64(n))
		return nil
	}
	switch r := w.rng.IntN(20); {
	case r < 14:
		err := verifyFree(*b)
		*b = block{}
		return err
	case r < 18:
		if err := verify(*b); err != nil {
			return err
		}
		n := w.size()
		if w.rng.IntN(2) == 0 && b.n > 0 {
			n = max(1, b.n+w.rng.IntN(b.n+1)-b.n/2) // near the old size: in-place paths
		}
		np := alloc.Realloc(b.p, n)
		if n == 0 {
			// Realloc(p, 0) frees p and returns nil.
			if np != nil {
				return fmt.Errorf("Realloc(%p, 0) = %p, want nil", b.p, np)
			}
			liveBytes.Add(-int64(b.n))
			*b = block{}
			return nil
		}
		if np == nil {
			return fmt.Errorf("Realloc(%p, %d) returned nil", b.p, n)
		}
		keep := min(n, b.n)
		nb := block{p: np, n: n, id: b.id}
		if msg := check(np, b.id, 0, keep); msg != "" {
			return fmt.Errorf("Realloc(%p from %d to %d) = %p lost the contents: %s", b.p, b.n, n, np, msg)
		}
		fill(np, b.id, keep, n)
		liveBytes.Add(int64(n - b.n))
		*b = nb
		return nil
	default:
		// Hand the block over to the next worker, which frees it.
		select {
		case w.next <- *b:
		default:
			if err := verifyFree(*b); err != nil {
				return err
			}
		}
		*b = block{}
		return nil
	}
}

func verify(b block) error {
	if msg := check(b.p, b.id, 0, b.n); msg != "" {
		return fmt.Errorf("block %p (%d bytes, id %#x): %s", b.p, b.n, b.id, msg)
	}
	return nil
}

func verifyFree(b block) error {
	if err := verify(b); err != nil {
		return err
	}
	alloc.Free(b.p)
	liveBytes.Add(-int64(b.n))
	return nil
}

// patWord is word i of block id's pattern.
func patWord(id uint64, i int) uint64 {
	return (id*0x9E3779B97F4A7C15 ^ uint64(i)*0xBF58476D1CE4E5B9) + 0x94D049BB133111EB
}

func fill(p unsafe.Pointer, id uint64, from, to int) {
	for j := from; j < to; {
		if j%8 == 0 && to-j >= 8 {
			nw := (to - j) / 8
			ws := unsafe.Slice((*uint64)(unsafe.Add(p, j)), nw)
			for k := range ws {
				ws[k] = patWord(id, j/8+k)
			}
			j += nw * 8
			continue
		}
		*(*byte)(unsafe.Add(p, j)) = byte(patWord(id, j/8) >> (8 * (j % 8)))
		j++
	}
}

// check verifies bytes [from, to) of block id at p and describes the first
// wrong byte, or returns "".
func check(p unsafe.Pointer, id uint64, from, to int) string {
	for j := from; j < to; {
		if j%8 == 0 && to-j >= 8 {
			nw := (to - j) / 8
			ws := unsafe.Slice((*uint64)(unsafe.Add(p, j)), nw)
			for k := range ws {
				if ws[k] != patWord(id, j/8+k) {
					return fmt.Sprintf("word at byte %d of %d is %#x, want %#x", j+8*k, to, ws[k], patWord(id, j/8+k))
				}
			}
			j += nw * 8
			continue
		}
		if got, want := *(*byte)(unsafe.Add(p, j)), byte(patWord(id, j/8)>>(8*(j%8))); got != want {
			return fmt.Sprintf("byte %d of %d is %#x, want %#x", j, to, got, want)
		}
		j++
	}
	return ""
}

func firstNonZero(p unsafe.Pointer, n int) int {
	j := 0
	for ws := unsafe.Slice((*uint64)(p), n/8); j < len(ws) && ws[j] == 0; j++ {
	}
	for j *= 8; j < n; j++ {
		if *(*byte)(unsafe.Add(p, j)) != 0 {
			return j
		}
	}
	return -1
}

// rss returns the process's resident set size in bytes (from
// /proc/self/statm), or 0 if it cannot be read.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// heaper is a goroutine of the load that works in private heaps, one at a
// time: it creates a heap, fills it with patterned blocks (on one goroutine
// or two at once), frees some of them through alloc.Free and some through
// the heap's Free, reallocates some through alloc.Realloc or the heap's
// Realloc, verifies the rest, now and then checks the heap, and destroys
// it with the blocks still in it.
type heaper struct {
	id     int
	cfg    *config
	rng    *rand.Rand
	heaps  *atomic.Int64 // heaps destroyed, all heapers
	ops    *atomic.Int64 // operations in them
	cycles uint64
}

// loop runs heap cycles until stop.
func (hw *heaper) loop(stop *atomic.Bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	for !stop.Load() {
		if err := hw.cycle(); err != nil {
			return err
		}
	}
	return nil
}

// heapSize draws the size of a block of a private heap: 90% up to 1 KiB,
// 9% up to 64 KiB, 1% up to 512 KiB (or max-block), mapped chunks among
// them.
func heapSize(rng *rand.Rand, maxBlock int) int {
	switch r := rng.IntN(100); {
	case r < 90:
		return rng.IntN(1025)
	case r < 99:
		return 1025 + rng.IntN(63<<10)
	}
	return 64<<10 + 1 + rng.IntN(max(min(512<<10, maxBlock)-64<<10, 1))
}

// fillHeap allocates n patterned blocks in h with rng, ids from idBase up:
// through Malloc, or Calloc (its zeroes verified).
func fillHeap(h *alloc.Heap, n int, rng *rand.Rand, idBase uint64, maxBlock int) (bs []block, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	for i := 0; i < n; i++ {
		size := heapSize(rng, maxBlock)
		var p unsafe.Pointer
		if rng.IntN(8) == 0 {
			p = h.Calloc(1, size)
			if p != nil {
				if off := firstNonZero(p, size); off >= 0 {
					return bs, fmt.Errorf("heap %d: Calloc(1, %d) = %p: byte %d is not zero", h.ID(), size, p, off)
				}
			}
		} else {
			p = h.Malloc(size)
		}
		if p == nil {
			return bs, fmt.Errorf("heap %d: allocation of %d bytes returned nil", h.ID(), size)
		}
		if u := h.UsableSize(p); u < size || u != alloc.UsableSize(p) {
			return bs, fmt.Errorf("heap %d: UsableSize(%p) = %d, alloc.UsableSize %d, for %d bytes", h.ID(), p, u, alloc.UsableSize(p), size)
		}
		id := idBase + uint64(i)
		fill(p, id, 0, size)
		bs = append(bs, block{p: p, n: size, id: id})
	}
	return bs, nil
}

// cycle is one heap's life.
func (hw *heaper) cycle() error {
	hw.cycles++
	h := alloc.NewHeap()
	n := 1 + hw.rng.IntN(hw.cfg.heapBlocks)
	par := 1 + hw.rng.IntN(2)
	parts := make([][]block, par)
	errs := make([]error, par)
	var wg sync.WaitGroup
	for g := 0; g < par; g++ {
		seed := hw.rng.Uint64()
		idBase := 1<<63 | uint64(hw.id)<<48 | (hw.cycles<<1|uint64(g))<<16
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[g], errs[g] = fillHeap(h, n/par+1, rand.New(rand.NewPCG(seed, uint64(g))), idBase, hw.cfg.maxBlock)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ops := int64(0)
	for _, part := range parts {
		ops += int64(len(part))
	}
	var kept []block
	for _, part := range parts {
		for _, b := range part {
			ops++
			switch r := hw.rng.IntN(12); {
			case r < 2:
				if err := verify(b); err != nil {
					return fmt.Errorf("heap %d: %w", h.ID(), err)
				}
				alloc.Free(b.p)
			case r < 4:
				if err := verify(b); err != nil {
					return fmt.Errorf("heap %d: %w", h.ID(), err)
				}
				h.Free(b.p)
			case r == 4:
				if err := verify(b); err != nil {
					return fmt.Errorf("heap %d: %w", h.ID(), err)
				}
				n := heapSize(hw.rng, hw.cfg.maxBlock)
				realloc, via := h.Realloc, "the heap's Realloc"
				if hw.rng.IntN(2) == 0 {
					realloc, via = alloc.Realloc, "alloc.Realloc"
				}
				np := realloc(b.p, n)
				if n == 0 {
					if np != nil {
						return fmt.Errorf("heap %d: %s(%p, 0) = %p, want nil", h.ID(), via, b.p, np)
					}
					continue
				}
				if np == nil {
					return fmt.Errorf("heap %d: %s(%p, %d) returned nil", h.ID(), via, b.p, n)
				}
				if u := h.UsableSize(np); u < n {
					return fmt.Errorf("heap %d: %s(%p, %d) = %p: UsableSize %d", h.ID(), via, b.p, n, np, u)
				}
				keep := min(n, b.n)
				if msg := check(np, b.id, 0, keep); msg != "" {
					return fmt.Errorf("heap %d: %s(%p from %d to %d) = %p lost the contents: %s", h.ID(), via, b.p, b.n, n, np, msg)
				}
				fill(np, b.id, keep, n)
				kept = append(kept, block{p: np, n: n, id: b.id})
			default:
				kept = append(kept, b)
			}
		}
	}
	for _, b := range kept {
		if err := verify(b); err != nil {
			return fmt.Errorf("heap %d, before Destroy: %w", h.ID(), err)
		}
	}
	if hw.cycles%4 == 0 {
		if err := h.Check(); err != nil {
			return fmt.Errorf("heap %d: Check: %w", h.ID(), err)
		}
	}
	h.Destroy()
	hw.heaps.Add(1)
	hw.ops.Add(ops)
	return nil
}
