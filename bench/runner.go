package bench

import (
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
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options choose what Run measures.
type Options struct {
	Count     int           // repetitions; the table shows medians (default 5)
	BenchTime time.Duration // time of each sample (default 100ms)
	// Run is a regexp over workload names; "" runs the default set.
	Run string
	// Peers lists the peer names to run, comma-separated (default: all;
	// see PeerNames). A child binary is built only when one of its peers
	// is asked for.
	Peers    string
	Progress io.Writer // progress lines, or nil
	// ChildTimeout bounds one run of a child; 0 means a minute plus 20
	// sample times and 5 s per measurement (and three request loops and
	// two minutes more for a GC-pressure workload, three minutes more for
	// a churn).
	ChildTimeout time.Duration
	// Threads is the thread count of the multi-threaded workloads (0:
	// GOMAXPROCS).
	Threads int
	// GCTime is the request loop of the GC-pressure workloads (default
	// 5s); GCEntries and GCValues their cache sizes in millions ("10",
	// "1,10,20") and value sizes ("64-256"), see ParseGCConfig.
	GCTime    time.Duration
	GCEntries string
	GCValues  string
	// Syscalls adds a pass that counts every peer's memory system calls
	// under ptrace (see trace_linux.go), one more sample per workload and
	// peer, whose timings are not used.
	Syscalls bool
	// Live redraws one progress line in place (for a terminal) instead of
	// writing a line per workload.
	Live bool
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

// ModerncPeer is the peer of modernc.org/memory, measured by the child
// binary of the module in bench/modernc (see ModerncDir).
const ModerncPeer = "modernc-memory"

// PeerNames lists every peer Main knows, in table order: the peers a Go
// program calls from Go, then each C allocator through cgo and natively.
func PeerNames() []string {
	names := []string{"offheap", "go-heap", ModerncPeer, "fileheap"}
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
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
	Command    string `json:"command,omitempty"`
	Count      int    `json:"count"`
	BenchTime  string `json:"benchtime"`
	GCTime     string `json:"gctime,omitempty"`
	Threads    int    `json:"threads"`
	// Seconds is how long the run took, building the children included.
	Seconds float64 `json:"seconds"`
	// SyscallNote says how the system calls were counted, or why not.
	SyscallNote string       `json:"syscall_note,omitempty"`
	Workloads   []WorkInfo   `json:"workloads"`
	Peers       []PeerInfo   `json:"peers"`
	Skipped     []SkipReason `json:"skipped,omitempty"`
	Results     []*Result    `json:"results"`
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
	Source  string `json:"source,omitempty"`
	Kind    string `json:"kind,omitempty"` // "gc-cache" for the GC-pressure workloads
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
	// Traced is the sample of the system-call pass, whose TracedSyscalls
	// counts the memory system calls of its timed run (its time is not
	// used: ptrace slows the calls it stops).
	Traced *Sample `json:"traced,omitempty"`
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

// Run measures the workloads on every selected peer, each measurement in
// a child process of its own: offheap and Go's heap in a pure Go binary
// built from bench/cmd/gopeer (so offheap runs on the real program break),
// modernc.org/memory in one built from the module bench/modernc, each C
// allocator in a binary built from bench/cpeer/cmd/cpeer with its build
// tag. A fresh process per measurement keeps one workload's heap
// from inflating the next one's memory figures; each repetition measures
// every workload on every peer in turn, so the peers' samples interleave.
// A child that dies (a fault in the allocator, say) or hangs loses only
// that workload on that peer, which Report.Failures records and no later
// repetition runs again; a C allocator that is not installed, or whose
// child fails to build or start, is skipped with the reason in
// Report.Skipped (so is modernc-memory when its module cannot be built).
// With Options.Syscalls a last pass counts the system calls.
func Run(opts Options) (*Report, error) {
	began := time.Now()
	if opts.Count <= 0 {
		opts.Count = 5
	}
	if opts.BenchTime <= 0 {
		opts.BenchTime = 100 * time.Millisecond
	}
	if opts.GCTime <= 0 {
		opts.GCTime = 5 * time.Second
	}
	if opts.GCEntries == "" {
		opts.GCEntries = "10"
	}
	if opts.GCValues == "" {
		opts.GCValues = "64-256"
	}
	if err := ParseGCConfig(opts.GCEntries, opts.GCValues); err != nil {
		return nil, err
	}
	var re *regexp.Regexp
	if opts.Run != "" {
		var err error
		if re, err = regexp.Compile(opts.Run); err != nil {
			return nil, fmt.Errorf("bench: -run: %w", err)
		}
	}
	if opts.Peers != "" {
		for _, n := range strings.Split(opts.Peers, ",") {
			if n = strings.TrimSpace(n); !nameIn(n, strings.Join(PeerNames(), ",")) {
				return nil, fmt.Errorf("bench: unknown peer %q (known: %s)", n, strings.Join(PeerNames(), ", "))
			}
		}
	}
	ws := selectWorkloads(WorkloadsFor(opts.Threads), re)
	if len(ws) == 0 {
		return nil, fmt.Errorf("bench: no workload matches %q", opts.Run)
	}
	var gcs []*GCSpec
	for _, w := range ws {
		if w.GC != nil && (opts.Peers == "" || nameIn("go-heap", opts.Peers) || nameIn("offheap", opts.Peers) || nameIn(ModerncPeer, opts.Peers)) {
			gcs = append(gcs, w.GC)
		}
	}
	if err := checkMemory(gcs, memAvailable()); err != nil {
		return nil, err
	}
	out := opts.Progress
	if out == nil {
		out = io.Discard
	}
	rep := &Report{
		Date:       time.Now(),
		Machine:    machine(),
		GoVersion:  runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GOGC:       os.Getenv("GOGC"),
		Count:      opts.Count,
		BenchTime:  opts.BenchTime.String(),
		Threads:    opts.Threads,
		LoadBefore: loadAverage(),
	}
	if rep.Threads == 0 {
		rep.Threads = rep.GOMAXPROCS
	}
	defer func() { rep.LoadAfter = loadAverage(); rep.Seconds = time.Since(began).Seconds() }()
	if rep.GOGC == "" {
		rep.GOGC = "100 (default)"
	}
	for _, w := range ws {
		wi := WorkInfo{Name: w.Name, Threads: w.Threads(rep.GOMAXPROCS), Doc: w.Doc, Source: w.Source}
		if w.Kind == GCCache {
			wi.Kind = "gc-cache"
			rep.GCTime = opts.GCTime.String()
		}
		rep.Workloads = append(rep.Workloads, wi)
	}

	children, cleanup := buildChildren(rep, opts.Peers, out)
	defer cleanup()
	type task struct {
		c      *child
		peer   string
		w      *Workload
		rep    int
		traced bool
	}
	var plan []task
	selected := func(c *child, p string, w *Workload) bool {
		return (opts.Peers == "" || nameIn(p, opts.Peers)) && w.RunsOn(p)
	}
	for i := 0; i < opts.Count; i++ {
		for _, w := range ws {
			if w.Reps > 0 && i >= w.Reps {
				continue
			}
			for _, c := range children {
				for _, p := range c.peers {
					if selected(c, p, w) {
						plan = append(plan, task{c, p, w, i, false})
					}
				}
			}
		}
	}
	if opts.Syscalls {
		if err := traceSupported(); err != nil {
			rep.SyscallNote = "system calls counted for offheap only (its own counters): " + err.Error()
		} else {
			rep.SyscallNote = "system calls of every thread counted under ptrace (seccomp-filtered: brk, mmap, munmap, mremap, madvise, mprotect) in one more run of each workload and peer"
			for _, w := range ws {
				if w.Kind == GCCache || w.NoTrace {
					continue
				}
				for _, c := range children {
					for _, p := range c.peers {
						if selected(c, p, w) {
							plan = append(plan, task{c, p, w, opts.Count, true})
						}
					}
				}
			}
		}
	} else {
		rep.SyscallNote = "system calls counted for offheap only (its own counters)"
	}
	prog := newProgress(out, len(plan), opts.Live)
	defer prog.finish()
	for _, t := range plan {
		what := fmt.Sprintf("repetition %d/%d", t.rep+1, opts.Count)
		if t.traced {
			what = "system calls"
		}
		prog.start(t.w.Name, t.peer, what)
		if t.c.failed || rep.Failed(t.peer, t.w.Name) != nil {
			continue
		}
		j := job{t.peer, t.w.Name}
		var env []string
		if t.w.Env != nil {
			env = t.w.Env[t.c.name]
		}
		err := t.c.runJobs(rep, []job{j}, opts, env, t.traced, prog)
		if err != nil {
			if t.traced {
				prog.log("  %s %s: the system-call pass failed: %v", t.peer, t.w.Name, err)
				continue
			}
			t.c.failed = true
			rep.Skipped = append(rep.Skipped, SkipReason{t.c.name, err.Error()})
			prog.log("  %s: skipped: %v", t.c.name, err)
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

// The children that are not C allocators: goChild measures offheap, Go's
// heap and fileheap, moderncChild modernc.org/memory.
const (
	goChild      = "go"
	moderncChild = ModerncPeer
)

// buildChildren builds the child binary of every family of peers one of
// whose peers is selected, noting in rep the C libraries it cannot use.
func buildChildren(rep *Report, only string, progress io.Writer) ([]*child, func()) {
	type spec struct {
		child
		lib CLib
	}
	var want []spec
	if only == "" || nameIn("offheap", only) || nameIn("go-heap", only) || nameIn("fileheap", only) {
		want = append(want, spec{child: child{name: goChild, peers: []string{"offheap", "go-heap", "fileheap"}}})
	}
	if only == "" || nameIn(ModerncPeer, only) {
		want = append(want, spec{child: child{name: moderncChild, peers: []string{ModerncPeer}}})
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
		switch s.name {
		case goChild:
			err = buildChild(goChildPkg, "", false, c.path)
		case moderncChild:
			err = buildModernc(c.path)
		default:
			err = buildChild(cChildPkg, s.lib.Tag, true, c.path)
		}
		if err != nil {
			rep.Skipped = append(rep.Skipped, SkipReason{s.name, err.Error()})
			fmt.Fprintf(progress, "%s: skipped: %v\n", s.name, err)
			continue
		}
		if s.name != goChild && s.name != moderncChild {
			// The native peer's first call is a C program's.
			first := filepath.Join(dir, "first-"+s.name)
			if err := BuildFirstProgram(s.lib, first); err != nil {
				fmt.Fprintf(progress, "%s: the first-malloc program: %v\n", s.name, err)
			} else {
				c.env = append(c.env, FirstMallocEnv+"="+first)
			}
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

// ModerncDir returns the directory of the module that measures
// modernc.org/memory (bench/modernc), or an error when this binary does not
// know where the source is.
func ModerncDir() (string, error) {
	d := sourceDir()
	if d == "" {
		return "", fmt.Errorf("the %s peer is built from the module in bench/modernc, and this binary does not know where the source is: run it with go run from the module", ModerncPeer)
	}
	return filepath.Join(d, "modernc"), nil
}

// buildModernc builds the modernc-memory child into path: the main package
// of bench/modernc, a module of its own (it requires modernc.org/memory,
// which the library's module does not), built without cgo with the go
// command in its directory. The go command takes modernc.org/memory from
// the module cache, or downloads it; when it can do neither, the error
// says so and Run skips the peer.
func buildModernc(path string) error {
	dir, err := ModerncDir()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", path, "."}
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s in bench/modernc (a module of its own, requiring modernc.org/memory v1.13.0 from the module cache or proxy): %v: %s",
			strings.Join(args, " "), err, lastLines(stderr.String(), 5))
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

// runJobs runs the child on the jobs, with env added to its environment,
// and adds what it measured to rep (for a traced run, as Result.Traced). A
// job during which the child dies or hangs becomes a Failure, and the
// child is started again on the jobs left. It returns an error when the
// child cannot measure at all.
func (c *child) runJobs(rep *Report, jobs []job, opts Options, env []string, traced bool, prog *progress) error {
	for len(jobs) > 0 {
		done, current, err := c.runOnce(rep, jobs, opts, env, traced)
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
		if current != nil && prog != nil {
			prog.log("  %s %s: FAILED: %s", current.peer, current.workload, rep.Failed(current.peer, current.workload).Error)
		}
	}
	return nil
}

// childTimeout bounds one run of a child on jobs: generous, since the
// calibration runs add to each sample, but a hung workload ends.
func childTimeout(opts Options, jobs []job) time.Duration {
	if opts.ChildTimeout > 0 {
		return opts.ChildTimeout
	}
	d := time.Minute + time.Duration(len(jobs))*(20*opts.BenchTime+5*time.Second)
	for _, j := range jobs {
		switch {
		case strings.HasPrefix(j.workload, "gc-cache/"):
			d += 3*opts.GCTime + 2*time.Minute
		case strings.HasPrefix(j.workload, "churn/"):
			d += 3 * time.Minute
		}
	}
	return d
}

// childArgs are the flags of a child run on jobs.
func childArgs(opts Options, jobs []job, traced bool) []string {
	list := make([]string, len(jobs))
	for i, j := range jobs {
		list[i] = j.String()
	}
	bt := opts.BenchTime
	if traced {
		bt = min(bt, 30*time.Millisecond)
	}
	gcEntries, gcValues := opts.GCEntries, opts.GCValues
	if gcEntries == "" {
		gcEntries = "10"
	}
	if gcValues == "" {
		gcValues = "64-256"
	}
	gcTime := opts.GCTime
	if gcTime <= 0 {
		gcTime = 5 * time.Second
	}
	return []string{"-benchtime", bt.String(), "-gctime", gcTime.String(), "-threads", strconv.Itoa(opts.Threads),
		"-gc-entries", gcEntries, "-gc-values", gcValues, "-jobs", strings.Join(list, ",")}
}

// runOnce runs the child once on jobs (under the system-call tracer when
// traced). It returns the jobs it finished, and the job it died or hung in
// (recorded as a Failure), if any.
func (c *child) runOnce(rep *Report, jobs []job, opts Options, env []string, traced bool) (done map[job]bool, died *job, err error) {
	timeout := childTimeout(opts, jobs)
	args := childArgs(opts, jobs, traced)
	fullEnv := append(append(os.Environ(), c.env...), env...)
	done = map[job]bool{}
	var current *job
	var childErr error
	var samples []*Sample // the traced run's samples, in order
	handle := func(line []byte) {
		var l childLine
		if err := json.Unmarshal(line, &l); err != nil {
			childErr = fmt.Errorf("bad output line %q: %v", line, err)
			return
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
			if !traced {
				rep.fail(j.peer, j.workload, l.Error)
			}
			done[j], current = true, nil
		case l.Sample != nil:
			if traced {
				s := *l.Sample
				samples = append(samples, &s)
				if x := rep.Result(j.peer, j.workload); x != nil {
					x.Traced = &s
				} else {
					rep.Results = append(rep.Results, &Result{Peer: j.peer, Workload: j.workload, Traced: &s})
				}
			} else {
				rep.add(j.peer, j.workload, *l.Sample)
			}
			done[j], current = true, nil
		default:
			if slices.ContainsFunc(jobs, func(j job) bool { return j.peer == l.Peer }) {
				rep.addPeer(l.Peer, l.About)
			}
		}
	}

	var stderr bytes.Buffer
	var waitErr error
	killed := false
	if traced {
		var counts []int64
		var ws syscall.WaitStatus
		counts, ws, waitErr = traceChild(c.path, args, fullEnv, timeout, func(r io.Reader) { readLines(r, handle) }, &stderr)
		if waitErr == nil {
			for i, s := range samples {
				if i < len(counts) {
					s.TracedSyscalls = counts[i]
				}
			}
			switch {
			case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
				killed, waitErr = true, errors.New("killed")
			case ws.Signaled() || ws.ExitStatus() != 0:
				waitErr = fmt.Errorf("exit status %v", ws)
			}
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, c.path, args...)
		cmd.Env = fullEnv
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, err
		}
		readLines(stdout, handle)
		waitErr = cmd.Wait()
		killed = ctx.Err() != nil
	}
	if childErr != nil {
		return done, nil, childErr
	}
	if waitErr == nil {
		return done, nil, nil
	}
	if current == nil {
		return done, nil, fmt.Errorf("%v: %s", waitErr, lastLines(stderr.String(), 5))
	}
	why := "the child died: " + crashReport(stderr.String())
	if killed {
		why = fmt.Sprintf("the child was killed after %v: hung?", timeout)
	}
	if !traced {
		rep.fail(current.peer, current.workload, fmt.Sprintf("%s %s: %s", current.peer, current.workload, why))
	}
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
