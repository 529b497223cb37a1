package tune

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Unit says what a parameter's value measures and so how it is written.
type Unit int

// The units.
const (
	// Bytes is a byte size, written in the grammar of ParseSize ("128k").
	Bytes Unit = iota + 1
	// Count is a number of things, written in decimal.
	Count
	// Byte is a single byte value, 0 to 255, written in decimal.
	Byte
	// Level is one of a few numbered behaviours, written in decimal.
	Level
	// Enum is one of the words in Spec.Values, standing for Min, Min+1, ...;
	// the number itself is accepted too.
	Enum
	// Duration is a time in milliseconds, written in the grammar of
	// ParseDuration ("500ms", "10s"; digits alone are milliseconds).
	Duration
)

// String returns the unit's name as error messages use it: "bytes", "count",
// "byte", "level", "enum" or "duration".
func (u Unit) String() string {
	switch u {
	case Bytes:
		return "bytes"
	case Count:
		return "count"
	case Byte:
		return "byte"
	case Level:
		return "level"
	case Enum:
		return "enum"
	case Duration:
		return "duration"
	}
	return "Unit(" + strconv.Itoa(int(u)) + ")"
}

// Spec describes one parameter: one row of the table.
type Spec struct {
	Param Param
	// Name is the parameter's key in OFFHEAP and, if Tunable, the <name> of
	// glibc.malloc.<name> in GLIBC_TUNABLES.
	Name string
	// Mallopt is glibc's constant for the parameter ("M_MMAP_THRESHOLD"), or
	// "" for offheap's own parameters.
	Mallopt string
	// Env lists glibc's environment aliases ("MALLOC_MMAP_THRESHOLD_").
	Env []string
	// Tunable says whether GLIBC_TUNABLES may set the parameter as
	// glibc.malloc.<Name>.
	Tunable bool
	// Default is the value in effect when nothing sets the parameter.
	Default int64
	// Min and Max bound the accepted values, both included.
	Min, Max int64
	// Unit says what the value measures and how it is written.
	Unit Unit
	// Values, for Unit Enum, names the values Min, Min+1, ..., Max in order.
	Values []string
	// Doc is a one-line description.
	Doc string
}

// table is the single source of truth for every parameter. It is an array, not
// a slice, so that len(table) is a constant that sizes Settings. Its order is
// the order of Specs and of FromEnv's reading of the MALLOC_* aliases.
var table = [...]Spec{
	{
		Param: MXFast, Name: "mxfast", Mallopt: "M_MXFAST", Tunable: true,
		Default: 64 * 8 / 4, Min: 0, Max: 80 * 8 / 4, Unit: Bytes,
		Doc: "largest request served from the fastbins; 0 disables them",
	},
	{
		Param: TrimThreshold, Name: "trim_threshold", Mallopt: "M_TRIM_THRESHOLD",
		Env: []string{"MALLOC_TRIM_THRESHOLD_"}, Tunable: true,
		Default: 128 << 10, Min: 0, Max: math.MaxInt64, Unit: Bytes,
		Doc: "free bytes at the top of the heap that trigger returning memory to the system",
	},
	{
		Param: TopPad, Name: "top_pad", Mallopt: "M_TOP_PAD",
		Env: []string{"MALLOC_TOP_PAD_"}, Tunable: true,
		Default: 128 << 10, Min: 0, Max: math.MaxInt64, Unit: Bytes,
		Doc: "extra bytes requested when the heap grows and kept when it is trimmed",
	},
	{
		Param: MmapThreshold, Name: "mmap_threshold", Mallopt: "M_MMAP_THRESHOLD",
		Env: []string{"MALLOC_MMAP_THRESHOLD_"}, Tunable: true,
		Default: 128 << 10, Min: 0, Max: math.MaxInt64, Unit: Bytes,
		Doc: "requests this large that the top cannot serve get their own mapping",
	},
	{
		Param: MmapMax, Name: "mmap_max", Mallopt: "M_MMAP_MAX",
		Env: []string{"MALLOC_MMAP_MAX_"}, Tunable: true,
		Default: 65536, Min: 0, Max: math.MaxInt32, Unit: Count,
		Doc: "most chunks mapped one by one at a time; 0 disables such mappings",
	},
	{
		Param: CheckAction, Name: "check", Mallopt: "M_CHECK_ACTION",
		Env: []string{"MALLOC_CHECK_"}, Tunable: true,
		Default: 3, Min: 0, Max: 3, Unit: Level,
		Doc: "on detected corruption: 0 ignore where safe, 1 report and continue, 2 or 3 panic",
	},
	{
		Param: Perturb, Name: "perturb", Mallopt: "M_PERTURB",
		Env: []string{"MALLOC_PERTURB_"}, Tunable: true,
		Default: 0, Min: 0, Max: 255, Unit: Byte,
		Doc: "fill freed memory with this byte and allocated memory with its complement; 0 is off",
	},
	{
		Param: ArenaTest, Name: "arena_test", Mallopt: "M_ARENA_TEST",
		Env: []string{"MALLOC_ARENA_TEST"}, Tunable: true,
		Default: 8, Min: 1, Max: math.MaxInt32, Unit: Count,
		Doc: "arenas created before the arena limit is computed",
	},
	{
		Param: ArenaMax, Name: "arena_max", Mallopt: "M_ARENA_MAX",
		Env: []string{"MALLOC_ARENA_MAX"}, Tunable: true,
		Default: 0, Min: 0, Max: math.MaxInt32, Unit: Count,
		Doc: "most arenas; 0 means GOMAXPROCS (one per P; glibc: 8 x cores)",
	},
	{
		Param: TcacheCount, Name: "tcache_count", Tunable: true,
		Default: 64, Min: 0, Max: 65535, Unit: Count,
		Doc: "chunks of each size held by a per-P cache (above 1 KiB, 128 KiB of chunks at most, two at least)",
	},
	{
		Param: TcacheMax, Name: "tcache_max", Tunable: true,
		Default: 65536, Min: 0, Max: 65536, Unit: Bytes,
		Doc: "largest request held by the per-P cache (exact classes to 1 KiB, four per doubling above)",
	},
	{
		Param: Limit, Name: "limit",
		Default: 0, Min: 0, Max: math.MaxInt64, Unit: Bytes,
		Doc: "most bytes offheap may hold from the system; 0 is no limit",
	},
	{
		Param: ProfileRate, Name: "profile_rate",
		Default: 512 << 10, Min: 0, Max: math.MaxInt64, Unit: Bytes,
		Doc: "mean bytes allocated between heap-profile samples (Go's runtime.MemProfileRate default); 0 is off",
	},
	{
		Param: Debug, Name: "debug",
		Default: 0, Min: 0, Max: math.MaxInt32, Unit: Count,
		Doc: "0 is off; N > 0 runs a full Check every N operations and adds guard pages and canaries",
	},
	{
		Param: GoMemLimit, Name: "gomemlimit",
		Default: 0, Min: 0, Max: 1, Unit: Enum, Values: []string{"off", "auto"},
		Doc: "lower the Go runtime's memory limit by the memory offheap holds: off or auto",
	},
	{
		Param: Harden, Name: "harden",
		Default: 0, Min: 0, Max: 1, Unit: Level,
		Doc: "0 checks each free from the block's own cache line; 1 also checks the next chunk's header and settles concurrent double frees exactly",
	},
	{
		Param: Decay, Name: "decay",
		Default: 0, Min: 0, Max: math.MaxInt32, Unit: Duration,
		Doc: "keep memory that trimming would give back, and freed mapped chunks, until unused this long; 0 gives it back at once (glibc)",
	},
	{
		Param: HugeTLB, Name: "hugetlb", Tunable: true,
		Default: 0, Min: 0, Max: 2, Unit: Level,
		Doc: "huge pages: 0 none, 1 transparent (MADV_HUGEPAGE) on heaps and large chunks, 2 large chunks from the hugetlb pool",
	},
	{
		Param: HeapCache, Name: "heap_cache",
		Default: 64 << 20, Min: 0, Max: math.MaxInt64, Unit: Bytes,
		Doc: "bytes of destroyed private heaps kept for the next ones (NewHeap); 0 gives them back at once",
	},
	{
		Param: Populate, Name: "populate",
		Default: 1, Min: 0, Max: 1, Unit: Enum, Values: []string{"off", "on"},
		Doc: "fault in, with one call, the pages a warm arena's growth adds beyond the request (up to top_pad): on, or off (glibc)",
	},
	{
		Param: TcacheGrow, Name: "tcache_grow",
		Default: 2 << 20, Min: 0, Max: math.MaxInt64, Unit: Bytes,
		Doc: "bytes a P's classes of 1 KiB or less may grow beyond tcache_count when their chunks go to the arena and straight back; 0 never (glibc)",
	},
}

// traceKey is the OFFHEAP key of the one string option, Settings.Trace.
const traceKey = "trace"

// glibcOnly lists the glibc.malloc tunables that glibc has and offheap does
// not implement. FromEnv leaves them to glibc without complaint, as it does
// every GLIBC_TUNABLES entry outside glibc.malloc.
var glibcOnly = []string{"tcache_unsorted_limit"}

// Indexes into table, and the key lists that error messages show, all built
// from table.
var (
	paramIndex   = make(map[Param]int, len(table))
	nameIndex    = make(map[string]int, len(table))
	offheapKeys  string // "mxfast, trim_threshold, ..., trace"
	tunableNames string // "glibc.malloc.mxfast, ..."
)

func init() {
	var keys, tunables []string
	for i := range table {
		paramIndex[table[i].Param] = i
		nameIndex[table[i].Name] = i
		keys = append(keys, table[i].Name)
		if table[i].Tunable {
			tunables = append(tunables, tunablePrefix+table[i].Name)
		}
	}
	offheapKeys = strings.Join(append(keys, traceKey), ", ")
	tunableNames = strings.Join(tunables, ", ")
}

// Specs returns the whole table, in a stable order: glibc's parameters by
// decreasing M_* number from M_MXFAST, then offheap's own.
func Specs() []Spec {
	specs := make([]Spec, len(table))
	for i := range table {
		specs[i] = table[i].clone()
	}
	return specs
}

// SpecOf returns the table's row for p, and false if p is not in the table.
func SpecOf(p Param) (Spec, bool) {
	i, ok := paramIndex[p]
	if !ok {
		return Spec{}, false
	}
	return table[i].clone(), true
}

// ByName returns the table's row named name ("mmap_threshold"), and false if
// no row has that name. Names are matched exactly.
func ByName(name string) (Spec, bool) {
	i, ok := nameIndex[name]
	if !ok {
		return Spec{}, false
	}
	return table[i].clone(), true
}

// clone returns a copy of sp that shares no slice with the table, so that a
// caller cannot change the table through a returned Spec.
func (sp *Spec) clone() Spec {
	c := *sp
	c.Env = slices.Clone(sp.Env)
	c.Values = slices.Clone(sp.Values)
	return c
}
