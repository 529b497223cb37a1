package tune

import (
	"math"
	"strconv"
)

// ParseDuration reads a duration and returns it in milliseconds: decimal
// digits and an optional unit, ms, s, m (minutes) or h, in any ASCII case;
// digits alone are milliseconds, the unit Mallopt takes. It accepts "0",
// "500", "500ms", "10s", "2m" and "1h"; it rejects signs, fractions,
// spaces, compound forms ("1m30s") and any other unit with an *Error
// wrapping ErrSyntax, and durations above math.MaxInt64 milliseconds with
// one wrapping ErrRange.
func ParseDuration(s string) (int64, error) {
	digits := 0
	for digits < len(s) && '0' <= s[digits] && s[digits] <= '9' {
		digits++
	}
	if digits == 0 {
		return 0, durationError(s, ErrSyntax)
	}
	scale, ok := durationScale(s[digits:])
	if !ok {
		return 0, durationError(s, ErrSyntax)
	}
	var n int64
	for _, c := range []byte(s[:digits]) {
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, durationError(s, ErrRange)
		}
		n = n*10 + d
	}
	if n > math.MaxInt64/scale {
		return 0, durationError(s, ErrRange)
	}
	return n * scale, nil
}

// durationScale returns the milliseconds that a duration unit stands for,
// and false for a unit that is not one.
func durationScale(unit string) (int64, bool) {
	if len(unit) > 2 {
		return 0, false
	}
	var lower [2]byte
	for i := 0; i < len(unit); i++ {
		c := unit[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(unit)]) {
	case "", "ms":
		return 1, true
	case "s":
		return 1000, true
	case "m":
		return 60 * 1000, true
	case "h":
		return 60 * 60 * 1000, true
	}
	return 0, false
}

// FormatDuration writes ms milliseconds in the shortest exact form that
// ParseDuration reads back: "0", "500ms", "10s", "2m", "1h".
func FormatDuration(ms int64) string {
	switch {
	case ms == 0:
		return "0"
	case ms%(60*60*1000) == 0:
		return strconv.FormatInt(ms/(60*60*1000), 10) + "h"
	case ms%(60*1000) == 0:
		return strconv.FormatInt(ms/(60*1000), 10) + "m"
	case ms%1000 == 0:
		return strconv.FormatInt(ms/1000, 10) + "s"
	}
	return strconv.FormatInt(ms, 10) + "ms"
}

// durationError is ParseDuration's error for s.
func durationError(s string, kind error) *Error {
	return &Error{Value: s, Min: 0, Max: math.MaxInt64, Unit: Duration, Err: kind}
}
