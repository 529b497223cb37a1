package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/offheap/offheap/internal/replay"
)

func init() {
	register("trace-stats", "summarize an allocation trace: sizes, lifetimes, peak live bytes, realloc chains, private heaps", runTraceStats)
}

func runTraceStats(args []string) error {
	fs := flag.NewFlagSet("trace-stats", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: offheap trace-stats [flags] TRACE\n\n"+
			"Summarizes TRACE (binary or text, gzipped or not): calls by operation, a histogram of\n"+
			"request sizes and of lifetimes (in calls, and in time when the trace has timestamps),\n"+
			"the peak of live bytes, the blocks left live, the realloc chains, and the private heaps\n"+
			"(created, destroyed, the blocks and bytes their destroys dropped).\n\n")
		fs.PrintDefaults()
	}
	partial := fs.Bool("partial", false, "accept a binary trace without its end block")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want one trace file")
	}
	s, err := replay.ComputeStats(fs.Arg(0), *partial)
	if err != nil {
		return err
	}
	if *asJSON {
		e := json.NewEncoder(os.Stdout)
		e.SetIndent("", "  ")
		return e.Encode(s)
	}
	s.Write(os.Stdout)
	return nil
}
