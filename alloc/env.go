package alloc

import (
	"errors"
	"os"

	"github.com/offheap/offheap/tune"
)

// The environment (OFFHEAP, GLIBC_TUNABLES, MALLOC_*; see package tune) is
// read once, when the allocator starts at the first allocation; each
// problem found goes to standard error on one line, naming the variable,
// the value and what is accepted, and the parameter keeps its default.
// EnvProblems gives the same problems as an error to a program that would
// rather stop; ReadEnv reads the environment again.

var (
	// envProblems are the problems met when the allocator started.
	envProblems []error
	// setByMallopt records the parameters Mallopt (or SetMemoryLimit,
	// CoupleGoMemoryLimit) set: ReadEnv leaves them alone. Guarded by
	// initMu.
	setByMallopt = map[tune.Param]bool{}
)

// EnvProblems returns the problems found in the environment when the
// allocator started (the lines it wrote to standard error, as errors
// joined with errors.Join; each unwraps to a *tune.Error, or to the error
// of gomemlimit=auto), or nil if there were none. It starts the allocator
// if it has not started. A program that prefers to fail on a bad setting
// calls it first thing.
func EnvProblems() error {
	theHeap()
	initMu.Lock()
	defer initMu.Unlock()
	return errors.Join(envProblems...)
}

// ReadEnv reads the environment again, as at the start, and applies every
// parameter it sets, except those set since the start by Mallopt,
// SetMemoryLimit or CoupleGoMemoryLimit, which win over the environment.
// Parameters the environment does not name keep their values. As at the
// start, a threshold set here turns the dynamic threshold off. It returns
// the problems found, joined, or nil; it writes nothing to standard error.
func ReadEnv() error {
	h := theHeap()
	s, problems := tune.FromEnv(os.LookupEnv)
	initMu.Lock()
	defer initMu.Unlock()
	for _, sp := range tune.Specs() {
		if !s.IsSet(sp.Param) || setByMallopt[sp.Param] {
			continue
		}
		if err := malloptLocked(h, sp.Param, int(s.Get(sp.Param))); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}
