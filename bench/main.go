package bench

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// Main runs the peer comparison as a command and returns its exit status:
// it measures every workload on every installed peer (see Run), prints the
// table (Report.WriteTable) on stdout and progress on stderr. name is how
// the user invoked it ("go run ./bench/cmd/peers", "offheap bench"), shown
// in the usage and in the table's header; args are the flags:
//
//	-count n       samples per workload and peer; the table shows medians (5)
//	-benchtime d   time of each sample (100ms)
//	-run regexp    workloads to run (all)
//	-peers a,b     peers to run (all installed)
//	-json file     also write the whole report, every sample, as JSON
//	-q             no progress lines
//
// Every peer runs in a child binary that Main builds with the go command
// (see Run), so it needs the go command and the module's source: run it
// with go run from the module.
func Main(name string, args []string) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	count := fs.Int("count", 5, "samples per workload and peer; the table shows medians")
	benchTime := fs.Duration("benchtime", 100*time.Millisecond, "time of each sample")
	run := fs.String("run", "", "run only the workloads whose names match this regexp")
	peers := fs.String("peers", "", "comma-separated peers to run (default: all installed)")
	jsonOut := fs.String("json", "", "write the report, every sample, as JSON to this file")
	quiet := fs.Bool("q", false, "print no progress lines")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s [flags]\n\nCompares offheap with Go's heap and C allocators on issue 3's workloads.\n\nFlags:\n", name)
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nPeers: %s\n  (jemalloc and mimalloc when libjemalloc-dev and libmimalloc-dev are installed)\n\nWorkloads:\n", strings.Join(PeerNames(), ", "))
		for _, wl := range Workloads() {
			fmt.Fprintf(w, "  %-18s %s\n", wl.Name, wl.Doc)
		}
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected arguments %q\n", name, fs.Args())
		fs.Usage()
		return 2
	}
	opts := Options{Count: *count, BenchTime: *benchTime, Run: *run, Peers: *peers}
	if !*quiet {
		opts.Progress = os.Stderr
	}
	rep, err := Run(opts)
	if rep != nil {
		rep.Command = strings.TrimSpace(name + " " + strings.Join(args, " "))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	rep.WriteTable(os.Stdout)
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "\t")
		if err == nil {
			err = os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: -json: %v\n", name, err)
			return 1
		}
	}
	return 0
}
