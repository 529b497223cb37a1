package tune

import "strings"

// The environment variables FromEnv reads besides the MALLOC_* aliases of the
// table.
const (
	envOffheap  = "OFFHEAP"
	envTunables = "GLIBC_TUNABLES"

	// tunablePrefix starts the GLIBC_TUNABLES entries that concern malloc.
	tunablePrefix = "glibc.malloc."
)

// FromEnv builds Settings from the environment, read through lookup (such as
// os.LookupEnv; nil means an empty environment). Sources are read lowest
// precedence first, each overriding the ones before for the parameters it
// names: the glibc aliases MALLOC_* of the table, then the glibc.malloc
// entries of GLIBC_TUNABLES, then the entries of OFFHEAP (see the package
// documentation).
//
// FromEnv returns the settings and one *Error per problem, in the order met,
// so that a program can report them (errors.Join) and fail, or go on. A bad
// value does not change the parameter: it keeps what the lower sources gave
// it, or its default. Every parameter given an accepted value counts as set.
func FromEnv(lookup func(string) (string, bool)) (Settings, []error) {
	var s Settings
	var problems []error
	if lookup == nil {
		return s, nil
	}
	for i := range table {
		sp := &table[i]
		for _, name := range sp.Env {
			if text, ok := lookup(name); ok {
				if err := s.setText(sp, text); err != nil {
					err.Var = name
					problems = append(problems, err)
				}
			}
		}
	}
	if text, ok := lookup(envTunables); ok {
		for entry := range strings.SplitSeq(text, ":") {
			if err := s.setTunable(entry); err != nil {
				problems = append(problems, err)
			}
		}
	}
	if text, ok := lookup(envOffheap); ok {
		for entry := range strings.SplitSeq(text, ",") {
			if err := s.setOffheap(entry); err != nil {
				problems = append(problems, err)
			}
		}
	}
	return s, problems
}

// setTunable applies one GLIBC_TUNABLES entry, "glibc.malloc.top_pad=4096".
// Entries outside glibc.malloc, and glibc.malloc tunables that only glibc
// implements, are glibc's business and are skipped.
func (s *Settings) setTunable(entry string) *Error {
	key, text, _ := strings.Cut(entry, "=")
	name, ok := strings.CutPrefix(key, tunablePrefix)
	if !ok {
		return nil
	}
	i, ok := nameIndex[name]
	if !ok || !table[i].Tunable {
		for _, only := range glibcOnly {
			if name == only {
				return nil
			}
		}
		return &Error{Name: name, Var: envTunables, Key: key, Value: text, Err: ErrUnknown}
	}
	err := s.setText(&table[i], text)
	if err != nil {
		err.Var, err.Key = envTunables, key
	}
	return err
}

// setOffheap applies one OFFHEAP entry, "mmap_threshold=1m" or
// "trace=/tmp/t". Empty entries are skipped.
func (s *Settings) setOffheap(entry string) *Error {
	if entry == "" {
		return nil
	}
	key, text, _ := strings.Cut(entry, "=")
	if key == traceKey {
		s.Trace = text
		return nil
	}
	i, ok := nameIndex[key]
	if !ok {
		return &Error{Name: key, Var: envOffheap, Key: key, Value: text, Err: ErrUnknown}
	}
	err := s.setText(&table[i], text)
	if err != nil {
		err.Var, err.Key = envOffheap, key
	}
	return err
}
