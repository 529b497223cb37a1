package alloc_test

// Tests of ReadStats and its printed forms (issue 4, acceptance 2 to 4):
// the figures as identities, walked field by field; against a recount
// kept by the test; system calls, page faults and resident memory moving
// as the allocator works; malloc_info's XML against glibc's.
//
// Tests that need the allocator as a program starts with it, or exact
// counts of system calls, run in a fresh child process of this test binary
// (inStatsChild), with GOMAXPROCS=1 and a clean offheap environment unless
// they say otherwise.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/mmapper"
	"github.com/offheap/offheap/tune"
)

// ---- child processes ----

const statsChildEnv = "OFFHEAP_STATS_TEST_CHILD"

// cleanEnvPrefixes are removed from a child's environment: the child sees
// only the settings its test gives.
var cleanEnvPrefixes = []string{"OFFHEAP=", "GLIBC_TUNABLES=", "MALLOC_", "GOMEMLIMIT=", "GOMAXPROCS=", "GORACE=", statsChildEnv + "="}

// childOutput is what a child process printed.
type childOutput struct {
	stdout, stderr string
	results        map[string]string // its "RESULT key=value" lines
}

// inStatsChild runs the calling test (or subtest) alone in a fresh process
// of this test binary, with env added to a clean environment
// (GOMAXPROCS=1 unless env sets it). In the parent it waits for the child,
// fails the test if the child failed, and returns the child's output and
// false: the parent checks the output and returns. In the child it returns
// true and the test body runs.
func inStatsChild(t *testing.T, env ...string) (childOutput, bool) {
	t.Helper()
	if os.Getenv(statsChildEnv) == t.Name() {
		return childOutput{}, true
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	args := []string{"-test.run=" + strings.Join(parts, "/"), "-test.v", "-test.count=1"}
	if f := flag.Lookup("seed"); f != nil && f.Value.String() != "0" {
		args = append(args, "-seed="+f.Value.String())
	}
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		keep := true
		for _, p := range cleanEnvPrefixes {
			keep = keep && !strings.HasPrefix(kv, p)
		}
		if keep {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// A race-enabled child would sleep a second at exit (atexit_sleep_ms).
	goRace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1", "GORACE="+goRace)
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, statsChildEnv+"="+t.Name())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := childOutput{stdout: stdout.String(), stderr: stderr.String(), results: map[string]string{}}
	for line := range strings.SplitSeq(out.stdout, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "RESULT "); ok {
			k, v, _ := strings.Cut(rest, "=")
			out.results[k] = v
		}
	}
	if err != nil || !strings.Contains(out.stdout, "--- PASS: "+t.Name()+" ") {
		t.Fatalf("child process %v (env %q): %v\nstdout:\n%s\nstderr:\n%s", args, env, err, out.stdout, out.stderr)
	}
	if testing.Verbose() {
		t.Logf("child process (env %q):\n%s", env, out.stdout)
	}
	return out, false
}

// result prints a RESULT line for the parent (in a child).
func result(key string, value any) { fmt.Printf("RESULT %s=%v\n", key, value) }

// seedFor returns the seed of a randomized test: the -seed flag when set
// (it is defined once for the package), otherwise the clock. It logs it.
func seedFor(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if f := flag.Lookup("seed"); f != nil {
		if v, err := strconv.ParseUint(f.Value.String(), 10, 64); err == nil && v != 0 {
			seed = v
		}
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	return seed
}

func init() {
	// Package variables are initialized before init functions run, so a
	// -seed flag defined by another test file is already there.
	if flag.Lookup("seed") == nil {
		flag.Uint64("seed", 0, "seed for the randomized tests (0: from the clock)")
	}
}

var pageSize = uint64(os.Getpagesize())

// touch writes one byte in every page of n bytes at p.
func touch(p unsafe.Pointer, n int) {
	b := unsafe.Slice((*byte)(p), n)
	for i := 0; i < n; i += int(pageSize) {
		b[i] = 1
	}
}

// ---- identities ----

// check is one rule for one field of Stats: v is the field, in its
// enclosing struct (parent), in snapshot s, read after the earlier
// snapshot prev.
type check func(v reflect.Value, parent reflect.Value) error

func u64(v reflect.Value) uint64 {
	if v.CanInt() {
		return uint64(v.Int()) // a time.Duration
	}
	return v.Uint()
}

func eq(want func(p reflect.Value) uint64) check {
	return func(v, p reflect.Value) error {
		if got, w := u64(v), want(p); got != w {
			return fmt.Errorf("= %d, want %d", got, w)
		}
		return nil
	}
}

func le(bound func(p reflect.Value) uint64) check {
	return func(v, p reflect.Value) error {
		if got, b := u64(v), bound(p); got > b {
			return fmt.Errorf("= %d, want at most %d", got, b)
		}
		return nil
	}
}

func ge(bound func(p reflect.Value) uint64) check {
	return func(v, p reflect.Value) error {
		if got, b := u64(v), bound(p); got < b {
			return fmt.Errorf("= %d, want at least %d", got, b)
		}
		return nil
	}
}

func field(name string) func(p reflect.Value) uint64 {
	return func(p reflect.Value) uint64 { return p.FieldByName(name).Uint() }
}

func konst(c uint64) func(reflect.Value) uint64 { return func(reflect.Value) uint64 { return c } }

func sum(names ...string) func(p reflect.Value) uint64 {
	return func(p reflect.Value) uint64 {
		var t uint64
		for _, n := range names {
			t += p.FieldByName(n).Uint()
		}
		return t
	}
}

// checkStats walks every field of s by reflection and applies the rules
// given for its path ("Sys", "Arenas[].Free", "Syscalls.Mmap.Calls"); a
// field without a rule fails the test, so that a new field cannot go
// unchecked. prev is an earlier snapshot: cumulative figures must not fall.
func checkStats(t *testing.T, s, prev *alloc.Stats, resident bool) {
	t.Helper()
	arenaSum := func(name string) func(reflect.Value) uint64 {
		return func(reflect.Value) uint64 {
			var t uint64
			for _, a := range s.Arenas {
				t += reflect.ValueOf(a).FieldByName(name).Uint()
			}
			return t
		}
	}
	of := func(f func(*alloc.Stats) uint64) func(reflect.Value) uint64 {
		return func(reflect.Value) uint64 { return f(s) }
	}
	// cumulative: not below the earlier snapshot's value at the same path.
	cumulative := func(path string) check {
		return func(v, _ reflect.Value) error {
			old, ok := lookupPath(reflect.ValueOf(*prev), path)
			if ok && v.Uint() < old.Uint() {
				return fmt.Errorf("= %d, fell from %d (cumulative)", v.Uint(), old.Uint())
			}
			return nil
		}
	}
	mi := alloc.Mallinfo2()
	params := alloc.HeapParams()
	maxMap, _ := os.ReadFile("/proc/sys/vm/max_map_count")
	maxMapCount, _ := strconv.ParseUint(strings.TrimSpace(string(maxMap)), 10, 64)
	isBool := func(want bool) check {
		return func(v, _ reflect.Value) error {
			if v.Bool() != want {
				return fmt.Errorf("= %v, want %v", v.Bool(), want)
			}
			return nil
		}
	}
	pred := func(ok func() bool, what string) check {
		return func(v, _ reflect.Value) error {
			if !ok() {
				return fmt.Errorf("= %v: want %s", v.Interface(), what)
			}
			return nil
		}
	}
	wantBreak := "brk"
	if alloc.StatsRaceEnabled {
		wantBreak = "reserved"
	}
	rules := map[string][]check{
		"Sys": {eq(of(func(s *alloc.Stats) uint64 {
			return s.HeapSys + s.Mapped.Bytes + s.MetaSys + s.Decay.MappedKept + s.PrivateSys + s.HeapCache.Bytes
		})), le(field("SysPeak"))},
		"PrivateSys": {eq(of(func(s *alloc.Stats) (n uint64) {
			for _, h := range s.Heaps {
				n += h.Sys
			}
			return n
		}))},
		"Heaps":               {},
		"Heaps[].ID":          {ge(konst(1))},
		"Heaps[].Created":     {},
		"Heaps[].Arenas":      {ge(konst(1))},
		"Heaps[].Sys":         {ge(sum("Inuse", "Free"))},
		"Heaps[].Inuse":       {},
		"Heaps[].Free":        {},
		"Heaps[].MappedCount": {},
		"Heaps[].MappedBytes": {ge(func(h reflect.Value) uint64 { return 4096 * h.FieldByName("MappedCount").Uint() })},
		"HeapCache.Max":       {eq(konst(uint64(alloc.Setting(tune.HeapCache))))},
		"HeapCache.Bytes":     {le(field("Max"))},
		"HeapCache.Heaps":     {le(of(func(s *alloc.Stats) uint64 { return s.HeapCache.Bytes / 4096 }))},
		"HeapCache.Reused":    {cumulative("HeapCache.Reused")},
		"HeapCache.Dropped":   {cumulative("HeapCache.Dropped")},
		"HeapCache.Created":   {cumulative("HeapCache.Created"), ge(field("Destroyed"))},
		"HeapCache.Destroyed": {cumulative("HeapCache.Destroyed")},
		"SysPeak":             {ge(field("Sys"))},
		"MetaSys":             {ge(of(func(s *alloc.Stats) uint64 { return uint64(len(s.Arenas)) * pageSize })), le(konst(64 << 20))},
		"HeapSys":             {eq(arenaSum("System")), eq(sum("HeapInuse", "HeapFree")), le(field("HeapSysPeak"))},
		"HeapSysPeak":         {ge(field("HeapSys"))},
		"HeapInuse":           {eq(arenaSum("Inuse")), ge(field("HeapCached"))},
		"HeapFree":            {eq(arenaSum("Free")), ge(sum("HeapTop", "HeapFastbins"))},
		"HeapTop":             {eq(arenaSum("Top"))},
		"HeapFastbins":        {eq(arenaSum("Fastbins")), ge(of(func(s *alloc.Stats) uint64 { return 32 * s.FastChunks })), le(of(func(s *alloc.Stats) uint64 { return 176 * s.FastChunks }))},
		"HeapCached":          {ge(of(func(s *alloc.Stats) uint64 { return 32 * s.CachedChunks })), le(of(func(s *alloc.Stats) uint64 { return 66000 * s.CachedChunks }))},
		"HeapReleased":        {cumulative("HeapReleased")},
		"HeapShrunk":          {cumulative("HeapShrunk")},
		"FreeChunks":          {eq(arenaSum("FreeChunks")), ge(of(func(s *alloc.Stats) uint64 { return uint64(len(s.Arenas)) - 1 }))},
		"FastChunks":          {eq(arenaSum("FastChunks"))},
		"CachedChunks":        {},
		"Break":               {pred(func() bool { return s.Break == wantBreak }, wantBreak)},
		"BreakSys":            {le(of(func(s *alloc.Stats) uint64 { return s.Arenas[0].System }))},
		"Arenas":              {pred(func() bool { return len(s.Arenas) == alloc.NumArenas() }, "one per arena")},

		"Arenas[].System":     {eq(sum("Inuse", "Free")), le(field("SystemPeak"))},
		"Arenas[].SystemPeak": {ge(field("System"))},
		"Arenas[].Inuse":      {le(field("System"))},
		"Arenas[].Free":       {ge(sum("Top", "Fastbins")), le(field("System"))},
		"Arenas[].Top":        {},
		"Arenas[].Fastbins":   {ge(func(p reflect.Value) uint64 { return 32 * p.FieldByName("FastChunks").Uint() })},
		"Arenas[].FreeChunks": {ge(func(p reflect.Value) uint64 { return min(1, p.FieldByName("Regions").Uint()) })},
		"Arenas[].FastChunks": {},
		"Arenas[].Regions":    {ge(func(p reflect.Value) uint64 { return min(1, p.FieldByName("System").Uint()) })},
		"Arenas[].Mallocs":    {},
		"Arenas[].Frees":      {},
		"Arenas[].Kept":       {le(field("Free"))},

		"Mapped.Count":     {eq(konst(uint64(mi.Hblks))), le(field("CountPeak"))},
		"Mapped.CountPeak": {ge(field("Count"))},
		"Mapped.Bytes": {eq(konst(uint64(mi.Hblkhd))), le(field("BytesPeak")),
			ge(func(p reflect.Value) uint64 { return pageSize * p.FieldByName("Count").Uint() }),
			pred(func() bool { return s.Mapped.Bytes%pageSize == 0 }, "whole pages")},
		"Mapped.BytesPeak": {ge(field("Bytes"))},

		"Decay.Decay":           {eq(konst(uint64(params.Decay)))},
		"Decay.HeapKept":        {eq(arenaSum("Kept")), le(of(func(s *alloc.Stats) uint64 { return s.HeapFree }))},
		"Decay.MappedKept":      {ge(func(p reflect.Value) uint64 { return pageSize * p.FieldByName("MappedKeptCount").Uint() })},
		"Decay.MappedKeptCount": {le(konst(64))},
		"Decay.MappedReused":    {cumulative("Decay.MappedReused")},
		"Decay.MappedPurged":    {cumulative("Decay.MappedPurged")},
		"Decay.Released":        {cumulative("Decay.Released")},
		"Decay.Calls":           {cumulative("Decay.Calls")},
		"Decay.Passes":          {cumulative("Decay.Passes")},
		"Decay.LastRelease": {pred(func() bool {
			return !s.Decay.LastRelease.After(time.Now()) && s.Decay.LastRelease.IsZero() == (s.Decay.Released == 0)
		}, "in the past, zero exactly when nothing was released")},
		"Decay.NextPass": {pred(func() bool {
			return s.Decay.NextPass.IsZero() || s.Decay.NextPass.Before(time.Now().Add(s.Decay.Decay+time.Second))
		}, "zero, or at most the decay from now")},

		"HugePages.Setting":  {eq(konst(uint64(alloc.SettingsGet(tune.HugeTLB))))},
		"HugePages.Mode":     {le(field("Setting"))},
		"HugePages.Size":     {pred(func() bool { return (s.HugePages.Size == 0) == (s.HugePages.Mode == 0) }, "0 exactly when off")},
		"HugePages.THP":      {pred(func() bool { return slices.Contains([]string{"", "always", "madvise", "never"}, s.HugePages.THP) }, "a THP mode")},
		"HugePages.PoolFree": {},
		"HugePages.Fallback": {pred(func() bool {
			return (s.HugePages.Fallback != "") == (s.HugePages.Setting == 2 && s.HugePages.Mode == 1)
		}, "set exactly when 2 fell back")},

		"Params.MmapThreshold":    {eq(konst(uint64(params.MmapThreshold)))},
		"Params.TrimThreshold":    {eq(konst(uint64(params.TrimThreshold)))},
		"Params.TopPad":           {eq(konst(uint64(params.TopPad)))},
		"Params.MmapMax":          {eq(konst(uint64(params.MmapMax)))},
		"Params.MXFast":           {eq(konst(uint64(params.MXFast)))},
		"Params.Perturb":          {eq(konst(uint64(params.Perturb)))},
		"Params.DynamicThreshold": {isBool(params.DynamicThreshold)},
		"Params.DynamicRaises":    {cumulative("Params.DynamicRaises")},
		"Params.Populate":         {isBool(params.Populate && !mmapper.PopulateRefused())},

		"Limit.Limit":    {eq(konst(uint64(alloc.SetMemoryLimit(-1))))},
		"Limit.Refused":  {cumulative("Limit.Refused")},
		"Limit.Reclaims": {cumulative("Limit.Reclaims"), le(field("Refused"))},

		"GoMemLimit.Auto":    {},
		"GoMemLimit.Total":   {pred(func() bool { return s.GoMemLimit.Auto == (s.GoMemLimit.Total > 0) }, "> 0 exactly when Auto")},
		"GoMemLimit.Source":  {pred(func() bool { return s.GoMemLimit.Auto == (s.GoMemLimit.Source != "") }, "set exactly when Auto")},
		"GoMemLimit.Limit":   {le(field("Total"))},
		"GoMemLimit.Updates": {cumulative("GoMemLimit.Updates")},

		// The break's two, each mapped chunk, each arena but the main one
		// (its heap; the first arenas' bin heads are in static memory).
		"Mappings.Count": {ge(of(func(s *alloc.Stats) uint64 { return 2 + s.Mapped.Count + uint64(len(s.Arenas)) - 1 })),
			le(field("MaxMapCount"))},
		"Mappings.Budget":      {le(field("MaxMapCount")), ge(konst(1))},
		"Mappings.MaxMapCount": {eq(konst(maxMapCount))},
		"Mappings.Refused":     {cumulative("Mappings.Refused")},
		"Mappings.Limited":     {pred(func() bool { return s.Mappings.Limited == (s.Mappings.Count >= s.Mappings.Budget) }, "Count >= Budget")},

		"Faults.Minor":      {ge(field("MinorSince")), cumulative("Faults.Minor")},
		"Faults.Major":      {ge(field("MajorSince")), cumulative("Faults.Major")},
		"Faults.MinorSince": {cumulative("Faults.MinorSince")},
		"Faults.MajorSince": {cumulative("Faults.MajorSince")},

		"RSS.Process":     {ge(konst(1 << 20))},
		"RSS.ProcessPeak": {ge(konst(1 << 20))},
		"RSS.Measured":    {isBool(resident)},
		"RSS.Allocator":   {eq(sum("Heap", "Mapped", "Kept")), le(of(func(s *alloc.Stats) uint64 { return s.RSS.Process + 4<<20 }))},
		"RSS.Kept":        {le(of(func(s *alloc.Stats) uint64 { return s.Decay.MappedKept }))},
		"RSS.HugePages":   {le(of(func(s *alloc.Stats) uint64 { return s.HeapSys + s.Mapped.Bytes + s.Decay.MappedKept }))},
		"RSS.Heap":        {le(of(func(s *alloc.Stats) uint64 { return s.HeapSys + s.PrivateSys + s.HeapCache.Bytes }))},
		"RSS.Mapped":      {le(of(func(s *alloc.Stats) uint64 { return s.Mapped.Bytes }))},
	}
	for _, op := range []string{"Brk", "Mmap", "Munmap", "Mremap", "Madvise", "Mprotect", "Mincore"} {
		p := "Syscalls." + op + "."
		rules[p+"Calls"] = []check{ge(field("Errors")), cumulative(p + "Calls")}
		rules[p+"Bytes"] = []check{cumulative(p + "Bytes")}
		rules[p+"Errors"] = []check{cumulative(p + "Errors")}
	}
	if s.Break == "brk" {
		rules["Syscalls.Brk.Calls"] = append(rules["Syscalls.Brk.Calls"], ge(konst(1)))
	}
	rules["Syscalls.Mmap.Calls"] = append(rules["Syscalls.Mmap.Calls"], ge(konst(2)))
	if !resident {
		for _, f := range []string{"RSS.Allocator", "RSS.Heap", "RSS.Mapped", "RSS.Kept", "RSS.HugePages"} {
			rules[f] = append(rules[f], eq(konst(0)))
		}
	}

	seen := map[string]bool{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			fv := v.Field(i)
			p := path + f.Name
			switch {
			case fv.Type() == reflect.TypeFor[time.Time]():
				apply(t, rules, seen, p, fv, v) // a value, checked whole
				continue
			case fv.Kind() == reflect.Struct:
				walk(fv, p+".")
				continue
			case fv.Kind() == reflect.Slice:
				apply(t, rules, seen, p, fv, v)
				for j := 0; j < fv.Len(); j++ {
					walk(fv.Index(j), p+"[].")
				}
				continue
			}
			apply(t, rules, seen, p, fv, v)
		}
	}
	walk(reflect.ValueOf(*s), "")
	for p := range rules {
		if !seen[p] && !(strings.HasPrefix(p, "Heaps[].") && len(s.Heaps) == 0) {
			t.Errorf("a rule names %s, which Stats does not have", p)
		}
	}
}

func apply(t *testing.T, rules map[string][]check, seen map[string]bool, path string, v, parent reflect.Value) {
	t.Helper()
	cs, ok := rules[path]
	if !ok {
		t.Errorf("Stats.%s has no rule in checkStats: add one", path)
		return
	}
	seen[path] = true
	for _, c := range cs {
		if err := c(v, parent); err != nil {
			t.Errorf("Stats.%s %v", path, err)
		}
	}
}

// lookupPath finds the field at a path of plain field names.
func lookupPath(v reflect.Value, path string) (reflect.Value, bool) {
	for name := range strings.SplitSeq(path, ".") {
		v = v.FieldByName(name)
		if !v.IsValid() {
			return v, false
		}
	}
	return v, true
}

// TestStatsIdentities checks every field of ReadStats and ReadResident by
// its rules after some work in this process, whatever else ran here.
func TestStatsIdentities(t *testing.T) {
	var prev alloc.Stats
	alloc.ReadStats(&prev)
	var keep []unsafe.Pointer
	for i := range 300 {
		keep = append(keep, alloc.Malloc(16+i*i*7%300000))
	}
	for i := 0; i < len(keep); i += 2 {
		alloc.Free(keep[i])
		keep[i] = nil
	}
	// A private heap, with a mapped chunk, for the Heaps[] figures.
	ph := alloc.NewHeap()
	defer ph.Destroy()
	for i := range 100 {
		ph.Malloc(16 + i*i*13%200000)
	}
	ph.Malloc(1 << 20)
	var s, r alloc.Stats
	alloc.ReadStats(&s)
	checkStats(t, &s, &prev, false)
	if len(s.Heaps) == 0 || s.PrivateSys == 0 || s.Heaps[len(s.Heaps)-1].MappedCount == 0 {
		t.Errorf("Stats lists the live private heaps as %+v", s.Heaps)
	}
	alloc.ReadResident(&r)
	checkStats(t, &r, &s, true)
	for _, p := range keep {
		alloc.Free(p)
	}
}

// TestStatsRecount: in a fresh process with one arena, a randomized
// workload keeps its own record of every live block; after the caches are
// flushed the heap's bytes in use must equal the chunks it holds, and the
// mapped chunks their count and bytes; three accounts of the heaps' system
// memory (the arenas', the OS boundary's, the events') must agree.
func TestStatsRecount(t *testing.T) {
	if _, child := inStatsChild(t, "OFFHEAP=arena_max=1"); !child {
		return
	}
	rng := rand.New(rand.NewPCG(seedFor(t), 4))
	type block struct {
		p      unsafe.Pointer
		mapped bool
	}
	var live []block
	for round := range 6 {
		for range 500 {
			var n int
			switch r := rng.IntN(100); {
			case r < 60:
				n = 1 + rng.IntN(1024)
			case r < 90:
				n = 1024 + rng.IntN(64<<10)
			default:
				n = 64<<10 + rng.IntN(400<<10)
			}
			var p unsafe.Pointer
			switch rng.IntN(4) {
			case 0:
				p = alloc.Calloc(1, n)
			case 1:
				if len(live) > 0 {
					i := rng.IntN(len(live))
					p = alloc.Realloc(live[i].p, n)
					live[i] = live[len(live)-1]
					live = live[:len(live)-1]
				} else {
					p = alloc.Malloc(n)
				}
			default:
				p = alloc.Malloc(n)
			}
			if p == nil {
				t.Fatalf("allocation of %d bytes failed", n)
			}
			live = append(live, block{p, alloc.IsMapped(p)})
		}
		rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		for len(live) > 300 {
			alloc.Free(live[len(live)-1].p)
			live = live[:len(live)-1]
		}
		alloc.FlushCaches()
		var s alloc.Stats
		alloc.ReadStats(&s)
		var heapBytes, mappedBytes, mappedCount uint64
		for _, b := range live {
			if b.mapped {
				mappedCount++
				mappedBytes += uint64(alloc.UsableSize(b.p)) + 16
			} else {
				heapBytes += uint64(alloc.UsableSize(b.p)) + 8
			}
		}
		if len(s.Arenas) != 1 || s.CachedChunks != 0 {
			t.Fatalf("round %d: %d arenas, %d cached chunks; want 1 and 0 (arena_max=1, caches flushed)", round, len(s.Arenas), s.CachedChunks)
		}
		if s.HeapInuse != heapBytes {
			t.Errorf("round %d: HeapInuse %d, the live heap blocks' chunks add up to %d", round, s.HeapInuse, heapBytes)
		}
		if s.Mapped.Count != mappedCount || s.Mapped.Bytes != mappedBytes {
			t.Errorf("round %d: Mapped %d chunks, %d bytes; the live mapped blocks are %d, %d bytes",
				round, s.Mapped.Count, s.Mapped.Bytes, mappedCount, mappedBytes)
		}
		sys, heapAcc, mapAcc, eventAcc := alloc.Accounts()
		if uint64(heapAcc) != s.HeapSys || uint64(eventAcc) != s.HeapSys {
			t.Errorf("round %d: HeapSys %d (the arenas), %d (the OS boundary), %d (the events)", round, s.HeapSys, heapAcc, eventAcc)
		}
		if uint64(sys) != s.Sys || uint64(mapAcc) != s.Mapped.Bytes+s.MetaSys {
			t.Errorf("round %d: Sys %d, account %d; Map bytes %d, mapped + meta %d", round, s.Sys, sys, mapAcc, s.Mapped.Bytes+s.MetaSys)
		}
		if err := alloc.Check(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var prev alloc.Stats
		checkStats(t, &s, &prev, false)
	}
	for _, b := range live {
		alloc.Free(b.p)
	}
}

// TestStatsSyscalls: a mapped request and its free each make one system
// call, counted with its bytes; growing the heap moves the break (or
// commits more of its reserved stand-in); writing fresh memory faults
// about once per page; Measure reports the same.
func TestStatsSyscalls(t *testing.T) {
	if _, child := inStatsChild(t); !child {
		return
	}
	if err := alloc.Mallopt(tune.MmapThreshold, 128<<10); err != nil { // dynamic threshold off
		t.Fatal(err)
	}
	const big = 1 << 20
	const mapping = big + 4096    // request2size(1 MiB) + 8, page-rounded
	alloc.Free(alloc.Malloc(big)) // the first mapping also maps the table of mapped chunks

	var s0, s1, s2 alloc.Stats
	alloc.ReadStats(&s0)
	p := alloc.Malloc(big)
	alloc.ReadStats(&s1)
	alloc.Free(p)
	alloc.ReadStats(&s2)
	d1, d2 := s1.Syscalls.Sub(s0.Syscalls), s2.Syscalls.Sub(s1.Syscalls)
	if d1.Mmap.Calls != 1 || d1.Mmap.Bytes != mapping || d1.Total() != 1 {
		t.Errorf("Malloc(1 MiB): %+v; want exactly one mmap of %d bytes", d1, mapping)
	}
	if d2.Munmap.Calls != 1 || d2.Munmap.Bytes != mapping || d2.Total() != 1 {
		t.Errorf("its Free: %+v; want exactly one munmap of %d bytes", d2, mapping)
	}
	if s1.Mapped.Count != s0.Mapped.Count+1 || s2.Mapped.Count != s0.Mapped.Count {
		t.Errorf("Mapped.Count %d -> %d -> %d", s0.Mapped.Count, s1.Mapped.Count, s2.Mapped.Count)
	}

	// Heap growth: ten 100 KiB blocks (below the threshold, above the
	// caches) grow the main arena.
	var keep []unsafe.Pointer
	for range 10 {
		keep = append(keep, alloc.Malloc(100<<10))
	}
	var s3 alloc.Stats
	alloc.ReadStats(&s3)
	d3 := s3.Syscalls.Sub(s2.Syscalls)
	grown := s3.HeapSys - s2.HeapSys
	if grown < 10*100<<10-256<<10 {
		t.Errorf("HeapSys grew %d bytes for 1000 KiB of blocks", grown)
	}
	switch s3.Break {
	case "brk":
		if d3.Brk.Calls == 0 || d3.Brk.Bytes != grown || s3.BreakSys-s2.BreakSys != grown {
			t.Errorf("heap grew %d bytes: brk %+v, break %d -> %d bytes", grown, d3.Brk, s2.BreakSys, s3.BreakSys)
		}
	case "reserved":
		if d3.Mprotect.Calls == 0 || d3.Mprotect.Bytes != grown {
			t.Errorf("heap grew %d bytes: mprotect %+v", grown, d3.Mprotect)
		}
	}
	t.Logf("heap grew %d bytes with %+v", grown, d3)
	for _, q := range keep {
		alloc.Free(q)
	}

	// Page faults: 8 MiB of fresh mapped memory, its header page already
	// written, faults about once per page when first written.
	thp, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if strings.Contains(string(thp), "[always]") {
		t.Log("transparent huge pages are always on: page faults not checked")
	} else {
		const n = 8 << 20
		q := alloc.Malloc(n)
		var f0, f1 alloc.Stats
		alloc.ReadStats(&f0)
		touch(q, n)
		alloc.ReadStats(&f1)
		pages := uint64(n)/pageSize - 1
		got := f1.Faults.Minor - f0.Faults.Minor
		// Tolerance: the rest of the process (the runtime, ReadStats) may
		// fault a few pages too, and the kernel never faults fewer.
		if got < pages || got > pages+pages/10+64 {
			t.Errorf("writing %d fresh pages: %d minor faults; want %d to %d", pages, got, pages, pages+pages/10+64)
		}
		if f1.Faults.MinorSince-f0.Faults.MinorSince != got {
			t.Errorf("MinorSince rose %d, Minor %d", f1.Faults.MinorSince-f0.Faults.MinorSince, got)
		}
		t.Logf("%d pages written: %d minor faults", pages, got)
		alloc.Free(q)
	}

	// Measure sees the same kinds of figures over a stretch.
	u := alloc.Measure(func() {
		r := alloc.Malloc(4 << 20)
		touch(r, 4<<20)
		alloc.Free(r)
	})
	t.Logf("Measure: %+v", u)
	if u.Syscalls.Mmap.Calls != 1 || u.Syscalls.Munmap.Calls != 1 {
		t.Errorf("Measure: syscalls %+v; want one mmap and one munmap", u.Syscalls)
	}
	if u.MinorFaults < 1000 {
		t.Errorf("Measure: %d minor faults writing 1024 fresh pages", u.MinorFaults)
	}
	if u.PeakRSS < 4<<20 || u.SysPeak < u.SysBefore+4<<20 {
		t.Errorf("Measure: peak RSS %d, Sys peak %d (before %d); want 4 MiB more at least", u.PeakRSS, u.SysPeak, u.SysBefore)
	}
}

// TestStatsTrimRSS: Trim(0) after freeing 32 MiB of heap lowers the
// process's resident set and the allocator's resident bytes by about what
// it released: first from inside a free chunk (MADV_DONTNEED), then by
// lowering the top. Tolerance: the allocator's resident bytes fall by the
// bytes released within 1/16 and 1 MiB (released pages include the top's
// never-touched pad); the process's by at least 7/8 of them (the Go
// runtime may fault in pages meanwhile) and at most 8 MiB more.
func TestStatsTrimRSS(t *testing.T) {
	if _, child := inStatsChild(t); !child {
		return
	}
	for _, set := range [][2]int{{int(tune.MmapThreshold), 1 << 30}, {int(tune.TrimThreshold), 1 << 40}} {
		if err := alloc.Mallopt(tune.Param(set[0]), set[1]); err != nil {
			t.Fatal(err)
		}
	}
	const n, size = 128, 256 << 10
	fill := func() []unsafe.Pointer {
		var bs []unsafe.Pointer
		for range n {
			p := alloc.Malloc(size)
			touch(p, size)
			bs = append(bs, p)
		}
		return bs
	}
	trim := func(what string) {
		t.Helper()
		var r0, r1 alloc.Stats
		alloc.ReadResident(&r0)
		if !alloc.Trim(0) {
			t.Fatalf("%s: Trim(0) released nothing", what)
		}
		alloc.ReadResident(&r1)
		released := (r1.HeapReleased - r0.HeapReleased) + (r1.HeapShrunk - r0.HeapShrunk)
		dropAlloc := int64(r0.RSS.Allocator) - int64(r1.RSS.Allocator)
		dropProc := int64(r0.RSS.Process) - int64(r1.RSS.Process)
		t.Logf("%s: released %d (inside free chunks %d, shrunk %d); allocator resident %d -> %d; process %d -> %d",
			what, released, r1.HeapReleased-r0.HeapReleased, r1.HeapShrunk-r0.HeapShrunk,
			r0.RSS.Allocator, r1.RSS.Allocator, r0.RSS.Process, r1.RSS.Process)
		if released < n*size-1<<20 {
			t.Errorf("%s: Trim released %d bytes of %d freed", what, released, n*size)
		}
		if r := int64(released); dropAlloc < r-r/16-1<<20 || dropAlloc > r+1<<20 {
			t.Errorf("%s: the allocator's resident bytes fell %d, released %d", what, dropAlloc, released)
		}
		if r := int64(released); dropProc < r*7/8 || dropProc > r+8<<20 {
			t.Errorf("%s: the process's resident set fell %d, released %d", what, dropProc, released)
		}
	}

	blocks := fill()
	pin := alloc.Malloc(size) // keeps the freed blocks off the top
	for _, p := range blocks {
		alloc.Free(p)
	}
	trim("inside a free chunk")

	blocks = fill()
	for _, p := range blocks {
		alloc.Free(p)
	}
	alloc.Free(pin)
	var s alloc.Stats
	alloc.ReadStats(&s)
	if s.HeapTop < n*size {
		t.Fatalf("the freed blocks did not join the top (%d bytes)", s.HeapTop)
	}
	trim("the top")
}

// ---- printed forms ----

// infoDoc is malloc_info's XML.
type infoDoc struct {
	XMLName xml.Name     `xml:"malloc"`
	Version string       `xml:"version,attr"`
	Heaps   []infoHeap   `xml:"heap"`
	Totals  []infoTotal  `xml:"total"`
	Systems []infoSystem `xml:"system"`
	Aspaces []infoSystem `xml:"aspace"`
}

type infoHeap struct {
	Nr       int          `xml:"nr,attr"`
	Sizes    []infoSize   `xml:"sizes>size"`
	Unsorted []infoSize   `xml:"sizes>unsorted"`
	Totals   []infoTotal  `xml:"total"`
	Systems  []infoSystem `xml:"system"`
	Aspaces  []infoSystem `xml:"aspace"`
}

type infoSize struct {
	From  uint64 `xml:"from,attr"`
	To    uint64 `xml:"to,attr"`
	Total uint64 `xml:"total,attr"`
	Count uint64 `xml:"count,attr"`
}

type infoTotal struct {
	Type  string `xml:"type,attr"`
	Count uint64 `xml:"count,attr"`
	Size  uint64 `xml:"size,attr"`
}

type infoSystem struct {
	Type string `xml:"type,attr"`
	Size uint64 `xml:"size,attr"`
}

// skeleton reduces malloc_info's XML to its structure: one line per
// element with its attribute names (and its type, which names the
// figure), leaving out the <size> and <unsorted> lines, whose number
// depends on the heap.
func skeleton(t *testing.T, doc []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var out []string
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("XML: %v\n%s", err, doc)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			if e.Name.Local == "size" || e.Name.Local == "unsorted" {
				var names []string
				for _, a := range e.Attr {
					names = append(names, a.Name.Local)
				}
				if got := strings.Join(names, ","); got != "from,to,total,count" {
					t.Errorf("<%s> has attributes %s, glibc's have from,to,total,count", e.Name.Local, got)
				}
				continue
			}
			line := strings.Repeat(" ", depth) + e.Name.Local
			for _, a := range e.Attr {
				if a.Name.Local == "type" || a.Name.Local == "version" {
					line += " " + a.Name.Local + "=" + a.Value
				} else {
					line += " " + a.Name.Local
				}
			}
			out = append(out, line)
		case xml.EndElement:
			depth--
		}
	}
	return out
}

// TestWriteInfo: WriteInfo's XML parses, has exactly the structure of
// glibc 2.36's malloc_info (testdata holds glibc's output for a process
// with two arenas and a mapped chunk, captured on this kind of machine
// with a C program calling malloc_info(0, stderr)), and its figures are
// those of the same snapshot.
func TestWriteInfo(t *testing.T) {
	if _, child := inStatsChild(t); !child {
		return
	}
	// Two arenas with chunks in fastbins, bins and the unsorted list, and
	// a mapped chunk, as in glibc's sample.
	var keep []unsafe.Pointer
	for a := range 2 {
		var ps []unsafe.Pointer
		for i := range 200 {
			ps = append(ps, alloc.ArenaMalloc(a, 16+(i%50)*97))
		}
		for i, p := range ps {
			if i%2 == 0 {
				alloc.Free(p)
			} else {
				keep = append(keep, p)
			}
		}
	}
	alloc.FlushCaches()
	m := alloc.Malloc(300 << 10)
	u1, g1, u2, g2 := alloc.ArenaMalloc(0, 5000), alloc.ArenaMalloc(0, 100), alloc.ArenaMalloc(0, 7000), alloc.ArenaMalloc(0, 100)
	alloc.Free(u1)
	alloc.Free(u2) // on the unsorted list until the next request sorts them
	alloc.FlushCaches()

	var s alloc.Stats
	bins := alloc.ReadStatsBins(&s)
	var buf bytes.Buffer
	if err := alloc.WriteInfoOf(&buf, &s, bins); err != nil {
		t.Fatal(err)
	}
	ours := buf.Bytes()
	t.Logf("WriteInfo:\n%s", ours)
	glibc, err := os.ReadFile("testdata/glibc-2.36-malloc_info.xml")
	if err != nil {
		t.Fatal(err)
	}
	if g, o := strings.Join(skeleton(t, glibc), "\n"), strings.Join(skeleton(t, ours), "\n"); g != o {
		t.Errorf("structure differs from glibc's:\nglibc:\n%s\noffheap:\n%s", g, o)
	}
	if !bytes.Contains(ours, []byte("<unsorted ")) || !bytes.Contains(ours, []byte("<size ")) {
		t.Errorf("no <size> or no <unsorted> line: the test's heap should have both")
	}

	var doc infoDoc
	if err := xml.Unmarshal(ours, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "1" || len(doc.Heaps) != len(s.Arenas) {
		t.Fatalf("version %q, %d heaps; want 1 and %d", doc.Version, len(doc.Heaps), len(s.Arenas))
	}
	var fastCount, fastSize, restCount, restSize uint64
	for i, h := range doc.Heaps {
		a := s.Arenas[i]
		var binned, nbinned uint64
		for _, sz := range append(h.Sizes, h.Unsorted...) {
			if sz.From > sz.To || sz.Count == 0 || sz.Total < sz.Count*sz.From || sz.Total > sz.Count*sz.To {
				t.Errorf("heap %d: inconsistent %+v", i, sz)
			}
			binned += sz.Total
			nbinned += sz.Count
		}
		want := []infoTotal{{"fast", a.FastChunks, a.Fastbins}, {"rest", a.FreeChunks, a.Free - a.Fastbins}}
		if !reflect.DeepEqual(h.Totals, want) {
			t.Errorf("heap %d: totals %+v, want %+v", i, h.Totals, want)
		}
		// Every free chunk is in a listed bin, but the top.
		if top := min(a.Top, 1); binned != a.Free-a.Top || nbinned != a.FreeChunks+a.FastChunks-top {
			t.Errorf("heap %d: <size> lines hold %d chunks of %d bytes; the arena has %d free chunks besides the top, %d bytes",
				i, nbinned, binned, a.FreeChunks+a.FastChunks-top, a.Free-a.Top)
		}
		if h.Systems[0].Size != a.System || h.Systems[1].Size != a.SystemPeak {
			t.Errorf("heap %d: system %+v, want %d and %d", i, h.Systems, a.System, a.SystemPeak)
		}
		fastCount += a.FastChunks
		fastSize += a.Fastbins
		restCount += a.FreeChunks
		restSize += a.Free - a.Fastbins
	}
	want := []infoTotal{{"fast", fastCount, fastSize}, {"rest", restCount, restSize}, {"mmap", s.Mapped.Count, s.Mapped.Bytes}}
	if !reflect.DeepEqual(doc.Totals, want) {
		t.Errorf("totals %+v, want %+v", doc.Totals, want)
	}
	if doc.Systems[0].Size != s.HeapSys || s.Mapped.Count != 1 {
		t.Errorf("system current %d, HeapSys %d; %d mapped chunks, want 1", doc.Systems[0].Size, s.HeapSys, s.Mapped.Count)
	}
	if s.FastChunks == 0 {
		t.Errorf("no chunk in the fastbins: the test's heap should have some")
	}

	// The public function writes the same structure.
	buf.Reset()
	if err := alloc.WriteInfo(&buf); err != nil {
		t.Fatal(err)
	}
	if g, o := strings.Join(skeleton(t, glibc), "\n"), strings.Join(skeleton(t, buf.Bytes()), "\n"); g != o {
		t.Errorf("WriteInfo's structure differs from glibc's:\n%s", o)
	}
	for _, p := range append(keep, m, g1, g2) {
		alloc.Free(p)
	}
}

// TestWriteStats: the text starts with glibc's malloc_stats lines for the
// snapshot, and every figure of offheap's own is there once.
func TestWriteStats(t *testing.T) {
	p := alloc.Malloc(1 << 20)
	defer alloc.Free(p)
	var s alloc.Stats
	alloc.ReadStats(&s)
	var buf bytes.Buffer
	if err := alloc.WriteStatsOf(&buf, &s); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	t.Logf("WriteStats:\n%s", text)
	var head strings.Builder
	for i, a := range s.Arenas {
		fmt.Fprintf(&head, "Arena %d:\nsystem bytes     = %10d\nin use bytes     = %10d\n", i, a.System, a.Inuse)
	}
	fmt.Fprintf(&head, "Total (incl. mmap):\nsystem bytes     = %10d\nin use bytes     = %10d\nmax mmap regions = %10d\nmax mmap bytes   = %10d\noffheap:\n",
		s.HeapSys+s.Mapped.Bytes, s.HeapInuse+s.Mapped.Bytes, s.Mapped.CountPeak, s.Mapped.BytesPeak)
	if !strings.HasPrefix(text, head.String()) {
		t.Errorf("the text does not start with glibc's lines:\n%s", head.String())
	}
	values := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimPrefix(text, head.String()), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, " = ")
		k = strings.TrimSpace(k)
		if _, dup := values[k]; !ok || dup {
			t.Errorf("line %q: not a new name = value", line)
		}
		values[k] = v
	}
	for k, want := range map[string]uint64{
		"sys bytes": s.Sys, "heap in use bytes": s.HeapInuse, "heap free bytes": s.HeapFree,
		"mmap bytes": s.Mapped.Bytes, "mmap threshold": s.Params.MmapThreshold, "limit": s.Limit.Limit,
	} {
		if values[k] != strconv.FormatUint(want, 10) {
			t.Errorf("%s = %s, want %d", k, values[k], want)
		}
	}
	if values["break"] != s.Break || !strings.HasPrefix(values["syscalls mmap"], strconv.FormatUint(s.Syscalls.Mmap.Calls, 10)+" calls") {
		t.Errorf("break = %s, syscalls mmap = %s", values["break"], values["syscalls mmap"])
	}
	buf.Reset()
	if err := alloc.WriteStats(&buf); err != nil || !strings.HasPrefix(buf.String(), "Arena 0:\n") {
		t.Errorf("WriteStats: %v\n%s", err, buf.String())
	}
}

// TestWriteJSON: the JSON form reads back into the same Stats, and
// StatsVar (what expvar shows) is the same form on one line.
func TestWriteJSON(t *testing.T) {
	p := alloc.Malloc(1 << 20)
	defer alloc.Free(p)
	var s alloc.Stats
	alloc.ReadResident(&s)
	var buf bytes.Buffer
	if err := alloc.WriteJSONOf(&buf, &s); err != nil {
		t.Fatal(err)
	}
	var back alloc.Stats
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("JSON round trip changed the figures:\n%+v\n%+v", s, back)
	}
	buf.Reset()
	if err := alloc.WriteJSON(&buf); err != nil || json.Unmarshal(buf.Bytes(), &back) != nil {
		t.Fatalf("WriteJSON: %v\n%s", err, buf.Bytes())
	}
	v := alloc.StatsVar{}.String()
	if strings.Contains(v, "\n") {
		t.Errorf("StatsVar spans lines")
	}
	var fromVar alloc.Stats
	if err := json.Unmarshal([]byte(v), &fromVar); err != nil {
		t.Fatalf("StatsVar: %v\n%s", err, v)
	}
	if fromVar.Sys == 0 || fromVar.HeapSys == 0 || fromVar.Break != s.Break {
		t.Errorf("StatsVar: %s", v)
	}
}

// TestNoCgo: package alloc, and everything its tests import, link no C,
// so offheap has the real program break (a -race binary links C anyway).
// Importing expvar or net/http would break this.
func TestNoCgo(t *testing.T) {
	var s alloc.Stats
	alloc.ReadStats(&s)
	if !alloc.StatsRaceEnabled && s.Break != "brk" {
		t.Errorf("the break is %q: something in this binary links C code", s.Break)
	}
}
