package alloc_test

// Tests of the memory limit, the coupling with the Go memory limit and the
// mapping budget (issue 4, acceptance 5), each in a fresh child process.

import (
	"errors"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/tune"
)

// TestMemoryLimit: with OFFHEAP=limit=64m, memory held in the per-P cache
// is given back (flush and trim) when a request would pass the limit, and
// the request then succeeds, whichever function made it; allocation stops
// at the limit with nil, after a trim; the allocator stays usable;
// SetMemoryLimit reads and lifts the limit.
func TestMemoryLimit(t *testing.T) {
	const limit = 64 << 20
	if _, child := inStatsChild(t, "OFFHEAP=limit=64m,tcache_count=65535"); !child {
		return
	}
	if got := alloc.SetMemoryLimit(-1); got != limit {
		t.Fatalf("SetMemoryLimit(-1) = %d, want %d from OFFHEAP", got, limit)
	}
	// For each way to allocate: 40 MiB of 1 KiB blocks, freed into the P's
	// cache (it holds up to 65535 chunks of a size), are in use as far as
	// the arena knows; 30 MiB more would pass the limit, so offheap flushes
	// the cache and trims, and the request succeeds.
	var prev alloc.Stats
	alloc.ReadStats(&prev)
	for _, c := range []struct {
		name string
		f    func() unsafe.Pointer
	}{
		{"Malloc", func() unsafe.Pointer { return alloc.Malloc(30 << 20) }},
		{"Calloc", func() unsafe.Pointer { return alloc.Calloc(30, 1<<20) }},
		{"Realloc", func() unsafe.Pointer { return alloc.Realloc(alloc.Malloc(200<<10), 30<<20) }},
		{"AlignedAlloc", func() unsafe.Pointer { return alloc.AlignedAlloc(1<<16, 30<<20) }},
	} {
		var small []unsafe.Pointer
		for range 40 << 10 {
			p := alloc.Malloc(1024)
			if p == nil {
				t.Fatalf("%s: Malloc(1024) failed under the limit", c.name)
			}
			small = append(small, p)
		}
		for _, p := range small {
			alloc.Free(p)
		}
		var s0 alloc.Stats
		alloc.ReadStats(&s0)
		if s0.HeapCached < 40<<20 || s0.Sys+30<<20 <= limit {
			t.Fatalf("%s: the setup is wrong: %d bytes cached, Sys %d", c.name, s0.HeapCached, s0.Sys)
		}
		p := c.f()
		var s1 alloc.Stats
		alloc.ReadStats(&s1)
		t.Logf("%s(30 MiB) with 40 MiB cached: Sys %d -> %d, refused %d, reclaims %d",
			c.name, s0.Sys, s1.Sys, s1.Limit.Refused-prev.Limit.Refused, s1.Limit.Reclaims-prev.Limit.Reclaims)
		if p == nil {
			t.Fatalf("%s(30 MiB) = nil, though flushing the cache frees 40 MiB", c.name)
		}
		if s1.Limit.Refused == prev.Limit.Refused || s1.Limit.Reclaims != prev.Limit.Reclaims+1 || s1.CachedChunks != 0 {
			t.Errorf("%s: refused %d, reclaims %d, cached chunks %d: want a refusal, then one flush and trim",
				c.name, s1.Limit.Refused-prev.Limit.Refused, s1.Limit.Reclaims-prev.Limit.Reclaims, s1.CachedChunks)
		}
		prev = s1
		alloc.Free(p)
	}
	s1 := prev

	// Allocate until nil.
	var blocks []unsafe.Pointer
	for {
		p := alloc.Malloc(1 << 20)
		if p == nil {
			break
		}
		touch(p, 1<<20)
		blocks = append(blocks, p)
		if len(blocks) > 64 {
			t.Fatalf("64 MiB more allocated under a 64 MiB limit")
		}
	}
	var s2 alloc.Stats
	alloc.ReadStats(&s2)
	t.Logf("stopped after %d more MiB: Sys %d (peak %d), refused %d, reclaims %d", len(blocks), s2.Sys, s2.SysPeak, s2.Limit.Refused, s2.Limit.Reclaims)
	if s2.SysPeak > limit || s2.Limit.Reclaims <= s1.Limit.Reclaims {
		t.Errorf("Sys peak %d above the limit %d, or no trim before nil (reclaims %d)", s2.SysPeak, limit, s2.Limit.Reclaims)
	}
	// What stopped it is the limit: less than 2 MiB (a mapped MiB and the
	// heap's growth pad) was left.
	if s2.Sys+2<<20 < limit {
		t.Errorf("allocation stopped with Sys %d, more than 2 MiB under the limit %d", s2.Sys, limit)
	}
	if err := alloc.Check(); err != nil {
		t.Fatal(err)
	}

	// Still usable: freed memory serves new requests.
	alloc.Free(blocks[0])
	alloc.Free(blocks[1])
	blocks = blocks[2:]
	if p := alloc.Malloc(1 << 20); p == nil {
		t.Errorf("Malloc(1 MiB) after freeing 2 MiB at the limit = nil")
	} else {
		blocks = append(blocks, p)
	}
	if p := alloc.Malloc(16); p == nil {
		t.Errorf("Malloc(16) at the limit = nil")
	} else {
		alloc.Free(p)
	}
	// Lifting the limit.
	if prev := alloc.SetMemoryLimit(0); prev != limit {
		t.Errorf("SetMemoryLimit(0) = %d, want %d", prev, limit)
	}
	if p := alloc.Malloc(16 << 20); p == nil {
		t.Errorf("Malloc(16 MiB) without a limit = nil")
	} else {
		alloc.Free(p)
	}
	if err := alloc.Mallopt(tune.Limit, 1<<30); err != nil || alloc.SetMemoryLimit(-1) != 1<<30 {
		t.Errorf("Mallopt(tune.Limit, 1 GiB): %v; limit now %d", err, alloc.SetMemoryLimit(-1))
	}
	for _, p := range blocks {
		alloc.Free(p)
	}
}

// TestGoMemLimitAuto: with GOMEMLIMIT=1GiB and OFFHEAP=gomemlimit=auto,
// the Go memory limit is 1 GiB less what offheap holds: it falls by about
// 64 MiB when offheap takes 64 MiB for its heap, stays low while that
// memory is free but not trimmed, and rises again after Trim. Tolerance:
// the hysteresis, 1% of the total (about 10 MiB).
func TestGoMemLimitAuto(t *testing.T) {
	const total = 1 << 30
	if _, child := inStatsChild(t, "GOMEMLIMIT=1GiB", "OFFHEAP=gomemlimit=auto"); !child {
		return
	}
	const step = total / 100
	// Heap memory that only Trim gives back.
	for _, set := range [][2]int{{int(tune.MmapThreshold), 1 << 30}, {int(tune.TrimThreshold), 1 << 40}} {
		if err := alloc.Mallopt(tune.Param(set[0]), set[1]); err != nil {
			t.Fatal(err)
		}
	}
	var s alloc.Stats
	alloc.ReadStats(&s)
	l0 := debug.SetMemoryLimit(-1)
	t.Logf("start: Go limit %d, Sys %d, %+v", l0, s.Sys, s.GoMemLimit)
	if !s.GoMemLimit.Auto || s.GoMemLimit.Total != total || s.GoMemLimit.Source != "GOMEMLIMIT" {
		t.Fatalf("GoMemLimit %+v: want auto with the total from GOMEMLIMIT", s.GoMemLimit)
	}
	if d := int64(total) - int64(s.Sys) - l0; d < -step || d > step {
		t.Errorf("Go limit %d, want 1 GiB less Sys %d", l0, s.Sys)
	}
	var blocks []unsafe.Pointer
	for range 256 {
		blocks = append(blocks, alloc.Malloc(256<<10))
	}
	l1 := debug.SetMemoryLimit(-1)
	for _, p := range blocks {
		alloc.Free(p)
	}
	l2 := debug.SetMemoryLimit(-1)
	alloc.Trim(0)
	l3 := debug.SetMemoryLimit(-1)
	t.Logf("Go limit: %d at start, %d with 64 MiB allocated, %d freed, %d trimmed", l0, l1, l2, l3)
	if fall := l0 - l1; fall < 64<<20-step || fall > 64<<20+step {
		t.Errorf("the Go limit fell %d with 64 MiB allocated", fall)
	}
	if d := l2 - l1; d < -step || d > step {
		t.Errorf("the Go limit moved %d when the memory was freed, before any trim", d)
	}
	if d := l0 - l3; d < -step || d > step {
		t.Errorf("after Trim the Go limit is %d, %d from where it started", l3, d)
	}

	// The API: another total, then off, which gives back GOMEMLIMIT.
	if got, err := alloc.CoupleGoMemoryLimit(512 << 20); err != nil || got != 512<<20 {
		t.Fatalf("CoupleGoMemoryLimit(512 MiB) = %d, %v", got, err)
	}
	alloc.ReadStats(&s)
	if l := debug.SetMemoryLimit(-1); l != 512<<20-int64(s.Sys) || s.GoMemLimit.Source != "CoupleGoMemoryLimit" {
		t.Errorf("Go limit %d, want 512 MiB less Sys %d; %+v", l, s.Sys, s.GoMemLimit)
	}
	if got, err := alloc.CoupleGoMemoryLimit(-1); err != nil || got != 0 {
		t.Errorf("CoupleGoMemoryLimit(-1) = %d, %v", got, err)
	}
	alloc.ReadStats(&s)
	if l := debug.SetMemoryLimit(-1); l != total || s.GoMemLimit.Auto {
		t.Errorf("off: Go limit %d, want GOMEMLIMIT back (%d); %+v", l, int64(total), s.GoMemLimit)
	}
	if err := alloc.Mallopt(tune.GoMemLimit, 1); err != nil || debug.SetMemoryLimit(-1) >= total {
		t.Errorf("Mallopt(tune.GoMemLimit, 1): %v; Go limit %d", err, debug.SetMemoryLimit(-1))
	}
}

// TestGoMemLimitNoTotal: gomemlimit=auto with neither GOMEMLIMIT nor a
// cgroup limit says so on one line of standard error, leaves the Go limit
// alone and reports the same problem from EnvProblems.
func TestGoMemLimitNoTotal(t *testing.T) {
	if _, ok := alloc.CgroupMemoryLimit(os.DirFS("/")); ok {
		t.Skip("this process's cgroup has a memory limit")
	}
	out, child := inStatsChild(t, "OFFHEAP=gomemlimit=auto")
	if child {
		var s alloc.Stats
		alloc.ReadStats(&s)
		if s.GoMemLimit.Auto || debug.SetMemoryLimit(-1) != math.MaxInt64 {
			t.Errorf("GoMemLimit %+v, Go limit %d: want nothing changed", s.GoMemLimit, debug.SetMemoryLimit(-1))
		}
		err := alloc.EnvProblems()
		if err == nil {
			t.Fatal("EnvProblems() = nil")
		}
		result("problem", err)
		if _, err := alloc.CoupleGoMemoryLimit(0); err == nil {
			t.Errorf("CoupleGoMemoryLimit(0) without a total: no error")
		}
		return
	}
	lines := strings.Split(strings.TrimSuffix(out.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "gomemlimit=auto") || !strings.Contains(lines[0], out.results["problem"]) {
		t.Errorf("stderr %q; want one line with the problem %q", out.stderr, out.results["problem"])
	}
}

// TestMappingBudget: when offheap's mappings reach the budget, a large
// request that would have been mapped is served from the heap, the refusal
// is counted and the stats say the budget is reached; below the budget
// requests are mapped again.
func TestMappingBudget(t *testing.T) {
	if _, child := inStatsChild(t); !child {
		return
	}
	if err := alloc.Mallopt(tune.MmapThreshold, 128<<10); err != nil {
		t.Fatal(err)
	}
	p := alloc.Malloc(1 << 20)
	if !alloc.IsMapped(p) {
		t.Fatal("Malloc(1 MiB) was not mapped with a 128 KiB threshold")
	}
	var s0 alloc.Stats
	alloc.ReadStats(&s0)
	old := alloc.SetMapBudget(int64(s0.Mappings.Count))
	q := alloc.Malloc(1 << 20)
	var s1 alloc.Stats
	alloc.ReadStats(&s1)
	if q == nil || alloc.IsMapped(q) {
		t.Fatalf("at the budget: Malloc(1 MiB) = %p, mapped %v; want a heap block", q, q != nil && alloc.IsMapped(q))
	}
	touch(q, 1<<20)
	if s1.Mappings.Refused == 0 || !s1.Mappings.Limited || s1.Mapped.Count != s0.Mapped.Count {
		t.Errorf("at the budget: %+v, %d mapped chunks (before %d)", s1.Mappings, s1.Mapped.Count, s0.Mapped.Count)
	}
	alloc.SetMapBudget(old)
	r := alloc.Malloc(2 << 20)
	if !alloc.IsMapped(r) {
		t.Errorf("under the budget again, Malloc(2 MiB) was not mapped")
	}
	for _, x := range []unsafe.Pointer{p, q, r} {
		alloc.Free(x)
	}
	if err := alloc.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestCgroupMemoryLimit reads cgroup limits from file-system trees.
func TestCgroupMemoryLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, c := range []struct {
		name string
		fs   fstest.MapFS
		want int64
		ok   bool
	}{
		{"v2 leaf", fstest.MapFS{
			"proc/self/cgroup":                   file("0::/app/web\n"),
			"sys/fs/cgroup/app/web/memory.max":   file("536870912\n"),
			"sys/fs/cgroup/app/memory.max":       file("max\n"),
			"sys/fs/cgroup/memory.max":           file("max\n"),
			"sys/fs/cgroup/app/web/memory.high":  file("1\n"),
			"sys/fs/cgroup/other/web/memory.max": file("1\n"),
		}, 512 << 20, true},
		{"v2 parent lower", fstest.MapFS{
			"proc/self/cgroup":                 file("0::/app/web\n"),
			"sys/fs/cgroup/app/web/memory.max": file("max\n"),
			"sys/fs/cgroup/app/memory.max":     file("268435456\n"),
		}, 256 << 20, true},
		{"v2 namespace root", fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("1073741824\n"),
		}, 1 << 30, true},
		{"v2 no limit", fstest.MapFS{
			"proc/self/cgroup":                 file("0::/app\n"),
			"sys/fs/cgroup/app/memory.max":     file("max\n"),
			"sys/fs/cgroup/app/web/memory.max": file("1\n"),
		}, 0, false},
		{"v1", fstest.MapFS{
			"proc/self/cgroup": file("9:name=systemd:/\n4:memory:/pod/c1\n3:cpu,cpuacct:/pod/c1\n"),
			"sys/fs/cgroup/memory/pod/c1/memory.limit_in_bytes": file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/pod/memory.limit_in_bytes":    file("2147483648\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes":        file("9223372036854771712\n"),
		}, 2 << 30, true},
		{"v1 unlimited", fstest.MapFS{
			"proc/self/cgroup": file("4:memory:/x\n"),
			"sys/fs/cgroup/memory/x/memory.limit_in_bytes": file("9223372036854771712\n"),
		}, 0, false},
		{"unreadable", fstest.MapFS{}, 0, false},
		{"garbage", fstest.MapFS{
			"proc/self/cgroup":         file("0::/\nnonsense\n::\n"),
			"sys/fs/cgroup/memory.max": file("12q\n"),
		}, 0, false},
	} {
		got, ok := alloc.CgroupMemoryLimit(c.fs)
		if got != c.want && c.ok || ok != c.ok {
			t.Errorf("%s: %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestLimitErrors: a refused request is the OS's ENOMEM to the arenas;
// the errors say why.
func TestLimitErrors(t *testing.T) {
	for _, err := range alloc.LimitErrors() {
		if !errors.Is(err, syscall.ENOMEM) || !strings.HasPrefix(err.Error(), "offheap: ") {
			t.Errorf("%v: want an offheap error wrapping ENOMEM", err)
		}
	}
}
