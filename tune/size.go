package tune

import (
	"math"
	"strconv"
)

// ParseSize reads a byte size: decimal digits and an optional suffix b, k, kb,
// kib, m, mb, mib, g, gb, gib, t, tb or tib, in any ASCII case, where every
// "k" is 1024 and so on (see the package documentation for the grammar). It
// accepts "4096", "128k", "128KiB", "1m", "1MiB" and "1g"; it rejects signs,
// fractions, exponents, spaces and any other suffix with an *Error wrapping
// ErrSyntax, and sizes above math.MaxInt64 with one wrapping ErrRange.
func ParseSize(s string) (int64, error) {
	digits := 0
	for digits < len(s) && '0' <= s[digits] && s[digits] <= '9' {
		digits++
	}
	if digits == 0 {
		return 0, sizeError(s, ErrSyntax)
	}
	shift, ok := suffixShift(s[digits:])
	if !ok {
		return 0, sizeError(s, ErrSyntax)
	}
	var n int64
	for _, c := range []byte(s[:digits]) {
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, sizeError(s, ErrRange)
		}
		n = n*10 + d
	}
	if n > math.MaxInt64>>shift {
		return 0, sizeError(s, ErrRange)
	}
	return n << shift, nil
}

// suffixShift returns the power of two that the size suffix stands for, and
// false for a suffix that is not one. It folds ASCII case only: the Kelvin
// sign, which Unicode folds to "k", is not a suffix.
func suffixShift(suffix string) (shift uint, ok bool) {
	if len(suffix) > 3 {
		return 0, false
	}
	var lower [3]byte
	for i := 0; i < len(suffix); i++ {
		c := suffix[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(suffix)]) {
	case "", "b":
		return 0, true
	case "k", "kb", "kib":
		return 10, true
	case "m", "mb", "mib":
		return 20, true
	case "g", "gb", "gib":
		return 30, true
	case "t", "tb", "tib":
		return 40, true
	}
	return 0, false
}

// sizeUnits are the suffixes FormatSize writes, largest first.
var sizeUnits = [...]struct {
	shift  uint
	suffix string
}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}}

// FormatSize writes n bytes in the form ParseSize reads back as n, using the
// largest of TiB, GiB, MiB and KiB that divides n exactly, or plain decimal if
// none does: 131072 is "128KiB", 1536 is "1536" and 0 is "0". A negative n,
// which is no size, is written in decimal with its sign.
func FormatSize(n int64) string {
	if n > 0 {
		for _, u := range sizeUnits {
			if n&(1<<u.shift-1) == 0 {
				return strconv.FormatInt(n>>u.shift, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(n, 10)
}
