package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// Targets lists the targets Run knows, in the order it runs them.
var Targets = []string{"offheap", "go", "glibc"}

// Options says how Run replays.
type Options struct {
	// Offheap, if not "", is the OFFHEAP value of the offheap replay;
	// otherwise the child inherits this process's environment.
	Offheap string
	// CleanEnv removes OFFHEAP, GLIBC_TUNABLES and MALLOC_* from the
	// children's environment (then Offheap alone sets offheap's
	// parameters, and glibc runs with its defaults).
	CleanEnv bool
	// Procs is GOMAXPROCS in the offheap child (default 1: the replay
	// runs on one goroutine, and one P makes offheap's per-P caches, hence
	// its figures, the same from run to run).
	Procs int
	// Partial accepts a binary trace without its end block.
	Partial bool
	// NoTouch leaves the blocks' pages untouched.
	NoTouch bool
	// Syscalls runs the go and glibc replays a second time under ptrace
	// to count their memory system calls.
	Syscalls bool
	// Exe is the binary whose MaybeChild runs the offheap and go replays
	// (default: this executable).
	Exe string
	// Log receives notes (a target skipped and why); nil discards them.
	Log io.Writer
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, args...)
	}
}

// ErrUnavailable is wrapped by errors about a target that cannot run here
// (no go command or no C compiler for glibc).
var ErrUnavailable = errors.New("target unavailable")

// Run replays the trace in path against each target (Targets if none)
// and returns one Result per target that could run; a target that cannot
// run here is skipped with a note in o.Log.
func Run(path string, targets []string, o Options) ([]Result, error) {
	if len(targets) == 0 {
		targets = Targets
	}
	var out []Result
	for _, t := range targets {
		r, err := RunTarget(path, t, o)
		if errors.Is(err, ErrUnavailable) {
			o.logf("replay: skipping %s: %v\n", t, err)
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// RunTarget replays the trace in path against one target in a child
// process.
func RunTarget(path, target string, o Options) (*Result, error) {
	exe, err := o.exeFor(target)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "offheap-replay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	spec := ChildSpec{Target: target, Trace: abs, Partial: o.Partial, NoTouch: o.NoTouch, Out: filepath.Join(dir, "result.json")}
	env := o.childEnv(target)

	res, err := runSpec(exe, spec, env)
	if err != nil {
		return nil, err
	}
	if o.Syscalls && res.Syscalls < 0 {
		spec.Markers = true
		spec.Out = filepath.Join(dir, "traced.json")
		specJSON, _ := json.Marshal(spec)
		counts, ws, err := countSyscalls(exe, []string{exe}, append(env, childEnv+"="+string(specJSON)))
		switch {
		case err != nil:
			res.Note = join(res.Note, "system calls not counted: "+err.Error())
		case !ws.Exited() || ws.ExitStatus() != 0:
			res.Note = join(res.Note, fmt.Sprintf("system calls not counted: the traced child ended with %v", ws))
		default:
			res.SyscallsBy = counts
			res.Syscalls = 0
			for _, n := range counts {
				res.Syscalls += n
			}
		}
	}
	return res, nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// runSpec runs one child and reads its Result.
func runSpec(exe string, spec ChildSpec, env []string) (*Result, error) {
	specJSON, _ := json.Marshal(spec)
	cmd := exec.Command(exe)
	cmd.Env = append(env, childEnv+"="+string(specJSON))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("replay %s: %v\n%s", spec.Target, err, strings.TrimSpace(stderr.String()))
	}
	data, err := os.ReadFile(spec.Out)
	if err != nil {
		return nil, fmt.Errorf("replay %s: no result: %v\n%s", spec.Target, err, stderr.String())
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("replay %s: bad result: %v", spec.Target, err)
	}
	return &r, nil
}

// childEnv returns the environment of a child replaying target.
func (o *Options) childEnv(target string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == childEnv, k == "GOMAXPROCS" && target == "offheap", k == "OFFHEAP" && (o.Offheap != "" || o.CleanEnv),
			o.CleanEnv && (k == "GLIBC_TUNABLES" || strings.HasPrefix(k, "MALLOC_")):
			continue
		}
		env = append(env, kv)
	}
	if target == "offheap" {
		procs := o.Procs
		if procs <= 0 {
			procs = 1
		}
		env = append(env, "GOMAXPROCS="+strconv.Itoa(procs))
		if o.Offheap != "" {
			env = append(env, "OFFHEAP="+o.Offheap)
		}
	}
	return env
}

func (o *Options) exeFor(target string) (string, error) {
	switch target {
	case "offheap", "go":
		if o.Exe != "" {
			return o.Exe, nil
		}
		return os.Executable()
	case "glibc":
		return creplayBinary()
	}
	return "", fmt.Errorf("unknown target %q (want one of %s)", target, strings.Join(Targets, ", "))
}

// The glibc replayer is built once per process.
var (
	creplayOnce sync.Once
	creplayPath string
	creplayErr  error
)

const creplayPkg = "github.com/offheap/offheap/internal/creplay/cmd/creplay"

// creplayBinary builds internal/creplay/cmd/creplay with the go command
// (cgo on), once per process, into a fixed directory under the system's
// temporary directory (the go command relinks only what changed).
func creplayBinary() (string, error) {
	creplayOnce.Do(func() {
		goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goCmd); err != nil {
			if goCmd, err = exec.LookPath("go"); err != nil {
				creplayErr = fmt.Errorf("%w: no go command to build the glibc replayer", ErrUnavailable)
				return
			}
		}
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("offheap-creplay-%d", os.Getuid()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			creplayErr = err
			return
		}
		path := filepath.Join(dir, "creplay")
		cmd := exec.Command(goCmd, "build", "-o", path, creplayPkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		// Build from the module this file was compiled in when it is still
		// there (a binary run from another directory), else from here.
		if _, file, _, ok := runtime.Caller(0); ok {
			root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				cmd.Dir = root
			}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			creplayErr = fmt.Errorf("%w: building the glibc replayer (%s, from within the offheap module): %v\n%s", ErrUnavailable, creplayPkg, err, out)
			return
		}
		creplayPath = path
	})
	return creplayPath, creplayErr
}
