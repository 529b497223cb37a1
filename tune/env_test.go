package tune_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/offheap/offheap/tune"
)

// mapEnv is an environment for FromEnv.
type mapEnv map[string]string

func (m mapEnv) lookup(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}

// problem is an expected FromEnv error.
type problem struct {
	kind  error  // tune.ErrSyntax, tune.ErrRange or tune.ErrUnknown
	v     string // Error.Var
	key   string // Error.Key
	value string // Error.Value
}

func TestFromEnv(t *testing.T) {
	for _, tt := range []struct {
		name     string
		env      mapEnv
		after    map[tune.Param]int64 // params not listed keep their default and are not set
		trace    string
		problems []problem
	}{
		{name: "empty environment", env: mapEnv{}},
		{name: "foreign variables", env: mapEnv{"MALLOC_ARENA": "1", "GODEBUG": "madvdontneed=1", "malloc_top_pad_": "1", "OFFHEAP_DEBUG": "1"}},
		{name: "empty OFFHEAP and GLIBC_TUNABLES", env: mapEnv{"OFFHEAP": "", "GLIBC_TUNABLES": ""}},

		// Each glibc alias alone.
		{name: "MALLOC_TRIM_THRESHOLD_", env: mapEnv{"MALLOC_TRIM_THRESHOLD_": "1m"}, after: map[tune.Param]int64{tune.TrimThreshold: 1 << 20}},
		{name: "MALLOC_TOP_PAD_", env: mapEnv{"MALLOC_TOP_PAD_": "0"}, after: map[tune.Param]int64{tune.TopPad: 0}},
		{name: "MALLOC_MMAP_THRESHOLD_", env: mapEnv{"MALLOC_MMAP_THRESHOLD_": "262144"}, after: map[tune.Param]int64{tune.MmapThreshold: 256 << 10}},
		{name: "MALLOC_MMAP_MAX_", env: mapEnv{"MALLOC_MMAP_MAX_": "0"}, after: map[tune.Param]int64{tune.MmapMax: 0}},
		{name: "MALLOC_CHECK_", env: mapEnv{"MALLOC_CHECK_": "1"}, after: map[tune.Param]int64{tune.CheckAction: 1}},
		{name: "MALLOC_PERTURB_", env: mapEnv{"MALLOC_PERTURB_": "170"}, after: map[tune.Param]int64{tune.Perturb: 170}},
		{name: "MALLOC_ARENA_TEST", env: mapEnv{"MALLOC_ARENA_TEST": "2"}, after: map[tune.Param]int64{tune.ArenaTest: 2}},
		{name: "MALLOC_ARENA_MAX", env: mapEnv{"MALLOC_ARENA_MAX": "4"}, after: map[tune.Param]int64{tune.ArenaMax: 4}},
		{name: "all aliases", env: mapEnv{
			"MALLOC_TRIM_THRESHOLD_": "1", "MALLOC_TOP_PAD_": "2", "MALLOC_MMAP_THRESHOLD_": "3",
			"MALLOC_MMAP_MAX_": "4", "MALLOC_CHECK_": "0", "MALLOC_PERTURB_": "6",
			"MALLOC_ARENA_TEST": "7", "MALLOC_ARENA_MAX": "8",
		}, after: map[tune.Param]int64{
			tune.TrimThreshold: 1, tune.TopPad: 2, tune.MmapThreshold: 3, tune.MmapMax: 4,
			tune.CheckAction: 0, tune.Perturb: 6, tune.ArenaTest: 7, tune.ArenaMax: 8,
		}},

		// GLIBC_TUNABLES.
		{name: "every tunable", env: mapEnv{"GLIBC_TUNABLES": "glibc.malloc.mxfast=64:glibc.malloc.trim_threshold=1k:" +
			"glibc.malloc.top_pad=2k:glibc.malloc.mmap_threshold=3k:glibc.malloc.mmap_max=4:glibc.malloc.check=2:" +
			"glibc.malloc.perturb=255:glibc.malloc.arena_test=5:glibc.malloc.arena_max=6:" +
			"glibc.malloc.tcache_count=7:glibc.malloc.tcache_max=512"},
			after: map[tune.Param]int64{
				tune.MXFast: 64, tune.TrimThreshold: 1 << 10, tune.TopPad: 2 << 10, tune.MmapThreshold: 3 << 10,
				tune.MmapMax: 4, tune.CheckAction: 2, tune.Perturb: 255, tune.ArenaTest: 5, tune.ArenaMax: 6,
				tune.TcacheCount: 7, tune.TcacheMax: 512,
			}},
		{name: "foreign tunables are glibc's",
			env: mapEnv{"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2_Usable,-AVX_Fast_Unaligned_Load:glibc.elision.enable=1:" +
				"glibc.malloc.hugetlb=1:glibc.malloc.tcache_unsorted_limit=5:glibc.mem.tagging=3:" +
				"glibc.malloc.arena_max=2:glibc.rtld.nns=8:noequals:=:glibc.mallocx.limit=1:glibc.malloc"},
			after: map[tune.Param]int64{tune.ArenaMax: 2, tune.HugeTLB: 1}},
		{name: "empty tunable entries", env: mapEnv{"GLIBC_TUNABLES": "::glibc.malloc.perturb=170::"},
			after: map[tune.Param]int64{tune.Perturb: 170}},
		{name: "last tunable entry wins", env: mapEnv{"GLIBC_TUNABLES": "glibc.malloc.top_pad=1:glibc.malloc.top_pad=2"},
			after: map[tune.Param]int64{tune.TopPad: 2}},
		{name: "unknown glibc.malloc tunables",
			env:   mapEnv{"GLIBC_TUNABLES": "glibc.malloc.mmap_treshold=1:glibc.malloc.limit=1m:glibc.malloc.check_action=1:glibc.malloc.=1:glibc.malloc.debug:glibc.malloc.top_pad=5"},
			after: map[tune.Param]int64{tune.TopPad: 5},
			problems: []problem{
				{tune.ErrUnknown, "GLIBC_TUNABLES", "glibc.malloc.mmap_treshold", "1"},
				{tune.ErrUnknown, "GLIBC_TUNABLES", "glibc.malloc.limit", "1m"}, // offheap's own, not a glibc tunable
				{tune.ErrUnknown, "GLIBC_TUNABLES", "glibc.malloc.check_action", "1"},
				{tune.ErrUnknown, "GLIBC_TUNABLES", "glibc.malloc.", "1"},
				{tune.ErrUnknown, "GLIBC_TUNABLES", "glibc.malloc.debug", ""},
			}},
		{name: "a known tunable without a value", env: mapEnv{"GLIBC_TUNABLES": "glibc.malloc.top_pad"},
			problems: []problem{{tune.ErrSyntax, "GLIBC_TUNABLES", "glibc.malloc.top_pad", ""}}},

		// OFFHEAP.
		{name: "every OFFHEAP key", env: mapEnv{"OFFHEAP": "mxfast=0,trim_threshold=1MiB,top_pad=2m,mmap_threshold=3MB," +
			"mmap_max=1,check=0,perturb=1,arena_test=1,arena_max=1,tcache_count=0,tcache_max=64KiB," +
			"limit=1GiB,profile_rate=512k,debug=1000,gomemlimit=auto,harden=1,decay=10s,hugetlb=1,heap_cache=1m,populate=off,tcache_grow=0,trace=/tmp/offheap.trace"},
			after: map[tune.Param]int64{
				tune.MXFast: 0, tune.TrimThreshold: 1 << 20, tune.TopPad: 2 << 20, tune.MmapThreshold: 3 << 20,
				tune.MmapMax: 1, tune.CheckAction: 0, tune.Perturb: 1, tune.ArenaTest: 1, tune.ArenaMax: 1,
				tune.TcacheCount: 0, tune.TcacheMax: 64 << 10, tune.Limit: 1 << 30, tune.ProfileRate: 512 << 10,
				tune.Debug: 1000, tune.GoMemLimit: 1, tune.Harden: 1, tune.Decay: 10000, tune.HugeTLB: 1,
				tune.HeapCache: 1 << 20, tune.Populate: 0, tune.TcacheGrow: 0,
			}, trace: "/tmp/offheap.trace"},
		{name: "empty OFFHEAP entries", env: mapEnv{"OFFHEAP": ",,debug=5,,"}, after: map[tune.Param]int64{tune.Debug: 5}},
		{name: "last OFFHEAP entry wins", env: mapEnv{"OFFHEAP": "debug=5,trace=a,debug=6,trace=b"},
			after: map[tune.Param]int64{tune.Debug: 6}, trace: "b"},
		{name: "trace keeps everything after the first =", env: mapEnv{"OFFHEAP": "trace=/tmp/a=b:c"}, trace: "/tmp/a=b:c"},
		{name: "trace without a value is off", env: mapEnv{"OFFHEAP": "trace=x,trace"}, trace: ""},
		{name: "an explicit default counts as set", env: mapEnv{"OFFHEAP": "mmap_threshold=128k"},
			after: map[tune.Param]int64{tune.MmapThreshold: 128 << 10}},
		{name: "gomemlimit words and numbers", env: mapEnv{"OFFHEAP": "gomemlimit=AUTO"}, after: map[tune.Param]int64{tune.GoMemLimit: 1}},
		{name: "gomemlimit=1", env: mapEnv{"OFFHEAP": "gomemlimit=1"}, after: map[tune.Param]int64{tune.GoMemLimit: 1}},
		{name: "gomemlimit=Off", env: mapEnv{"OFFHEAP": "gomemlimit=auto,gomemlimit=Off"}, after: map[tune.Param]int64{tune.GoMemLimit: 0}},
		{name: "gomemlimit=on", env: mapEnv{"OFFHEAP": "gomemlimit=on"},
			problems: []problem{{tune.ErrSyntax, "OFFHEAP", "gomemlimit", "on"}}},
		{name: "gomemlimit=2", env: mapEnv{"OFFHEAP": "gomemlimit=2"},
			problems: []problem{{tune.ErrRange, "OFFHEAP", "gomemlimit", "2"}}},
		{name: "decay in milliseconds, seconds, minutes", env: mapEnv{"OFFHEAP": "decay=250"}, after: map[tune.Param]int64{tune.Decay: 250}},
		{name: "decay=500ms", env: mapEnv{"OFFHEAP": "decay=500ms"}, after: map[tune.Param]int64{tune.Decay: 500}},
		{name: "decay=2m", env: mapEnv{"OFFHEAP": "decay=2m"}, after: map[tune.Param]int64{tune.Decay: 120000}},
		{name: "decay=1.5s", env: mapEnv{"OFFHEAP": "decay=1.5s"},
			problems: []problem{{tune.ErrSyntax, "OFFHEAP", "decay", "1.5s"}}},
		{name: "decay beyond MaxInt32 ms", env: mapEnv{"OFFHEAP": "decay=600h"},
			problems: []problem{{tune.ErrRange, "OFFHEAP", "decay", "600h"}}},
		{name: "decay is offheap's own, not a glibc tunable", env: mapEnv{"GLIBC_TUNABLES": "glibc.malloc.decay=1"},
			problems: []problem{{tune.ErrUnknown, "GLIBC_TUNABLES", "glibc.malloc.decay", "1"}}},
		{name: "hugetlb from GLIBC_TUNABLES", env: mapEnv{"GLIBC_TUNABLES": "glibc.malloc.hugetlb=2"}, after: map[tune.Param]int64{tune.HugeTLB: 2}},
		{name: "hugetlb: OFFHEAP over GLIBC_TUNABLES", env: mapEnv{"GLIBC_TUNABLES": "glibc.malloc.hugetlb=2", "OFFHEAP": "hugetlb=0"},
			after: map[tune.Param]int64{tune.HugeTLB: 0}},
		{name: "hugetlb=3", env: mapEnv{"OFFHEAP": "hugetlb=3"},
			problems: []problem{{tune.ErrRange, "OFFHEAP", "hugetlb", "3"}}},
		{name: "unknown OFFHEAP keys", env: mapEnv{"OFFHEAP": "mmap_treshold=1,debug=2,MXFAST=1,check_action=0, top_pad=1,GLIBC_TUNABLES,=3"},
			after: map[tune.Param]int64{tune.Debug: 2},
			problems: []problem{
				{tune.ErrUnknown, "OFFHEAP", "mmap_treshold", "1"},
				{tune.ErrUnknown, "OFFHEAP", "MXFAST", "1"},
				{tune.ErrUnknown, "OFFHEAP", "check_action", "0"},
				{tune.ErrUnknown, "OFFHEAP", " top_pad", "1"},
				{tune.ErrUnknown, "OFFHEAP", "GLIBC_TUNABLES", ""},
				{tune.ErrUnknown, "OFFHEAP", "", "3"},
			}},

		// Precedence: MALLOC_* < GLIBC_TUNABLES < OFFHEAP.
		{name: "OFFHEAP over GLIBC_TUNABLES over MALLOC_*", env: mapEnv{
			"MALLOC_MMAP_THRESHOLD_": "1000", "MALLOC_TOP_PAD_": "1001", "MALLOC_ARENA_MAX": "1002", "MALLOC_CHECK_": "1",
			"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=2000:glibc.malloc.top_pad=2001:glibc.malloc.mxfast=32",
			"OFFHEAP":        "mmap_threshold=3000,mxfast=48,debug=9",
		}, after: map[tune.Param]int64{
			tune.MmapThreshold: 3000, // all three: OFFHEAP
			tune.TopPad:        2001, // alias and tunable: tunable
			tune.ArenaMax:      1002, // alias only
			tune.CheckAction:   1,    // alias only
			tune.MXFast:        48,   // tunable and OFFHEAP: OFFHEAP
			tune.Debug:         9,    // OFFHEAP only
		}},
		{name: "GLIBC_TUNABLES over MALLOC_*", env: mapEnv{
			"MALLOC_MMAP_THRESHOLD_": "1000", "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=2000",
		}, after: map[tune.Param]int64{tune.MmapThreshold: 2000}},
		{name: "OFFHEAP over MALLOC_*", env: mapEnv{
			"MALLOC_ARENA_MAX": "3", "OFFHEAP": "arena_max=0",
		}, after: map[tune.Param]int64{tune.ArenaMax: 0}},

		// Garbage: one problem each, the parameter untouched.
		{name: "garbage alias values", env: mapEnv{
			"MALLOC_TOP_PAD_": "12q", "MALLOC_MMAP_THRESHOLD_": "-1", "MALLOC_TRIM_THRESHOLD_": "",
			"MALLOC_MMAP_MAX_": "99999999999999999999", "MALLOC_CHECK_": "4", "MALLOC_PERTURB_": "256",
			"MALLOC_ARENA_TEST": "0", "MALLOC_ARENA_MAX": "2k",
		}, problems: []problem{
			// In table order.
			{tune.ErrSyntax, "MALLOC_TRIM_THRESHOLD_", "", ""},
			{tune.ErrSyntax, "MALLOC_TOP_PAD_", "", "12q"},
			{tune.ErrSyntax, "MALLOC_MMAP_THRESHOLD_", "", "-1"},
			{tune.ErrRange, "MALLOC_MMAP_MAX_", "", "99999999999999999999"},
			{tune.ErrRange, "MALLOC_CHECK_", "", "4"},
			{tune.ErrRange, "MALLOC_PERTURB_", "", "256"},
			{tune.ErrRange, "MALLOC_ARENA_TEST", "", "0"},
			{tune.ErrSyntax, "MALLOC_ARENA_MAX", "", "2k"},
		}},
		{name: "garbage OFFHEAP values", env: mapEnv{
			"OFFHEAP": "mxfast=161,limit=1.5g,debug=-1,check= 1,perturb=0x10,top_pad=9223372036854775808,tcache_max=65537,debug",
		}, problems: []problem{
			{tune.ErrRange, "OFFHEAP", "mxfast", "161"},
			{tune.ErrSyntax, "OFFHEAP", "limit", "1.5g"},
			{tune.ErrRange, "OFFHEAP", "debug", "-1"},
			{tune.ErrSyntax, "OFFHEAP", "check", " 1"},
			{tune.ErrSyntax, "OFFHEAP", "perturb", "0x10"},
			{tune.ErrRange, "OFFHEAP", "top_pad", "9223372036854775808"},
			{tune.ErrRange, "OFFHEAP", "tcache_max", "65537"},
			{tune.ErrSyntax, "OFFHEAP", "debug", ""},
		}},
		{name: "garbage tunable values", env: mapEnv{
			"GLIBC_TUNABLES": "glibc.malloc.arena_test=0:glibc.malloc.tcache_count=65536:glibc.malloc.mmap_threshold=0x20000",
		}, problems: []problem{
			{tune.ErrRange, "GLIBC_TUNABLES", "glibc.malloc.arena_test", "0"},
			{tune.ErrRange, "GLIBC_TUNABLES", "glibc.malloc.tcache_count", "65536"},
			{tune.ErrSyntax, "GLIBC_TUNABLES", "glibc.malloc.mmap_threshold", "0x20000"},
		}},
		{name: "garbage in a higher source keeps the lower source's value", env: mapEnv{
			"MALLOC_TOP_PAD_": "4096",
			"GLIBC_TUNABLES":  "glibc.malloc.top_pad=lots:glibc.malloc.arena_max=3",
			"OFFHEAP":         "top_pad=-4096,arena_max=none",
		}, after: map[tune.Param]int64{tune.TopPad: 4096, tune.ArenaMax: 3},
			problems: []problem{
				{tune.ErrSyntax, "GLIBC_TUNABLES", "glibc.malloc.top_pad", "lots"},
				{tune.ErrSyntax, "OFFHEAP", "top_pad", "-4096"},
				{tune.ErrSyntax, "OFFHEAP", "arena_max", "none"},
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, errs := tune.FromEnv(tt.env.lookup)
			for _, p := range allParams {
				want, set := tt.after[p]
				if !set {
					sp, _ := tune.SpecOf(p)
					want = sp.Default
				}
				check(t, "Get("+p.String()+")", want, s.Get(p))
				check(t, "IsSet("+p.String()+")", set, s.IsSet(p))
			}
			check(t, "Trace", tt.trace, s.Trace)
			if len(errs) != len(tt.problems) {
				t.Fatalf("%d problems, want %d: %v", len(errs), len(tt.problems), errors.Join(errs...))
			}
			for i, err := range errs {
				want := tt.problems[i]
				var e *tune.Error
				if !errors.As(err, &e) {
					t.Errorf("problem %d is %T, not *tune.Error: %v", i, err, err)
					continue
				}
				if !errors.Is(err, want.kind) || e.Var != want.v || e.Key != want.key || e.Value != want.value {
					t.Errorf("problem %d: %v (Var %q Key %q Value %q); want %v from %s %q value %q",
						i, err, e.Var, e.Key, e.Value, want.kind, want.v, want.key, want.value)
				}
				if want.kind != tune.ErrUnknown {
					// The error carries the parameter's range.
					sp, ok := tune.SpecOf(e.Param)
					if !ok || e.Name != sp.Name || e.Min != sp.Min || e.Max != sp.Max || e.Unit != sp.Unit {
						t.Errorf("problem %d: %+v does not describe its parameter", i, *e)
					}
				}
			}
		})
	}
}

func TestFromEnvNilLookup(t *testing.T) {
	s, errs := tune.FromEnv(nil)
	check(t, "FromEnv(nil) == Defaults()", true, s == tune.Defaults())
	check(t, "problems", 0, len(errs))
}

// TestFromEnvReadsOnlyItsVariables checks the names FromEnv asks for: the
// table's aliases, GLIBC_TUNABLES and OFFHEAP, each once, in that order.
func TestFromEnvReadsOnlyItsVariables(t *testing.T) {
	var asked []string
	tune.FromEnv(func(name string) (string, bool) {
		asked = append(asked, name)
		return "", false
	})
	want := []string{
		"MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_",
		"MALLOC_CHECK_", "MALLOC_PERTURB_", "MALLOC_ARENA_TEST", "MALLOC_ARENA_MAX",
		"GLIBC_TUNABLES", "OFFHEAP",
	}
	if !slices.Equal(asked, want) {
		t.Errorf("FromEnv asked for %q; want %q", asked, want)
	}
}

func TestFromEnvErrorMessages(t *testing.T) {
	for _, tt := range []struct {
		env  mapEnv
		want string
	}{
		{mapEnv{"MALLOC_MMAP_THRESHOLD_": "12q"},
			`tune: MALLOC_MMAP_THRESHOLD_="12q": not a byte size (want e.g. 4096, 128k, 1MiB); accepted 0 to 9223372036854775807 bytes`},
		{mapEnv{"MALLOC_ARENA_TEST": "0"},
			`tune: MALLOC_ARENA_TEST="0": out of range; accepted 1 to 2147483647`},
		{mapEnv{"MALLOC_PERTURB_": "x"},
			`tune: MALLOC_PERTURB_="x": not a decimal integer; accepted 0 to 255`},
		{mapEnv{"OFFHEAP": "mmap_threshold=12q"},
			`tune: OFFHEAP mmap_threshold="12q": not a byte size (want e.g. 4096, 128k, 1MiB); accepted 0 to 9223372036854775807 bytes`},
		{mapEnv{"OFFHEAP": "gomemlimit=on"},
			`tune: OFFHEAP gomemlimit="on": unknown value; accepted "off" (0) or "auto" (1)`},
		{mapEnv{"OFFHEAP": "mxfast=1k"},
			`tune: OFFHEAP mxfast="1k": out of range; accepted 0 to 160 bytes`},
		{mapEnv{"OFFHEAP": "=3"},
			`tune: OFFHEAP: unknown key ""; known keys: mxfast, trim_threshold, top_pad, mmap_threshold, ` +
				`mmap_max, check, perturb, arena_test, arena_max, tcache_count, tcache_max, limit, profile_rate, debug, gomemlimit, harden, decay, hugetlb, heap_cache, populate, tcache_grow, trace`},
		{mapEnv{"GLIBC_TUNABLES": "glibc.malloc.check=9"},
			`tune: GLIBC_TUNABLES glibc.malloc.check="9": out of range; accepted 0 to 3`},
		{mapEnv{"OFFHEAP": "mmap_treshold=1m"},
			`tune: OFFHEAP: unknown key "mmap_treshold"; known keys: mxfast, trim_threshold, top_pad, mmap_threshold, ` +
				`mmap_max, check, perturb, arena_test, arena_max, tcache_count, tcache_max, limit, profile_rate, debug, gomemlimit, harden, decay, hugetlb, heap_cache, populate, tcache_grow, trace`},
		{mapEnv{"GLIBC_TUNABLES": "glibc.malloc.limit=1"},
			`tune: GLIBC_TUNABLES: unknown tunable "glibc.malloc.limit"; known: glibc.malloc.mxfast, glibc.malloc.trim_threshold, ` +
				`glibc.malloc.top_pad, glibc.malloc.mmap_threshold, glibc.malloc.mmap_max, glibc.malloc.check, glibc.malloc.perturb, ` +
				`glibc.malloc.arena_test, glibc.malloc.arena_max, glibc.malloc.tcache_count, glibc.malloc.tcache_max, glibc.malloc.hugetlb`},
	} {
		_, errs := tune.FromEnv(tt.env.lookup)
		if len(errs) != 1 || errs[0].Error() != tt.want {
			t.Errorf("FromEnv(%q):\n got %v\nwant %s", tt.env, errs, tt.want)
		}
	}
}

// offheapString writes s as an OFFHEAP value that FromEnv reads back as s:
// every set parameter in its unit's written form, and the trace.
func offheapString(s tune.Settings) string {
	var entries []string
	for _, sp := range tune.Specs() {
		if !s.IsSet(sp.Param) {
			continue
		}
		v := s.Get(sp.Param)
		var text string
		switch sp.Unit {
		case tune.Bytes:
			text = tune.FormatSize(v)
		case tune.Enum:
			text = sp.Values[v-sp.Min]
		case tune.Duration:
			text = tune.FormatDuration(v)
		default:
			text = strconv.FormatInt(v, 10)
		}
		entries = append(entries, sp.Name+"="+text)
	}
	if s.Trace != "" {
		entries = append(entries, "trace="+s.Trace)
	}
	return strings.Join(entries, ",")
}

// aliases lists the table's MALLOC_* aliases, for FuzzFromEnv to choose from.
func aliases() []string {
	var names []string
	for _, sp := range tune.Specs() {
		names = append(names, sp.Env...)
	}
	return names
}

// FuzzFromEnv feeds FromEnv one MALLOC_* alias (chosen by aliasIndex),
// GLIBC_TUNABLES and OFFHEAP, and checks that it never panics, that every
// value it keeps is in range, that every problem is an *Error naming its
// source, that the precedence holds parameter by parameter against each
// source read alone, and that the result written back as OFFHEAP reads back
// the same.
func FuzzFromEnv(f *testing.F) {
	f.Add(uint8(0), "1m", "glibc.malloc.trim_threshold=2m", "trim_threshold=3m")
	f.Add(uint8(1), "12q", "glibc.malloc.top_pad=lots:glibc.cpu.hwcaps=-AVX2", "top_pad=-1,debug=5")
	f.Add(uint8(2), "128k", "glibc.malloc.mmap_threshold=1k:glibc.malloc.mmap_threshold", "mmap_threshold=128KiB")
	f.Add(uint8(4), "3", "glibc.malloc.check=1:glibc.malloc.hugetlb=1", "check=0,,,trace=/tmp/t")
	f.Add(uint8(5), "256", "glibc.malloc.perturb=170", "perturb=0x10")
	f.Add(uint8(6), "0", "glibc.malloc.arena_test=0", "arena_test=1,gomemlimit=auto")
	f.Add(uint8(7), "99999999999999999999", "glibc.malloc.unknown=1", "unknown=1,gomemlimit=Off")
	f.Add(uint8(3), "", "::", "=,trace,limit=1g,profile_rate=512k,tcache_max=64KiB,tcache_count=65535,mxfast=160")
	f.Fuzz(func(t *testing.T, aliasIndex uint8, alias, tunables, offheap string) {
		names := aliases()
		aliasName := names[int(aliasIndex)%len(names)]
		full := mapEnv{aliasName: alias, "GLIBC_TUNABLES": tunables, "OFFHEAP": offheap}
		s, errs := tune.FromEnv(full.lookup)

		entries := 1 + strings.Count(tunables, ":") + 1 + strings.Count(offheap, ",") + 1
		if len(errs) > entries {
			t.Fatalf("%d problems from %d entries", len(errs), entries)
		}
		for _, err := range errs {
			var e *tune.Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "tune: ") {
				t.Fatalf("problem %#v is not a *tune.Error", err)
			}
			if e.Var != aliasName && e.Var != "GLIBC_TUNABLES" && e.Var != "OFFHEAP" {
				t.Fatalf("problem %v names variable %q", err, e.Var)
			}
			if !errors.Is(err, tune.ErrUnknown) && !errors.Is(err, tune.ErrSyntax) && !errors.Is(err, tune.ErrRange) {
				t.Fatalf("problem %v of no known kind", err)
			}
		}
		for _, sp := range tune.Specs() {
			v := s.Get(sp.Param)
			if v < sp.Min || v > sp.Max {
				t.Fatalf("%s = %d outside %d..%d", sp.Name, v, sp.Min, sp.Max)
			}
			if !s.IsSet(sp.Param) && v != sp.Default {
				t.Fatalf("%s = %d not set and not the default %d", sp.Name, v, sp.Default)
			}
		}

		// Precedence, against each source read alone.
		low, _ := tune.FromEnv(mapEnv{aliasName: alias}.lookup)
		mid, _ := tune.FromEnv(mapEnv{"GLIBC_TUNABLES": tunables}.lookup)
		high, _ := tune.FromEnv(mapEnv{"OFFHEAP": offheap}.lookup)
		for _, p := range allParams {
			var want tune.Settings
			switch {
			case high.IsSet(p):
				want = high
			case mid.IsSet(p):
				want = mid
			default:
				want = low
			}
			if s.IsSet(p) != want.IsSet(p) || s.Get(p) != want.Get(p) {
				t.Fatalf("%v: got %d (set %v); the winning source alone gives %d (set %v)",
					p, s.Get(p), s.IsSet(p), want.Get(p), want.IsSet(p))
			}
		}
		if s.Trace != high.Trace {
			t.Fatalf("Trace %q; OFFHEAP alone gives %q", s.Trace, high.Trace)
		}

		// Written back as OFFHEAP, the settings read back the same.
		if strings.Contains(s.Trace, ",") {
			s.Trace = "" // a trace path with a comma cannot be written in OFFHEAP
		}
		encoded := offheapString(s)
		back, errs := tune.FromEnv(mapEnv{"OFFHEAP": encoded}.lookup)
		if len(errs) != 0 || back != s {
			t.Fatalf("OFFHEAP=%q read back differently (%v)", encoded, errors.Join(errs...))
		}
	})
}
