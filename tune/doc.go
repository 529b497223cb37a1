// Package tune holds the parameters of the offheap allocator: their names,
// glibc equivalents, defaults and ranges, their validation, the grammar of
// byte sizes, and the reading of the environment.
//
// # The table
//
// One declarative table, returned by [Specs], is the single source of truth.
// Each row ([Spec]) names a parameter ([Param]), its glibc mallopt constant
// (M_MMAP_THRESHOLD, ...) if glibc has one, its glibc environment aliases
// (MALLOC_MMAP_THRESHOLD_, ...), whether glibc accepts it in
// GLIBC_TUNABLES, its default, its inclusive range and its [Unit], which says
// how a value is written. Names, defaults, ranges and parsing all come from
// this table; nothing else in the package lists parameters. A Param's value is
// glibc's M_* number where glibc has one, so a Mallopt(param, value) wrapper
// converts with Param(param).
//
//	Name            Mallopt           Environment alias       Tunable  Default  Range        Unit
//	mxfast          M_MXFAST          -                       yes      128      0..160       bytes
//	trim_threshold  M_TRIM_THRESHOLD  MALLOC_TRIM_THRESHOLD_  yes      128KiB   0..MaxInt64  bytes
//	top_pad         M_TOP_PAD         MALLOC_TOP_PAD_         yes      128KiB   0..MaxInt64  bytes
//	mmap_threshold  M_MMAP_THRESHOLD  MALLOC_MMAP_THRESHOLD_  yes      128KiB   0..MaxInt64  bytes
//	mmap_max        M_MMAP_MAX        MALLOC_MMAP_MAX_        yes      65536    0..MaxInt32  count
//	check           M_CHECK_ACTION    MALLOC_CHECK_           yes      3        0..3         level
//	perturb         M_PERTURB         MALLOC_PERTURB_         yes      0        0..255       byte
//	arena_test      M_ARENA_TEST      MALLOC_ARENA_TEST       yes      8        1..MaxInt32  count
//	arena_max       M_ARENA_MAX       MALLOC_ARENA_MAX        yes      0        0..MaxInt32  count
//	tcache_count    -                 -                       yes      64       0..65535     count
//	tcache_max      -                 -                       yes      64KiB    0..64KiB     bytes
//	limit           -                 -                       no       0        0..MaxInt64  bytes
//	profile_rate    -                 -                       no       512KiB   0..MaxInt64  bytes
//	debug           -                 -                       no       0        0..MaxInt32  count
//	gomemlimit      -                 -                       no       off      off, auto    enum
//	harden          -                 -                       no       0        0..1         level
//	decay           -                 -                       no       0        0..MaxInt32  duration
//	hugetlb         -                 -                       yes      0        0..2         level
//	heap_cache      -                 -                       no       64MiB    0..MaxInt64  bytes
//	populate        -                 -                       no       on       off, on      enum
//	tcache_grow     -                 -                       no       2MiB     0..MaxInt64  bytes
//
// (TestDocTable keeps this copy in step with the table.) Tunable means
// GLIBC_TUNABLES may set the parameter as glibc.malloc.<name>. glibc calls
// M_CHECK_ACTION "check" in GLIBC_TUNABLES and MALLOC_CHECK_, and so does
// offheap. Besides the parameters there is one string option, trace (a file
// path), kept in [Settings.Trace].
//
// # Precedence
//
// [FromEnv] reads three sources, lowest precedence first; a later source
// overrides an earlier one for the same parameter, and within one variable a
// later entry overrides an earlier one:
//
//  1. the glibc aliases: MALLOC_CHECK_, MALLOC_TOP_PAD_, MALLOC_PERTURB_,
//     MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_MAX_,
//     MALLOC_ARENA_MAX, MALLOC_ARENA_TEST;
//  2. GLIBC_TUNABLES, colon-separated name=value entries, of which
//     offheap reads glibc.malloc.<name> for the names glibc defines
//     (GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1m:glibc.malloc.arena_max=2);
//  3. OFFHEAP, comma-separated key=value entries in the style of GODEBUG, whose
//     keys are the table's names and trace
//     (OFFHEAP=mmap_threshold=1MiB,debug=1000,trace=/tmp/offheap.trace).
//
// A value set at run time with [Settings.Set] (the allocator's Mallopt) wins
// over all three; that ordering is the caller's, which applies Set after
// FromEnv. A parameter given a value by any source counts as set
// ([Settings.IsSet]) even when the value equals the default, as in glibc,
// where setting M_MMAP_THRESHOLD to anything turns the dynamic threshold off.
//
// A bad value is reported and ignored: the parameter keeps the value the
// lower sources gave it (its default if none did). Entries of GLIBC_TUNABLES
// outside glibc.malloc belong to glibc and are skipped silently, as are the
// glibc.malloc tunable glibc has and offheap does not implement
// (tcache_unsorted_limit); any other glibc.malloc.<x> is reported, as
// is an unknown OFFHEAP key. The package reads no environment itself: FromEnv
// takes a lookup function such as os.LookupEnv. It never prints; it returns
// one [*Error] per problem and the caller decides whether to print, to fail or
// to go on.
//
// # Values
//
// A parameter whose Unit is [Bytes] is written as a byte size (see below). One
// of Unit [Count], [Level] or [Byte] is a decimal integer with an optional
// sign ("-1" is out of range, not a syntax error). One of Unit [Enum] is one of
// its Spec.Values words (gomemlimit: "off" or "auto", any ASCII case) or the
// decimal number of that word. One of Unit [Duration] is a duration in
// milliseconds (see below). glibc also reads hexadecimal ("0x20000") in
// GLIBC_TUNABLES; offheap does not.
//
// # Byte sizes
//
// [ParseSize] reads a byte size: one or more decimal digits, then an optional
// unit suffix, with nothing before or after:
//
//	size   = digits [ suffix ]
//	digits = "0" … "9" { "0" … "9" }
//	suffix = "b"                      (× 1)
//	       | "k" | "kb" | "kib"       (× 1<<10)
//	       | "m" | "mb" | "mib"       (× 1<<20)
//	       | "g" | "gb" | "gib"       (× 1<<30)
//	       | "t" | "tb" | "tib"       (× 1<<40)
//
// Suffixes are matched without regard to ASCII case, so "4096", "128k",
// "128KiB", "1m", "1MiB" and "1g" are all sizes. "KB", "MB", ... mean powers
// of 1024, not of 1000, as everywhere in the malloc world. There is no sign,
// no fraction, no exponent, no space and no digit separator; a size above
// 1<<63-1 bytes is out of range. [FormatSize] writes the shortest exact form
// back ("128KiB").
//
// # Durations
//
// [ParseDuration] reads a duration, the value of decay, in milliseconds:
// decimal digits and an optional unit, with nothing before or after:
//
//	duration = digits [ unit ]
//	unit     = "ms"                   (× 1, the same as no unit)
//	         | "s"                    (× 1000)
//	         | "m"                    (× 60 000, minutes)
//	         | "h"                    (× 3 600 000)
//
// Units are matched without regard to ASCII case: OFFHEAP=decay=10s,
// decay=500ms and decay=500 are durations. Digits alone are milliseconds,
// the unit Mallopt takes (Mallopt(tune.Decay, 500)). There is no sign, no
// fraction and no compound form ("1m30s" is 90s). [FormatDuration] writes
// the shortest exact form back ("10s").
package tune
