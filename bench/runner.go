package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/offheap/offheap/brk"
)

// Options choose what Run measures.
type Options struct {
	Count     int           // repetitions; the table shows medians (default 5)
	BenchTime time.Duration // time of each sample (default 100ms)
	Run       string        // regexp over workload names (default: all)
	// Peers lists the peer names to run, comma-separated (default: all;
	// see PeerNames). A C library's child binary is built only when one
	// of its peers is asked for.
	Peers    string
	Progress io.Writer // progress lines, or nil
}

// CLib is a C allocator measured by a child binary of bench/cpeer.
type CLib struct {
	Name string // "glibc", "jemalloc", "mimalloc"
	Tag  string // build tag that links it ("" for glibc)
	SO   string // shared library file the tag links, "" for glibc
	Deb  string // the Debian package that installs it
}

// CLibs are the C allocators Main compares with offheap.
var CLibs = []CLib{
	{Name: "glibc"},
	{Name: "jemalloc", Tag: "jemalloc", SO: "libjemalloc.so", Deb: "libjemalloc-dev"},
	{Name: "mimalloc", Tag: "mimalloc", SO: "libmimalloc.so", Deb: "libmimalloc-dev"},
}

// PeerNames lists every peer Main knows, in table order.
func PeerNames() []string {
	names := []string{"offheap", "go-heap"}
	for _, l := range CLibs {
		names = append(names, l.Name+"-cgo", l.Name+"-native")
	}
	return names
}

// libDirs are where the linker is looked after, for the check that a
// library is installed.
func libDirs() []string {
	triple := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	return []string{"/usr/lib/" + triple, "/usr/lib64", "/usr/lib", "/usr/local/lib"}
}

// findLib returns the path of the shared library so, or "".
func findLib(so string) string {
	for _, d := range libDirs() {
		if p := filepath.Join(d, so); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Report is the outcome of Run: every sample, with what produced it.
type Report struct {
	Date       time.Time `json:"date"`
	Machine    string    `json:"machine"`
	GoVersion  string    `json:"go_version"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	GOGC       string    `json:"gogc"`
	// OffheapBreak is the kind of break offheap's main arena used: "brk"
	// in a pure Go binary, as it should be.
	OffheapBreak string `json:"offheap_break,omitempty"`
	// LoadBefore and LoadAfter are /proc/loadavg's 1-minute figure when
	// the run started and ended.
	LoadBefore string       `json:"load_before,omitempty"`
	LoadAfter  string       `json:"load_after,omitempty"`
	Command    string       `json:"command,omitempty"`
	Count      int          `json:"count"`
	BenchTime  string       `json:"benchtime"`
	Workloads  []WorkInfo   `json:"workloads"`
	Peers      []PeerInfo   `json:"peers"`
	Skipped    []SkipReason `json:"skipped,omitempty"`
	Results    []*Result    `json:"results"`
	// Failures lists the workloads that failed on a peer (a panic in the
	// allocator), each run no more after its failure.
	Failures []Failure `json:"failures,omitempty"`
}

// Failure is a workload that failed on a peer.
type Failure struct {
	Peer     string `json:"peer"`
	Workload string `json:"workload"`
	Error    string `json:"error"`
}

// WorkInfo describes a workload in a Report.
type WorkInfo struct {
	Name    string `json:"name"`
	Threads int    `json:"threads"`
	Doc     string `json:"doc"`
}

// PeerInfo describes a peer in a Report.
type PeerInfo struct {
	Name  string `json:"name"`
	About string `json:"about"`
}

// SkipReason says why a peer is missing from a Report.
type SkipReason struct {
	Peer   string `json:"peer"`
	Reason string `json:"reason"`
}

// Result holds the samples of one workload on one peer.
type Result struct {
	Peer     string   `json:"peer"`
	Workload string   `json:"workload"`
	Samples  []Sample `json:"samples"`
}

// Result returns the result of workload on peer, or nil.
func (r *Report) Result(peer, workload string) *Result {
	for _, x := range r.Results {
		if x.Peer == peer && x.Workload == workload {
			return x
		}
	}
	return nil
}

func (r *Report) add(peer, workload string, s Sample) {
	x := r.Result(peer, workload)
	if x == nil {
		x = &Result{Peer: peer, Workload: workload}
		r.Results = append(r.Results, x)
	}
	x.Samples = append(x.Samples, s)
}

func (r *Report) fail(peer, workload, msg string) {
	for _, f := range r.Failures {
		if f.Peer == peer && f.Workload == workload {
			return
		}
	}
	r.Failures = append(r.Failures, Failure{peer, workload, msg})
}

// Failed returns the failure of workload on peer, or nil.
func (r *Report) Failed(peer, workload string) *Failure {
	for i := range r.Failures {
		if f := &r.Failures[i]; f.Peer == peer && f.Workload == workload {
			return f
		}
	}
	return nil
}

func (r *Report) addPeer(name, about string) {
	for _, p := range r.Peers {
		if p.Name == name {
			return
		}
	}
	r.Peers = append(r.Peers, PeerInfo{name, about})
}

// Run measures the workloads on every selected peer: offheap and Go's heap
// in this process (which must be pure Go, so offheap runs on the real
// program break), each C allocator in a child binary built from
// bench/cpeer with its build tag. Each repetition runs this process's
// peers, then each child once, so the peers' samples interleave; a C
// allocator that is not installed, or whose child fails to build or run,
// is skipped with the reason in Report.Skipped.
func Run(opts Options) (*Report, error) {
	if opts.Count <= 0 {
		opts.Count = 5
	}
	if opts.BenchTime <= 0 {
		opts.BenchTime = 100 * time.Millisecond
	}
	re, err := regexp.Compile(opts.Run)
	if err != nil {
		return nil, fmt.Errorf("bench: -run: %w", err)
	}
	if opts.Peers != "" {
		for _, n := range strings.Split(opts.Peers, ",") {
			if n = strings.TrimSpace(n); !nameIn(n, strings.Join(PeerNames(), ",")) {
				return nil, fmt.Errorf("bench: unknown peer %q (known: %s)", n, strings.Join(PeerNames(), ", "))
			}
		}
	}
	ws := selectWorkloads(re)
	if len(ws) == 0 {
		return nil, fmt.Errorf("bench: no workload matches %q", opts.Run)
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	rep := &Report{
		Date:       time.Now(),
		Machine:    machine(),
		GoVersion:  runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GOGC:       os.Getenv("GOGC"),
		Count:      opts.Count,
		BenchTime:  opts.BenchTime.String(),
		LoadBefore: loadAverage(),
	}
	defer func() { rep.LoadAfter = loadAverage() }()
	if rep.GOGC == "" {
		rep.GOGC = "100 (default)"
	}
	for _, w := range ws {
		rep.Workloads = append(rep.Workloads, WorkInfo{w.Name, w.Threads(rep.GOMAXPROCS), w.Doc})
	}

	local := selectPeers([]Peer{OffheapPeer(), GoHeapPeer()}, opts.Peers)
	for _, p := range local {
		rep.addPeer(p.Name, p.About)
	}
	if len(local) > 0 {
		rep.OffheapBreak = brk.Default().Kind().String()
		if brk.Default().Kind() != brk.Real {
			fmt.Fprintf(progress, "warning: this binary links C code: offheap runs on a reserved stand-in for the program break, not on brk\n")
		}
	}

	children, cleanup := buildChildren(rep, opts.Peers, progress)
	defer cleanup()

	for i := 0; i < opts.Count; i++ {
		fmt.Fprintf(progress, "repetition %d/%d\n", i+1, opts.Count)
		measureAll(local, ws, 1, opts.BenchTime, progress, func(p Peer, w *Workload, s Sample, err error) {
			if err != nil {
				rep.fail(p.Name, w.Name, err.Error())
				return
			}
			rep.add(p.Name, w.Name, s)
		})
		for _, c := range children {
			if c.failed {
				continue
			}
			start := time.Now()
			if err := c.run(rep, opts); err != nil {
				c.failed = true
				rep.Skipped = append(rep.Skipped, SkipReason{c.lib.Name, err.Error()})
				fmt.Fprintf(progress, "  %s: skipped: %v\n", c.lib.Name, err)
				continue
			}
			fmt.Fprintf(progress, "  %s (child): %d workloads in %.1fs\n", c.lib.Name, len(ws), time.Since(start).Seconds())
		}
	}
	return rep, nil
}

// child is a built peer binary.
type child struct {
	lib    CLib
	path   string
	failed bool
}

// buildChildren builds the child binary of every C library one of whose
// peers is selected, noting in rep the libraries it cannot use.
func buildChildren(rep *Report, only string, progress io.Writer) ([]*child, func()) {
	var want []CLib
	for _, l := range CLibs {
		if only == "" || nameIn(l.Name+"-cgo", only) || nameIn(l.Name+"-native", only) {
			want = append(want, l)
		}
	}
	if len(want) == 0 {
		return nil, func() {}
	}
	dir, err := os.MkdirTemp("", "offheap-bench-")
	if err != nil {
		for _, l := range want {
			rep.Skipped = append(rep.Skipped, SkipReason{l.Name, err.Error()})
		}
		return nil, func() {}
	}
	cleanup := func() { os.RemoveAll(dir) }
	var out []*child
	for _, l := range want {
		if l.SO != "" && findLib(l.SO) == "" {
			reason := fmt.Sprintf("%s not found in %s; install it with `apt-get install %s`",
				l.SO, strings.Join(libDirs(), ", "), l.Deb)
			rep.Skipped = append(rep.Skipped, SkipReason{l.Name, reason})
			fmt.Fprintf(progress, "%s: skipped: %s\n", l.Name, reason)
			continue
		}
		fmt.Fprintf(progress, "building the %s peer binary\n", l.Name)
		path := filepath.Join(dir, "cpeer-"+l.Name)
		if err := buildChild(l, path); err != nil {
			rep.Skipped = append(rep.Skipped, SkipReason{l.Name, err.Error()})
			fmt.Fprintf(progress, "%s: skipped: %v\n", l.Name, err)
			continue
		}
		out = append(out, &child{lib: l, path: path})
	}
	return out, cleanup
}

const childPkg = "github.com/offheap/offheap/bench/cpeer/cmd/cpeer"

// buildChild builds bench/cpeer/cmd/cpeer with l's tag into path. It builds
// from this package's source directory when the binary knows it (go run,
// go test), else from the current directory, which must be in the module.
func buildChild(l CLib, path string) error {
	args := []string{"build", "-o", path}
	if l.Tag != "" {
		args = append(args, "-tags", l.Tag)
	}
	args = append(args, childPkg)
	cmd := exec.Command(goTool(), args...)
	if d := sourceDir(); d != "" {
		cmd.Dir = d
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	return nil
}

// sourceDir returns the directory of this package's source, or "".
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	d := filepath.Dir(file)
	if !fileExists(filepath.Join(d, "cpeer")) {
		return ""
	}
	return d
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// run runs the child once (one sample of each workload) and adds what it
// measured to rep.
func (c *child) run(rep *Report, opts Options) error {
	args := []string{"-benchtime", opts.BenchTime.String(), "-count", "1", "-run", opts.Run}
	if opts.Peers != "" {
		args = append(args, "-peers", opts.Peers)
	}
	cmd := exec.Command(c.path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var childErr error
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var l childLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			childErr = fmt.Errorf("bad output line %q: %v", sc.Text(), err)
			continue
		}
		switch {
		case l.Error != "" && l.Workload != "":
			rep.fail(l.Peer, l.Workload, l.Error)
		case l.Error != "":
			childErr = errors.New(l.Error)
		case !strings.HasPrefix(l.Peer, c.lib.Name+"-"):
			childErr = fmt.Errorf("the %s binary measures peer %q: its build tag did not take effect", c.lib.Name, l.Peer)
		case l.Sample != nil:
			rep.add(l.Peer, l.Workload, *l.Sample)
		default:
			rep.addPeer(l.Peer, l.About)
		}
	}
	err = cmd.Wait()
	if childErr != nil {
		return childErr
	}
	if err != nil {
		return fmt.Errorf("%v: %s", err, lastLines(stderr.String(), 5))
	}
	return nil
}

// machine describes the CPU: model name and count.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s/%s", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}

// loadAverage returns the 1-minute load average, or "".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}
