package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/offheap/offheap/internal/replay"
	"github.com/offheap/offheap/tune"
)

func init() {
	register("tune", "replay a trace over a grid of settings and recommend an OFFHEAP line", runTune)
}

func runTune(args []string) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: offheap tune [flags] TRACE\n\n"+
			"Replays TRACE against offheap once per point of a grid of mmap threshold, trim threshold,\n"+
			"top pad and arena count, each in a child process, and recommends the OFFHEAP settings\n"+
			"with the fewest memory system calls plus page faults whose peak RSS fits the budget.\n"+
			"Then it tries decay and transparent huge pages (-extras) on top of that setting and\n"+
			"recommends the one that saves a tenth or more of its system calls plus faults, if any.\n"+
			"List values are byte sizes (128k, 1MiB) or counts, \"default\" leaving the parameter unset.\n\n")
		fs.PrintDefaults()
	}
	g := replay.DefaultGrid()
	list := func(v []int64) string {
		var s []string
		for _, x := range v {
			if x == replay.Unset {
				s = append(s, "default")
			} else {
				s = append(s, tune.FormatSize(x))
			}
		}
		return strings.Join(s, ",")
	}
	mmapT := fs.String("mmap-threshold", list(g.MmapThreshold), "mmap thresholds to try")
	trimT := fs.String("trim-threshold", list(g.TrimThreshold), "trim thresholds to try")
	topPad := fs.String("top-pad", list(g.TopPad), "top pads to try")
	arenas := fs.String("arena-max", "default,1", "arena counts to try")
	budget := fs.String("rss-budget", "+25%", "largest acceptable peak RSS: a byte size (512MiB) or a percentage over the baseline's (+25%)")
	base := fs.String("base", "", "OFFHEAP `settings` of the baseline to compare with (default: the defaults)")
	parallel := fs.Int("j", 1, "replays to run at a time (more is faster, timings less clean)")
	partial := fs.Bool("partial", false, "accept a binary trace without its end block")
	noTouch := fs.Bool("no-touch", false, "do not touch the pages of the blocks (offheap's populate still faults in the heap's growth: the faults then favour settings that map blocks)")
	all := fs.Bool("all", false, "print every setting tried, not only the 15 cheapest")
	extras := fs.String("extras", strings.Join(replay.DefaultExtras, "|"), "OFFHEAP `settings`, separated by |, tried on top of the grid's best (\"\" for none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want one trace file")
	}
	o := replay.TuneOptions{Base: *base, Parallel: *parallel, Partial: *partial, NoTouch: *noTouch, Log: os.Stderr, Extras: []string{}}
	if *extras != "" {
		o.Extras = strings.Split(*extras, "|")
	}
	for _, ax := range []struct {
		flag, text string
		dst        *[]int64
	}{{"mmap-threshold", *mmapT, &o.Grid.MmapThreshold}, {"trim-threshold", *trimT, &o.Grid.TrimThreshold},
		{"top-pad", *topPad, &o.Grid.TopPad}, {"arena-max", *arenas, &o.Grid.ArenaMax}} {
		v, err := replay.ParseList(ax.text)
		if err != nil {
			return fmt.Errorf("-%s: %v", ax.flag, err)
		}
		*ax.dst = v
	}
	if p, ok := strings.CutSuffix(*budget, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimPrefix(p, "+"), 64)
		if err != nil || f < 0 {
			return fmt.Errorf("-rss-budget %q: want a size or a percentage such as +25%%", *budget)
		}
		o.BudgetPercent = f
		if f == 0 {
			o.BudgetPercent = 1e-9
		}
	} else {
		v, err := tune.ParseSize(*budget)
		if err != nil {
			return fmt.Errorf("-rss-budget: %v", err)
		}
		o.RSSBudget = v
	}
	a, err := replay.Tune(fs.Arg(0), o)
	if err != nil {
		return err
	}
	a.Write(os.Stdout, *all)
	return nil
}
