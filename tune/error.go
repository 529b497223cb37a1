package tune

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// The kinds of problem, found in Error.Err. Test for them with errors.Is.
var (
	// ErrUnknown means the parameter, OFFHEAP key or glibc.malloc tunable
	// does not exist.
	ErrUnknown = errors.New("unknown parameter")
	// ErrSyntax means the text is not a value of the parameter's unit.
	ErrSyntax = errors.New("invalid syntax")
	// ErrRange means the value is outside the parameter's range (for a byte
	// size or a decimal number, possibly outside int64).
	ErrRange = errors.New("out of range")
)

// Error is a rejected parameter value. Its message says where the value came
// from, what is wrong with it and what is accepted, for example
//
//	tune: mmap_threshold = -5: out of range; accepted 0 to 9223372036854775807 bytes
//	tune: MALLOC_TOP_PAD_="12q": not a byte size (want e.g. 4096, 128k, 1MiB); accepted 0 to 9223372036854775807 bytes
//	tune: OFFHEAP: unknown key "mmap_treshold"; known keys: mxfast, ..., trace
type Error struct {
	// Param is the parameter, or 0 when the name given matched none.
	Param Param
	// Name is the parameter's table name; for ErrUnknown, the unknown name
	// as written (or Param's String for Set).
	Name string
	// Var is the environment variable that held the value ("OFFHEAP",
	// "GLIBC_TUNABLES", "MALLOC_TOP_PAD_"), or "" for a value from Set.
	Var string
	// Key is the entry's key inside Var as written ("mmap_threshold" in
	// OFFHEAP, "glibc.malloc.top_pad" in GLIBC_TUNABLES), or "" when Var
	// holds a single value.
	Key string
	// Value is the rejected value: the text as written, or the number given
	// to Set in decimal.
	Value string
	// Min, Max and Unit are the parameter's accepted range and unit (for
	// ParseSize: 0, math.MaxInt64 and Bytes; for ParseDuration, Duration).
	Min, Max int64
	Unit     Unit
	// Values, for Unit Enum, are the accepted words.
	Values []string
	// Err is ErrUnknown, ErrSyntax or ErrRange.
	Err error
}

// Error returns the message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("tune: ")
	switch {
	case e.Err == ErrUnknown && e.Var == "":
		b.WriteString("unknown parameter ")
		b.WriteString(e.Name)
		return b.String()
	case e.Err == ErrUnknown && e.Var == envOffheap:
		// The key is quoted: it may be empty or hold spaces.
		b.WriteString(e.Var + ": unknown key " + strconv.Quote(e.Key) + "; known keys: " + offheapKeys)
		return b.String()
	case e.Err == ErrUnknown:
		b.WriteString(e.Var + ": unknown tunable " + strconv.Quote(e.Key) + "; known: " + tunableNames)
		return b.String()
	case e.Var == "" && e.Name == "" && e.Unit == Duration:
		b.WriteString("duration " + strconv.Quote(e.Value))
	case e.Var == "" && e.Name == "":
		b.WriteString("size " + strconv.Quote(e.Value))
	case e.Var == "":
		b.WriteString(e.Name + " = " + e.Value)
	case e.Key == "":
		b.WriteString(e.Var + "=" + strconv.Quote(e.Value))
	default:
		b.WriteString(e.Var + " " + e.Key + "=" + strconv.Quote(e.Value))
	}
	b.WriteString(": ")
	if e.Err == ErrSyntax {
		b.WriteString(e.syntaxProblem())
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	b.WriteString("; accepted ")
	b.WriteString(e.accepted())
	return b.String()
}

// Unwrap returns Err, so that errors.Is(err, ErrRange) and the like work.
func (e *Error) Unwrap() error { return e.Err }

// syntaxProblem says what kind of text was expected.
func (e *Error) syntaxProblem() string {
	switch e.Unit {
	case Bytes:
		return "not a byte size (want e.g. 4096, 128k, 1MiB)"
	case Enum:
		return "unknown value"
	case Duration:
		return "not a duration (want e.g. 500ms, 10s, 2m)"
	}
	return "not a decimal integer"
}

// accepted describes the accepted values: "0 to 9223372036854775807 bytes",
// "0 to 3", `"off" (0) or "auto" (1)`.
func (e *Error) accepted() string {
	switch e.Unit {
	case Enum:
		var parts []string
		for i, w := range e.Values {
			parts = append(parts, strconv.Quote(w)+" ("+strconv.FormatInt(e.Min+int64(i), 10)+")")
		}
		return joinOr(parts)
	case Bytes:
		return strconv.FormatInt(e.Min, 10) + " to " + strconv.FormatInt(e.Max, 10) + " bytes"
	case Duration:
		return strconv.FormatInt(e.Min, 10) + " to " + strconv.FormatInt(e.Max, 10) + " milliseconds"
	}
	return strconv.FormatInt(e.Min, 10) + " to " + strconv.FormatInt(e.Max, 10)
}

// joinOr joins a list as English does: "a", "a or b", "a, b or c".
func joinOr(parts []string) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// sizeError is ParseSize's error for s.
func sizeError(s string, kind error) *Error {
	return &Error{Value: s, Min: 0, Max: math.MaxInt64, Unit: Bytes, Err: kind}
}
