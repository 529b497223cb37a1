package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Main runs the comparison as a command and returns its exit status: it
// measures the workloads on every installed peer (see Run), prints the
// tables (Report.WriteTable) on stdout and its progress on stderr (one
// line redrawn in place when stderr is a terminal, plain lines
// otherwise). name is how the user invoked it ("offheap bench", "go run
// ./bench/cmd/peers"), shown in the usage and in the report; args are the
// flags (see -h).
//
// Every peer runs in a child binary that Main builds with the go command
// (see Run), so it needs the go command and the module's source: run it
// with go run from the module. -plot draws the chart with the separate
// module bench/chart (gonum.org/v1/plot), also through the go command, so
// that the library's module does not depend on a plotting library.
func Main(name string, args []string) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	count := fs.Int("count", 5, "samples per workload and peer; the tables show medians")
	benchTime := fs.Duration("benchtime", 100*time.Millisecond, "time of each sample")
	run := fs.String("run", "", "run the workloads whose names match this regexp (default: the default set; -run . for all)")
	peers := fs.String("peers", "", "comma-separated peers to run (default: all installed)")
	threads := fs.Int("threads", 0, "threads of the multi-threaded workloads (default GOMAXPROCS)")
	gcTime := fs.Duration("gctime", 5*time.Second, "request loop of the GC-pressure workloads")
	gcEntries := fs.String("gc-entries", "10", "GC-pressure cache sizes in millions of values, comma-separated (a cache that would not fit in the available memory is refused)")
	gcValues := fs.String("gc-values", "64-256", "GC-pressure value sizes, min-max bytes (e.g. 64-4096)")
	syscalls := fs.Bool("syscalls", true, "count every peer's memory system calls under ptrace, in one more run of each workload")
	jsonOut := fs.String("json", "", "write the report, every sample, as JSON to this file")
	csvOut := fs.String("csv", "", "write one row per workload and peer (medians) as CSV to this file")
	plot := fs.String("plot", "", "draw each peer's time ratio to offheap per workload into this .svg or .png (or .pdf) file")
	list := fs.Bool("list", false, "list the workloads and exit")
	quiet := fs.Bool("q", false, "print no progress")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s [flags]\n\nCompares offheap with Go's heap, modernc.org/memory and C allocators (glibc, jemalloc, mimalloc;\nthrough cgo and natively) on workloads re-specified from glibc's benchtests and mimalloc-bench,\nlarge blocks, a GC-pressure cache, a churn of 5 million values and the first malloc of a process.\nEach measurement runs in a fresh child process.\n\nFlags:\n", name)
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nPeers: %s\n  (jemalloc and mimalloc when libjemalloc-dev and libmimalloc-dev are installed:\n  apt-get install libjemalloc-dev libmimalloc-dev; modernc-memory when the go command\n  can build bench/modernc, a module of its own: modernc.org/memory from the module cache or proxy)\n\nRun -list for the workloads.\n", strings.Join(PeerNames(), ", "))
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
	if err := ParseGCConfig(*gcEntries, *gcValues); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	if *list {
		listWorkloads(os.Stdout, *threads, *run)
		return 0
	}
	for _, f := range []string{*jsonOut, *csvOut} {
		if f != "" && filepath.Ext(f) == "" {
			fmt.Fprintf(os.Stderr, "%s: %q: give the output file an extension\n", name, f)
			return 2
		}
	}
	if *plot != "" {
		switch filepath.Ext(*plot) {
		case ".svg", ".png", ".pdf":
		default:
			fmt.Fprintf(os.Stderr, "%s: -plot %s: want a .svg, .png or .pdf file\n", name, *plot)
			return 2
		}
	}
	opts := Options{Count: *count, BenchTime: *benchTime, Run: *run, Peers: *peers, Threads: *threads,
		GCTime: *gcTime, GCEntries: *gcEntries, GCValues: *gcValues, Syscalls: *syscalls}
	if !*quiet {
		opts.Progress = os.Stderr
		opts.Live = IsTerminal(os.Stderr)
	}
	rep, err := Run(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	rep.Command = strings.TrimSpace(name + " " + strings.Join(args, " "))
	rep.WriteTable(os.Stdout)
	status := 0
	if *jsonOut != "" {
		if err := writeFile(*jsonOut, rep.WriteJSON); err != nil {
			fmt.Fprintf(os.Stderr, "%s: -json: %v\n", name, err)
			status = 1
		}
	}
	if *csvOut != "" {
		if err := writeFile(*csvOut, rep.WriteCSV); err != nil {
			fmt.Fprintf(os.Stderr, "%s: -csv: %v\n", name, err)
			status = 1
		}
	}
	if *plot != "" {
		if err := Plot(rep, *plot); err != nil {
			fmt.Fprintf(os.Stderr, "%s: -plot: %v\n", name, err)
			status = 1
		} else {
			fmt.Fprintf(os.Stderr, "chart written to %s\n", *plot)
		}
	}
	return status
}

// WriteJSON writes the whole report, every sample, as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func writeFile(path string, write func(io.Writer) error) error {
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// listWorkloads writes the workloads that -run selects (the default set
// for ""), with their thread counts and sources.
func listWorkloads(w io.Writer, threads int, run string) {
	var re *regexp.Regexp
	if run != "" {
		re, _ = regexp.Compile(run)
	}
	all := WorkloadsFor(threads)
	for _, wl := range all {
		if re != nil && !re.MatchString(wl.Name) {
			continue
		}
		mark := " "
		if wl.Default {
			mark = "*"
		}
		fmt.Fprintf(w, "%s %-26s %s\n", mark, wl.Name, wl.Doc)
		if wl.Source != "" && wl.Source != "issue 3" {
			fmt.Fprintf(w, "    from %s\n", wl.Source)
		}
	}
	fmt.Fprintln(w, "\n* = in the default set (no -run)")
}

// ChartDir returns the directory of the chart module (bench/chart), or an
// error when this binary does not know where the module's source is.
func ChartDir() (string, error) {
	d := sourceDir()
	if d == "" {
		return "", fmt.Errorf("the chart is drawn by the module in bench/chart, and this binary does not know where the source is: run it with go run from the module")
	}
	return filepath.Join(d, "chart"), nil
}

// Plot draws the report's chart into out (.svg, .png or .pdf) by running
// the chart module (bench/chart, gonum.org/v1/plot) with the go command on
// the report's JSON.
func Plot(r *Report, out string) error {
	dir, err := ChartDir()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "offheap-bench-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := r.WriteJSON(tmp); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command(goTool(), "-C", dir, "run", ".", "-in", tmp.Name(), "-out", abs)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go -C %s run .: %v: %s", dir, err, lastLines(stderr.String(), 5))
	}
	return nil
}
