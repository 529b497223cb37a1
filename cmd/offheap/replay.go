package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/offheap/offheap/internal/replay"
)

// The replay children are this binary, re-executed: MaybeChild runs the
// replay and exits when this process is one.
func init() {
	replay.MaybeChild()
	register("replay", "replay an allocation trace against offheap, Go's heap and glibc", runReplay)
}

func runReplay(args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: offheap replay [flags] TRACE\n\n"+
			"Replays TRACE (a binary trace from alloc.StartTrace or OFFHEAP=trace=, or a text trace,\n"+
			"gzipped or not) in a child process per target and prints the time, the memory system\n"+
			"calls, the page faults, the peak RSS and the RSS at the end of each. A trace's private\n"+
			"heaps are offheap's private heaps; Go's heap drops, and glibc frees, the live blocks of a\n"+
			"destroyed heap.\n\n")
		fs.PrintDefaults()
	}
	targets := fs.String("targets", strings.Join(replay.Targets, ","), "comma-separated targets: offheap, go, glibc")
	offheap := fs.String("offheap", "", "OFFHEAP `settings` for the offheap replay, e.g. mmap_threshold=1MiB (default: the environment's)")
	procs := fs.Int("procs", 1, "GOMAXPROCS of the offheap replay")
	partial := fs.Bool("partial", false, "accept a binary trace without its end block (a process that never called StopTrace)")
	noTouch := fs.Bool("no-touch", false, "do not touch the pages of the blocks (by default one byte of every page is written); offheap's populate still faults in the heap's growth, which then counts pages a program would have touched")
	syscalls := fs.Bool("syscalls", true, "count the go and glibc replays' system calls in a second run under ptrace")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want one trace file")
	}
	opt := replay.Options{Offheap: *offheap, Procs: *procs, Partial: *partial, NoTouch: *noTouch, Syscalls: *syscalls, Log: os.Stderr}
	rs, err := replay.Run(fs.Arg(0), strings.Split(*targets, ","), opt)
	if err != nil {
		return err
	}
	if *asJSON {
		e := json.NewEncoder(os.Stdout)
		e.SetIndent("", "  ")
		return e.Encode(rs)
	}
	if len(rs) > 0 {
		fmt.Printf("replay of %s: %d calls\n\n", fs.Arg(0), rs[0].Ops)
	}
	replay.WriteResults(os.Stdout, rs)
	return nil
}
