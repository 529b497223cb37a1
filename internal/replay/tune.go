package replay

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/offheap/offheap/alloc/tracefmt"
	"github.com/offheap/offheap/tune"
)

// The tuning advisor: replay a trace against offheap over a grid of
// settings, each in a child process of its own (settings are process-wide
// and the dynamic threshold, once raised, stays), and recommend the
// settings with the fewest memory system calls plus page faults whose
// peak RSS stays within a budget. Both cost the program about a
// microsecond or more each here (see NOTES: mmap+munmap of 256 KiB 3.7 us,
// a page fault 1.2 us, brk grow+shrink 2.2 us), so their sum is the cost.

// Unset in a Config leaves a parameter at its default (not set at all, so
// the dynamic threshold stays on unless another of its parameters is set).
const Unset = -1

// Config is one point of the grid.
type Config struct {
	MmapThreshold, TrimThreshold, TopPad, ArenaMax int64
}

// Offheap returns the OFFHEAP value for c: its set parameters, or "" when
// all are at their defaults.
func (c Config) Offheap() string {
	var parts []string
	add := func(name string, v int64, size bool) {
		if v == Unset {
			return
		}
		if size {
			parts = append(parts, name+"="+tune.FormatSize(v))
		} else {
			parts = append(parts, name+"="+strconv.FormatInt(v, 10))
		}
	}
	add("mmap_threshold", c.MmapThreshold, true)
	add("trim_threshold", c.TrimThreshold, true)
	add("top_pad", c.TopPad, true)
	add("arena_max", c.ArenaMax, false)
	return strings.Join(parts, ",")
}

// set counts the parameters c sets.
func (c Config) set() int {
	n := 0
	for _, v := range []int64{c.MmapThreshold, c.TrimThreshold, c.TopPad, c.ArenaMax} {
		if v != Unset {
			n++
		}
	}
	return n
}

// Grid lists the values tried for each parameter (Unset: the default).
type Grid struct {
	MmapThreshold, TrimThreshold, TopPad, ArenaMax []int64
}

// DefaultGrid is the grid tune tries unless told otherwise: 60 settings.
func DefaultGrid() Grid {
	return Grid{
		MmapThreshold: []int64{Unset, 256 << 10, 1 << 20, 4 << 20, 32 << 20},
		TrimThreshold: []int64{Unset, 1 << 20, 16 << 20},
		TopPad:        []int64{Unset, 1 << 20},
		ArenaMax:      []int64{Unset, 1},
	}
}

// Configs returns every point of the grid.
func (g Grid) Configs() []Config {
	def := func(v []int64) []int64 {
		if len(v) == 0 {
			return []int64{Unset}
		}
		return v
	}
	var out []Config
	for _, m := range def(g.MmapThreshold) {
		for _, t := range def(g.TrimThreshold) {
			for _, p := range def(g.TopPad) {
				for _, a := range def(g.ArenaMax) {
					out = append(out, Config{m, t, p, a})
				}
			}
		}
	}
	return out
}

// ParseList reads a comma-separated list of values for a grid axis:
// byte sizes (tune.ParseSize) or counts, and "default" for Unset.
func ParseList(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "default" || f == "-" {
			out = append(out, Unset)
			continue
		}
		v, err := tune.ParseSize(f)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", f, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// TuneOptions says how Tune works.
type TuneOptions struct {
	Grid Grid
	// Base is the OFFHEAP value of the baseline the advice compares with
	// ("" for the defaults). It is tried besides the grid. The environment's
	// OFFHEAP, GLIBC_TUNABLES and MALLOC_* do not apply to tune's replays.
	Base string
	// RSSBudget bounds the peak RSS of an acceptable setting, in bytes;
	// 0 means BudgetPercent over the baseline's peak.
	RSSBudget     int64
	BudgetPercent float64 // default 25
	Parallel      int     // children at a time (default 1: timings are cleaner)
	Partial       bool
	NoTouch       bool
	Exe           string
	Log           io.Writer
	// Extras are OFFHEAP settings tried on top of the grid's best, once it
	// is chosen (nil: DefaultExtras; empty: none): each is recommended
	// with it where it pays (Advice.Extras).
	Extras []string
}

// DefaultExtras are decay and transparent huge pages, alone and together:
// settings that do not move the heap's layout as the grid's do, but how
// soon memory goes back to the system and in what pages.
var DefaultExtras = []string{"decay=1s", "hugetlb=1", "decay=1s,hugetlb=1"}

// extraPays is how much an extra must save to be recommended: at least a
// tenth of the system calls plus faults, within the RSS budget.
func extraPays(t, best *Trial, budget int64) bool {
	return t.Cost()*10 <= best.Cost()*9 && t.Result.PeakRSS <= budget
}

// Trial is one replay of the grid.
type Trial struct {
	Config Config
	Base   bool   // the baseline
	Extra  string // the extra setting added to the grid's best (Advice.Extras)
	Result Result
}

// Cost returns the memory system calls plus the page faults.
func (t *Trial) Cost() int64 { return t.Result.Syscalls + t.Result.Faults }

// mmaps returns the mmap, munmap and mremap calls.
func (t *Trial) mmaps() int64 {
	by := t.Result.SyscallsBy
	return by["mmap"] + by["munmap"] + by["mremap"]
}

// Advice is what Tune found.
type Advice struct {
	Trace  string
	Ops    int
	Trials []Trial // by cost, cheapest first
	Base   *Trial
	Best   *Trial // nil when no setting fits the budget
	Budget int64
	// Extras are the grid's best with each extra setting added, in the
	// order tried; Best is one of them when it pays (extraPays): the
	// cheapest that does, or within 1% of it the one setting the fewest
	// parameters.
	Extras []Trial
}

// Tune replays the trace in path over o.Grid (and the baseline) and
// returns the advice.
func Tune(path string, o TuneOptions) (*Advice, error) {
	if len(o.Grid.Configs()) == 0 {
		o.Grid = DefaultGrid()
	}
	if o.BudgetPercent == 0 {
		o.BudgetPercent = 25
	}
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	// Children load a binary trace much faster than a text one.
	src, cleanup, err := binaryTrace(path, o.Partial)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	// The grid's settings alone configure the children: the environment's
	// OFFHEAP, GLIBC_TUNABLES and MALLOC_* are left out.
	ropt := Options{Partial: o.Partial, NoTouch: o.NoTouch, Exe: o.Exe, CleanEnv: true}
	ropt.Offheap = o.Base
	br, err := RunTarget(src, "offheap", ropt)
	if err != nil {
		return nil, fmt.Errorf("baseline (%q): %w", o.Base, err)
	}
	br.Settings = o.Base
	a := &Advice{Trace: path, Ops: br.Ops, Base: &Trial{Base: true, Result: *br}}
	a.Budget = o.RSSBudget
	if a.Budget == 0 {
		a.Budget = int64(float64(br.PeakRSS) * (1 + o.BudgetPercent/100))
	}

	cfgs := o.Grid.Configs()
	trials := make([]Trial, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.Parallel)
	var logMu sync.Mutex
	done := 0
	for i, c := range cfgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ro := ropt
			ro.Offheap = c.Offheap()
			r, err := RunTarget(src, "offheap", ro)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", ro.Offheap, err)
				return
			}
			r.Settings = c.Offheap()
			trials[i] = Trial{Config: c, Result: *r}
			logMu.Lock()
			done++
			if o.Log != nil {
				fmt.Fprintf(o.Log, "\rtune: %d/%d settings replayed", done, len(cfgs))
			}
			logMu.Unlock()
		}()
	}
	wg.Wait()
	if o.Log != nil {
		fmt.Fprintln(o.Log)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortStableFunc(trials, func(x, y Trial) int {
		switch {
		case x.Cost() != y.Cost():
			return cmp64(x.Cost(), y.Cost())
		case x.Result.PeakRSS != y.Result.PeakRSS:
			return cmp64(x.Result.PeakRSS, y.Result.PeakRSS)
		}
		return x.Config.set() - y.Config.set()
	})
	a.Trials = trials
	a.Best = a.choose()
	extras := o.Extras
	if extras == nil {
		extras = DefaultExtras
	}
	if a.Best != nil && len(extras) > 0 {
		grid := a.Best
		for _, x := range extras {
			ro := ropt
			ro.Offheap = strings.Trim(grid.Config.Offheap()+","+x, ",")
			r, err := RunTarget(src, "offheap", ro)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ro.Offheap, err)
			}
			r.Settings = ro.Offheap
			a.Extras = append(a.Extras, Trial{Config: grid.Config, Extra: x, Result: *r})
		}
		// The cheapest extra that pays; within 1% (and 2) of it, the one
		// setting the fewest parameters, as choose does for the grid.
		var cheapest *Trial
		for i := range a.Extras {
			if t := &a.Extras[i]; extraPays(t, grid, a.Budget) && (cheapest == nil || t.Cost() < cheapest.Cost()) {
				cheapest = t
			}
		}
		if cheapest != nil {
			a.Best = cheapest
			for i := range a.Extras {
				t := &a.Extras[i]
				if extraPays(t, grid, a.Budget) && t.Cost() <= cheapest.Cost()+max(2, cheapest.Cost()/100) &&
					strings.Count(t.Extra, ",") < strings.Count(a.Best.Extra, ",") {
					a.Best = t
				}
			}
		}
	}
	return a, nil
}

// choose returns the recommended trial: within the budget, the cheapest,
// where costs within 1% (and 2) of the cheapest count as equal (the
// faults of two runs differ by a few), and among equals the one setting
// the fewest parameters, then the one with the smallest peak RSS.
func (a *Advice) choose() *Trial {
	var best *Trial
	var limit int64
	for i := range a.Trials {
		t := &a.Trials[i]
		if t.Result.PeakRSS > a.Budget {
			continue
		}
		if best == nil {
			// The cheapest within the budget: trials are sorted by cost.
			best, limit = t, t.Cost()+max(2, t.Cost()/100)
			continue
		}
		if t.Cost() > limit {
			break
		}
		if t.Config.set() < best.Config.set() ||
			t.Config.set() == best.Config.set() && t.Result.PeakRSS < best.Result.PeakRSS {
			best = t
		}
	}
	return best
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// binaryTrace returns path, or a binary copy of it when it is a text
// trace, and a function removing the copy.
func binaryTrace(path string, partial bool) (string, func(), error) {
	r, c, err := tracefmt.Open(path)
	if err != nil {
		return "", nil, err
	}
	info := r.Info()
	c.Close()
	if info.Format == tracefmt.Binary && !info.Gzipped {
		return path, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "offheap-tune-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	out := filepath.Join(dir, "trace")
	if err := convert(path, out, partial); err != nil {
		cleanup()
		return "", nil, err
	}
	return out, cleanup, nil
}

// convert writes the trace in path to out in the binary format.
func convert(path, out string, partial bool) error {
	r, c, err := tracefmt.Open(path)
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tick := time.Duration(0)
	if r.Info().Timestamps {
		tick = time.Microsecond
	}
	w, err := tracefmt.NewWriter(f, r.Info().Start, tick)
	if err != nil {
		return err
	}
	for {
		e, err := r.Next()
		if err == io.EOF || partial && errors.Is(err, tracefmt.ErrUnterminated) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := w.Write(&e); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

// Write prints the advice: what was tried, cheapest first, and the
// recommended OFFHEAP line with the reduction it brings.
func (a *Advice) Write(w io.Writer, all bool) {
	fmt.Fprintf(w, "tune: %s, %d calls; %d settings replayed, each in its own process; RSS budget %s\n\n",
		a.Trace, a.Ops, len(a.Trials), FormatBytes(a.Budget))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "OFFHEAP\tsyscalls\tmmap+munmap\tbrk\tmadvise\tfaults\tcost\tpeak RSS\tend RSS\ttime\t\n")
	row := func(t *Trial, mark string) {
		s := t.Result.Settings
		if s == "" {
			s = "(defaults)"
		}
		if t.Base {
			s += " [baseline]"
		}
		by := t.Result.SyscallsBy
		over := ""
		if t.Result.PeakRSS > a.Budget {
			over = " over"
		}
		fmt.Fprintf(tw, "%s%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s%s\t%s\t%v\t\n", mark, s, t.Result.Syscalls, t.mmaps(), by["brk"], by["madvise"],
			t.Result.Faults, t.Cost(), FormatBytes(t.Result.PeakRSS), over, FormatBytes(t.Result.EndRSS), t.Result.Elapsed.Round(10*time.Microsecond))
	}
	row(a.Base, "")
	n := len(a.Trials)
	if !all {
		n = min(n, 15)
	}
	for i := 0; i < n; i++ {
		mark := ""
		if &a.Trials[i] == a.Best {
			mark = "* "
		}
		row(&a.Trials[i], mark)
	}
	if n < len(a.Trials) {
		tw.Flush()
		fmt.Fprintf(w, "(%d more; -all shows every one)\n", len(a.Trials)-n)
	}
	if len(a.Extras) > 0 {
		fmt.Fprintf(tw, "on top of the grid's best:\t\t\t\t\t\t\t\t\t\t\n")
		for i := range a.Extras {
			mark := ""
			if &a.Extras[i] == a.Best {
				mark = "* "
			}
			row(&a.Extras[i], mark)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	if a.Best == nil {
		fmt.Fprintf(w, "no setting keeps the peak RSS within %s: raise -rss-budget\n", FormatBytes(a.Budget))
		return
	}
	b, base := a.Best, a.Base
	for i := range a.Extras {
		x := &a.Extras[i]
		verdict := "does not pay here"
		switch {
		case x == b:
			verdict = "pays: recommended"
		case x.Result.PeakRSS > a.Budget:
			verdict = "over the RSS budget"
		case extraPays(x, a.gridBest(), a.Budget):
			verdict = "pays, but no more than the one recommended"
		}
		fmt.Fprintf(w, "%s: cost %d -> %d (%s), peak RSS %s: %s\n", x.Extra, a.gridBest().Cost(), x.Cost(),
			pct(a.gridBest().Cost(), x.Cost()), FormatBytes(x.Result.PeakRSS), verdict)
	}
	line := b.Result.Settings
	if line == "" {
		fmt.Fprintf(w, "recommended: the defaults (set nothing)\n")
	} else {
		fmt.Fprintf(w, "recommended: OFFHEAP=%s\n", line)
	}
	fmt.Fprintf(w, "  against the baseline: system calls %d -> %d (%s), of them mmap/munmap/mremap %d -> %d (%s); page faults %d -> %d (%s); peak RSS %s -> %s; time %v -> %v\n",
		base.Result.Syscalls, b.Result.Syscalls, pct(base.Result.Syscalls, b.Result.Syscalls),
		base.mmaps(), b.mmaps(), pct(base.mmaps(), b.mmaps()),
		base.Result.Faults, b.Result.Faults, pct(base.Result.Faults, b.Result.Faults),
		FormatBytes(base.Result.PeakRSS), FormatBytes(b.Result.PeakRSS),
		base.Result.Elapsed.Round(10*time.Microsecond), b.Result.Elapsed.Round(10*time.Microsecond))
}

// gridBest is the grid's recommended trial, before any extra.
func (a *Advice) gridBest() *Trial {
	if a.Best != nil && a.Best.Extra == "" {
		return a.Best
	}
	return a.choose()
}

func pct(from, to int64) string {
	if from == 0 {
		if to == 0 {
			return "same"
		}
		return "new"
	}
	return fmt.Sprintf("%+.0f%%", 100*(float64(to)/float64(from)-1))
}
