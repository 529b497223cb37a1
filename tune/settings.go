package tune

import (
	"slices"
	"strconv"
)

// Settings is a full set of parameter values, plus which of them were set
// explicitly, from code or from the environment. The zero Settings holds every
// default with nothing set, the same as Defaults(). Settings is a value: copy
// it freely, and compare two with ==. It has no lock: a program that sets
// parameters while other goroutines read them guards the Settings itself.
type Settings struct {
	// value[i] is table[i]'s value when set[i]; otherwise the default holds.
	value [len(table)]int64
	set   [len(table)]bool

	// Trace is the file that receives the allocation trace, or "" for none.
	Trace string
}

// Defaults returns Settings holding every parameter's default, none set.
func Defaults() Settings { return Settings{} }

// Set validates v against p's range and, if it is accepted, makes it p's value
// and marks p as set. It is the one validating setter: the allocator's Mallopt
// and FromEnv both go through it. It returns an *Error wrapping ErrUnknown for
// a p the table does not hold and one wrapping ErrRange for a v outside
// [Spec.Min, Spec.Max]; after an error s is unchanged.
func (s *Settings) Set(p Param, v int64) error {
	i, ok := paramIndex[p]
	if !ok {
		return &Error{Param: p, Name: p.String(), Value: strconv.FormatInt(v, 10), Err: ErrUnknown}
	}
	sp := &table[i]
	if v < sp.Min || v > sp.Max {
		return sp.error(strconv.FormatInt(v, 10), ErrRange)
	}
	s.value[i] = v
	s.set[i] = true
	return nil
}

// Get returns p's value: the one last set, or else the default. It returns 0
// for a p the table does not hold.
func (s *Settings) Get(p Param) int64 {
	i, ok := paramIndex[p]
	switch {
	case !ok:
		return 0
	case s.set[i]:
		return s.value[i]
	}
	return table[i].Default
}

// IsSet reports whether p was set explicitly, by Set or from the environment,
// even to its default value. The allocator needs this: as in glibc, setting
// TrimThreshold, TopPad, MmapThreshold or MmapMax turns the dynamic mmap
// threshold off.
func (s *Settings) IsSet(p Param) bool {
	i, ok := paramIndex[p]
	return ok && s.set[i]
}

// setText parses text in sp's unit and sets it through Set. On error it
// returns the *Error with Value the text as written.
func (s *Settings) setText(sp *Spec, text string) *Error {
	v, err := sp.parse(text)
	if err != nil {
		return err
	}
	if err := s.Set(sp.Param, v); err != nil {
		e := err.(*Error)
		e.Value = text
		return e
	}
	return nil
}

// parse reads text as a value of sp's unit. It checks only that the text is a
// number (a size, a word) that fits in int64; Set checks the range.
func (sp *Spec) parse(text string) (int64, *Error) {
	switch sp.Unit {
	case Bytes:
		v, err := ParseSize(text)
		if err != nil {
			return 0, sp.error(text, err.(*Error).Err)
		}
		return v, nil
	case Duration:
		v, err := ParseDuration(text)
		if err != nil {
			return 0, sp.error(text, err.(*Error).Err)
		}
		return v, nil
	case Enum:
		for i, word := range sp.Values {
			if equalFoldASCII(text, word) {
				return sp.Min + int64(i), nil
			}
		}
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		kind := ErrSyntax
		if err.(*strconv.NumError).Err == strconv.ErrRange {
			kind = ErrRange
		}
		return 0, sp.error(text, kind)
	}
	return v, nil
}

// error returns an *Error about sp's value text.
func (sp *Spec) error(text string, kind error) *Error {
	return &Error{
		Param: sp.Param, Name: sp.Name, Value: text,
		Min: sp.Min, Max: sp.Max, Unit: sp.Unit, Values: slices.Clone(sp.Values),
		Err: kind,
	}
}

// equalFoldASCII reports whether a and b are equal ignoring ASCII case (and
// only ASCII case, unlike strings.EqualFold).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
