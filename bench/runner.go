package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Options choose what Run measures.
type Options struct {
	Count     int           // repetitions; the table shows medians (default 5)
	BenchTime time.Duration // time of each sample (default 100ms)
	Run       string        // regexp over workload names (default: all)
	// Peers lists the peer names to run, comma-separated (default: all;
	// see PeerNames). A child binary is built only when one of its peers
	// is asked for.
	Peers    string
	Progress io.Writer // progress lines, or nil
	// ChildTimeout bounds one run of a child; 0 means a minute plus 20
	// sample times and 5 s per measurement.
	ChildTimeout time.Duration
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

// Run measures the workloads on every selected peer, each family of peers
// in a child process of its own: offheap and Go's heap in a pure Go binary
// built from bench/cmd/gopeer (so offheap runs on the real program break),
// each C allocator in a binary built from bench/cpeer/cmd/cpeer with its
// build tag. Each repetition runs every child once, so the peers' samples
// interleave. A child that dies (a fault in the allocator, say) or hangs
// loses only the workload it was running, which Report.Failures records
// and no later repetition runs again; a C allocator that is not installed,
// or whose child fails to build or start, is skipped with the reason in
// Report.Skipped.
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

	children, cleanup := buildChildren(rep, opts.Peers, progress)
	defer cleanup()
	for i := 0; i < opts.Count; i++ {
		fmt.Fprintf(progress, "repetition %d/%d\n", i+1, opts.Count)
		for _, c := range children {
			if c.failed {
				continue
			}
			var jobs []job
			for _, p := range c.peers {
				if opts.Peers != "" && !nameIn(p, opts.Peers) {
					continue
				}
				for _, w := range ws {
					if rep.Failed(p, w.Name) == nil {
						jobs = append(jobs, job{p, w.Name})
					}
				}
			}
			start := time.Now()
			if err := c.runJobs(rep, jobs, opts, progress); err != nil {
				c.failed = true
				rep.Skipped = append(rep.Skipped, SkipReason{c.name, err.Error()})
				fmt.Fprintf(progress, "  %s: skipped: %v\n", c.name, err)
				continue
			}
			fmt.Fprintf(progress, "  %s: %d measurements in %.1fs\n", strings.Join(c.peers, ", "), len(jobs), time.Since(start).Seconds())
		}
	}
	return rep, nil
}

// child is a peer binary that Run builds and runs.
type child struct {
	name   string   // "go", or the C library's name
	peers  []string // the peers it measures
	path   string   // the binary
	env    []string // added to its environment
	failed bool
}

// goChild names the child of offheap and Go's heap.
const goChild = "go"

// buildChildren builds the child binary of every family of peers one of
// whose peers is selected, noting in rep the C libraries it cannot use.
func buildChildren(rep *Report, only string, progress io.Writer) ([]*child, func()) {
	type spec struct {
		child
		lib CLib
	}
	var want []spec
	if only == "" || nameIn("offheap", only) || nameIn("go-heap", only) {
		want = append(want, spec{child: child{name: goChild, peers: []string{"offheap", "go-heap"}}})
	}
	for _, l := range CLibs {
		peers := []string{l.Name + "-cgo", l.Name + "-native"}
		if only == "" || nameIn(peers[0], only) || nameIn(peers[1], only) {
			want = append(want, spec{child: child{name: l.Name, peers: peers}, lib: l})
		}
	}
	dir, err := os.MkdirTemp("", "offheap-bench-")
	if err != nil {
		for _, s := range want {
			rep.Skipped = append(rep.Skipped, SkipReason{s.name, err.Error()})
		}
		return nil, func() {}
	}
	cleanup := func() { os.RemoveAll(dir) }
	var out []*child
	for _, s := range want {
		if s.lib.SO != "" && findLib(s.lib.SO) == "" {
			reason := fmt.Sprintf("%s not found in %s; install it with `apt-get install %s`",
				s.lib.SO, strings.Join(libDirs(), ", "), s.lib.Deb)
			rep.Skipped = append(rep.Skipped, SkipReason{s.name, reason})
			fmt.Fprintf(progress, "%s: skipped: %s\n", s.name, reason)
			continue
		}
		fmt.Fprintf(progress, "building the %s peer binary\n", s.name)
		c := s.child
		c.path = filepath.Join(dir, "peer-"+s.name)
		var err error
		if s.name == goChild {
			err = buildChild(goChildPkg, "", false, c.path)
		} else {
			err = buildChild(cChildPkg, s.lib.Tag, true, c.path)
		}
		if err != nil {
			rep.Skipped = append(rep.Skipped, SkipReason{s.name, err.Error()})
			fmt.Fprintf(progress, "%s: skipped: %v\n", s.name, err)
			continue
		}
		out = append(out, &c)
	}
	return out, cleanup
}

const (
	goChildPkg = "github.com/offheap/offheap/bench/cmd/gopeer"
	cChildPkg  = "github.com/offheap/offheap/bench/cpeer/cmd/cpeer"
)

// buildChild builds package pkg with the build tag (if any) into path, with
// cgo on or off. It builds from this package's source directory when the
// binary knows it (go run, go test), else from the current directory, which
// must be in the module.
func buildChild(pkg, tag string, cgo bool, path string) error {
	args := []string{"build", "-o", path}
	if tag != "" {
		args = append(args, "-tags", tag)
	}
	args = append(args, pkg)
	cmd := exec.Command(goTool(), args...)
	if d := sourceDir(); d != "" {
		cmd.Dir = d
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if cgo {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	}
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

// crashReport picks the lines of a dead Go program's stderr that say why
// it died: the panic or fatal error and the line after it.
func crashReport(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i, l := range lines {
		for _, p := range []string{"panic:", "fatal error:", "unexpected fault address", "SIG"} {
			if strings.HasPrefix(l, p) {
				return strings.Join(lines[i:min(i+3, len(lines))], " | ")
			}
		}
	}
	return lastLines(stderr, 3)
}

// runJobs runs the child on the jobs and adds what it measured to rep. A
// job during which the child dies or hangs becomes a Failure, and the child
// is started again on the jobs left. It returns an error when the child
// cannot measure at all.
func (c *child) runJobs(rep *Report, jobs []job, opts Options, progress io.Writer) error {
	for len(jobs) > 0 {
		done, current, err := c.runOnce(rep, jobs, opts)
		if err != nil {
			return err
		}
		var left []job
		for _, j := range jobs {
			if !done[j] {
				left = append(left, j)
			}
		}
		if len(left) == len(jobs) {
			return fmt.Errorf("the child measured nothing")
		}
		jobs = left
		if current != nil && len(jobs) > 0 {
			fmt.Fprintf(progress, "  %s %s: FAILED: %s\n", current.peer, current.workload, rep.Failed(current.peer, current.workload).Error)
		}
	}
	return nil
}

// childTimeout bounds one run of a child on n jobs: generous, since the
// calibration runs add to each sample, but a hung workload ends.
func childTimeout(opts Options, n int) time.Duration {
	if opts.ChildTimeout > 0 {
		return opts.ChildTimeout
	}
	return time.Minute + time.Duration(n)*(20*opts.BenchTime+5*time.Second)
}

// runOnce runs the child once on jobs. It returns the jobs it finished,
// and the job it died or hung in (recorded as a Failure), if any.
func (c *child) runOnce(rep *Report, jobs []job, opts Options) (done map[job]bool, died *job, err error) {
	list := make([]string, len(jobs))
	for i, j := range jobs {
		list[i] = j.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout(opts, len(jobs)))
	defer cancel()
	cmd := exec.CommandContext(ctx, c.path, "-benchtime", opts.BenchTime.String(), "-jobs", strings.Join(list, ","))
	cmd.Env = append(os.Environ(), c.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	done = map[job]bool{}
	var current *job
	var childErr error
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l childLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			childErr = fmt.Errorf("bad output line %q: %v", sc.Text(), err)
			continue
		}
		j := job{l.Peer, l.Workload}
		switch {
		case l.Workload == "" && l.Error != "":
			childErr = errors.New(l.Error)
		case !slices.Contains(c.peers, l.Peer):
			childErr = fmt.Errorf("the %s binary measures peer %q, not one of %v: its build tag did not take effect", c.name, l.Peer, c.peers)
		case l.Start:
			current = &j
		case l.Error != "":
			rep.fail(j.peer, j.workload, l.Error)
			done[j], current = true, nil
		case l.Sample != nil:
			rep.add(j.peer, j.workload, *l.Sample)
			done[j], current = true, nil
		default:
			if slices.ContainsFunc(jobs, func(j job) bool { return j.peer == l.Peer }) {
				rep.addPeer(l.Peer, l.About)
			}
		}
	}
	err = cmd.Wait()
	if childErr != nil {
		return done, nil, childErr
	}
	if err == nil {
		return done, nil, nil
	}
	if current == nil {
		return done, nil, fmt.Errorf("%v: %s", err, lastLines(stderr.String(), 5))
	}
	why := "the child died: " + crashReport(stderr.String())
	if ctx.Err() != nil {
		why = fmt.Sprintf("the child was killed after %v: hung?", childTimeout(opts, len(jobs)))
	}
	rep.fail(current.peer, current.workload, fmt.Sprintf("%s %s: %s", current.peer, current.workload, why))
	done[*current] = true
	return done, current, nil
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
