package tune_test

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/offheap/offheap/tune"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  error // nil, tune.ErrSyntax or tune.ErrRange
	}{
		// Plain decimal.
		{"0", 0, nil},
		{"1", 1, nil},
		{"4096", 4096, nil},
		{"000128", 128, nil},
		{"9223372036854775807", math.MaxInt64, nil},

		// Every suffix, in several cases.
		{"0b", 0, nil},
		{"7B", 7, nil},
		{"128k", 128 << 10, nil},
		{"128K", 128 << 10, nil},
		{"128kb", 128 << 10, nil},
		{"128KB", 128 << 10, nil},
		{"128kib", 128 << 10, nil},
		{"128KiB", 128 << 10, nil},
		{"128KIB", 128 << 10, nil},
		{"1m", 1 << 20, nil},
		{"1MB", 1 << 20, nil},
		{"1MiB", 1 << 20, nil},
		{"3mIb", 3 << 20, nil},
		{"1g", 1 << 30, nil},
		{"2GB", 2 << 30, nil},
		{"2GiB", 2 << 30, nil},
		{"1t", 1 << 40, nil},
		{"5TB", 5 << 40, nil},
		{"5tib", 5 << 40, nil},
		{"0t", 0, nil},

		// The largest values of each suffix, and one past.
		{"8388607t", 8388607 << 40, nil},
		{"8388608t", 0, tune.ErrRange},
		{"8589934591g", 8589934591 << 30, nil},
		{"8589934592G", 0, tune.ErrRange},
		{"9007199254740991k", 9007199254740991 << 10, nil},
		{"9007199254740992k", 0, tune.ErrRange},
		{"9223372036854775808", 0, tune.ErrRange},
		{"99999999999999999999", 0, tune.ErrRange},
		{"99999999999999999999b", 0, tune.ErrRange},

		// Not sizes.
		{"", 0, tune.ErrSyntax},
		{"k", 0, tune.ErrSyntax},
		{"KiB", 0, tune.ErrSyntax},
		{"8e", 0, tune.ErrSyntax},
		{"8e3", 0, tune.ErrSyntax},
		{"12q", 0, tune.ErrSyntax},
		{"-1", 0, tune.ErrSyntax},
		{"+1", 0, tune.ErrSyntax},
		{"1.5m", 0, tune.ErrSyntax},
		{"0x10", 0, tune.ErrSyntax},
		{"1_000", 0, tune.ErrSyntax},
		{" 1", 0, tune.ErrSyntax},
		{"1 ", 0, tune.ErrSyntax},
		{"1 k", 0, tune.ErrSyntax},
		{"1k ", 0, tune.ErrSyntax},
		{"1kk", 0, tune.ErrSyntax},
		{"1bk", 0, tune.ErrSyntax},
		{"1ki", 0, tune.ErrSyntax},
		{"1ib", 0, tune.ErrSyntax},
		{"1kibb", 0, tune.ErrSyntax},
		{"1p", 0, tune.ErrSyntax},
		{"1\u212a", 0, tune.ErrSyntax}, // Kelvin sign: folds to "k" in Unicode, not in ASCII
		{"1k\x00", 0, tune.ErrSyntax},
		{"１", 0, tune.ErrSyntax}, // fullwidth digit one
		// A bad suffix is a syntax error even when the digits overflow.
		{"99999999999999999999q", 0, tune.ErrSyntax},
	} {
		got, err := tune.ParseSize(tt.in)
		if tt.err == nil {
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
			}
			continue
		}
		var e *tune.Error
		if !errors.As(err, &e) || !errors.Is(err, tt.err) || got != 0 {
			t.Errorf("ParseSize(%q) = %d, %v; want 0 and an *Error wrapping %v", tt.in, got, err, tt.err)
			continue
		}
		if e.Value != tt.in || e.Unit != tune.Bytes || e.Min != 0 || e.Max != math.MaxInt64 {
			t.Errorf("ParseSize(%q): error fields %+v", tt.in, *e)
		}
	}
}

func TestParseSizeErrorMessage(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"12q", `tune: size "12q": not a byte size (want e.g. 4096, 128k, 1MiB); accepted 0 to 9223372036854775807 bytes`},
		{"9223372036854775808", `tune: size "9223372036854775808": out of range; accepted 0 to 9223372036854775807 bytes`},
	} {
		_, err := tune.ParseSize(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseSize(%q) error:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tt := range []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{160, "160"},
		{1000, "1000"},
		{1023, "1023"},
		{1024, "1KiB"},
		{1536, "1536"},
		{3 << 9, "1536"},
		{128 << 10, "128KiB"},
		{1<<20 + 1<<10, "1025KiB"},
		{1 << 20, "1MiB"},
		{1 << 30, "1GiB"},
		{1 << 40, "1TiB"},
		{1024 << 40, "1024TiB"},
		{math.MaxInt64, "9223372036854775807"},
		{math.MaxInt64 &^ (1<<40 - 1), "8388607TiB"},
		{-1, "-1"},
		{-1024, "-1024"},
		{math.MinInt64, "-9223372036854775808"},
	} {
		got := tune.FormatSize(tt.in)
		if got != tt.want {
			t.Errorf("FormatSize(%d) = %q; want %q", tt.in, got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		if back, err := tune.ParseSize(got); err != nil || back != tt.in {
			t.Errorf("ParseSize(FormatSize(%d) = %q) = %d, %v", tt.in, got, back, err)
		}
	}
}

// sizeShape is the grammar of a size with any ASCII-letter suffix: the oracle
// in FuzzParseSize decides the suffix itself.
var sizeShape = regexp.MustCompile(`^([0-9]+)([A-Za-z]*)$`)

// suffixMultiplier is the oracle's suffix table, written out independently of
// the package's.
var suffixMultiplier = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// FuzzParseSize checks ParseSize against an arbitrary-precision oracle: it
// accepts exactly the inputs of the grammar whose value fits in int64, with
// that value, and FormatSize writes the value back in a form that parses to
// it and formats the same again.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{
		"0", "4096", "128k", "128KiB", "1MiB", "1g", "5TB", "9223372036854775807",
		"9223372036854775808", "8e", "", " 1", "-1", "1.5m", "1\u212a", "8388608t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := tune.ParseSize(s)

		// The oracle.
		valid, fits := false, false
		want := new(big.Int)
		if m := sizeShape.FindStringSubmatch(s); m != nil {
			if mult, ok := suffixMultiplier[strings.ToLower(m[2])]; ok {
				valid = true
				want.SetString(m[1], 10)
				want.Mul(want, big.NewInt(mult))
				fits = want.IsInt64()
			}
		}

		switch {
		case !valid:
			if !errors.Is(err, tune.ErrSyntax) {
				t.Fatalf("ParseSize(%q) = %d, %v; want ErrSyntax", s, got, err)
			}
		case !fits:
			if !errors.Is(err, tune.ErrRange) {
				t.Fatalf("ParseSize(%q) = %d, %v; want ErrRange (value %v)", s, got, err, want)
			}
		case err != nil || got != want.Int64():
			t.Fatalf("ParseSize(%q) = %d, %v; want %v", s, got, err, want)
		}
		if err != nil {
			var e *tune.Error
			if !errors.As(err, &e) || e.Value != s || !strings.HasPrefix(err.Error(), "tune: size ") {
				t.Fatalf("ParseSize(%q) error %#v", s, err)
			}
			return
		}

		formatted := tune.FormatSize(got)
		back, err := tune.ParseSize(formatted)
		if err != nil || back != got {
			t.Fatalf("ParseSize(FormatSize(%d) = %q) = %d, %v", got, formatted, back, err)
		}
		if again := tune.FormatSize(back); again != formatted {
			t.Fatalf("FormatSize not stable: %q then %q", formatted, again)
		}
	})
}

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  error
	}{
		{"0", 0, nil},
		{"500", 500, nil},
		{"500ms", 500, nil},
		{"500MS", 500, nil},
		{"10s", 10000, nil},
		{"10S", 10000, nil},
		{"2m", 120000, nil},
		{"1h", 3600000, nil},
		{"9223372036854775807", math.MaxInt64, nil},
		{"9223372036854775807ms", math.MaxInt64, nil},

		{"", 0, tune.ErrSyntax},
		{"s", 0, tune.ErrSyntax},
		{"-1s", 0, tune.ErrSyntax},
		{"+1s", 0, tune.ErrSyntax},
		{"1.5s", 0, tune.ErrSyntax},
		{"1m30s", 0, tune.ErrSyntax},
		{"10 s", 0, tune.ErrSyntax},
		{"10us", 0, tune.ErrSyntax},
		{"1d", 0, tune.ErrSyntax},
		{"1sec", 0, tune.ErrSyntax},

		{"9223372036854775808", 0, tune.ErrRange},
		{"9223372036854776s", 0, tune.ErrRange},
		{"2562047788016h", 0, tune.ErrRange},
	} {
		got, err := tune.ParseDuration(tt.in)
		if tt.err == nil {
			if err != nil || got != tt.want {
				t.Errorf("ParseDuration(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		var e *tune.Error
		if !errors.As(err, &e) || !errors.Is(err, tt.err) {
			t.Errorf("ParseDuration(%q) = %d, %v; want an *Error wrapping %v", tt.in, got, err, tt.err)
			continue
		}
		if e.Value != tt.in || e.Unit != tune.Duration {
			t.Errorf("ParseDuration(%q): error %+v", tt.in, e)
		}
	}
	_, err := tune.ParseDuration("1.5s")
	want := `tune: duration "1.5s": not a duration (want e.g. 500ms, 10s, 2m); accepted 0 to 9223372036854775807 milliseconds`
	if err == nil || err.Error() != want {
		t.Errorf("ParseDuration(1.5s) error:\n got %v\nwant %s", err, want)
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tt := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {1, "1ms"}, {999, "999ms"}, {1000, "1s"}, {1500, "1500ms"}, {10000, "10s"},
		{60000, "1m"}, {90000, "90s"}, {3600000, "1h"}, {5400000, "90m"}, {math.MaxInt32, "2147483647ms"},
	} {
		got := tune.FormatDuration(tt.in)
		if got != tt.want {
			t.Errorf("FormatDuration(%d) = %q; want %q", tt.in, got, tt.want)
		}
		if back, err := tune.ParseDuration(got); err != nil || back != tt.in {
			t.Errorf("ParseDuration(FormatDuration(%d)) = %d, %v", tt.in, back, err)
		}
	}
}
