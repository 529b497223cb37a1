package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"unsafe"

	"github.com/offheap/offheap/alloc"
)

func init() {
	register("compare", "run one workload under several OFFHEAP settings, each in a fresh process, and compare the costs", runCompare)
	register("measure-child", "(internal) run a workload and print what it cost as JSON", runMeasureChild)
}

// defaultSettings show the dynamic threshold against a pinned one, and
// decay and transparent huge pages against glibc's policy.
var defaultSettings = []string{"", "mmap_threshold=128k", "mmap_threshold=4m,trim_threshold=8m", "decay=1s", "hugetlb=1", "decay=1s,hugetlb=1"}

func runCompare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	workload := fs.String("workload", "large", "workload: large (200 KiB-2 MiB blocks allocated and freed) or mixed (small and large, some kept)")
	ops := fs.Int("n", 2000, "operations")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: offheap compare [-workload large|mixed] [-n ops] [SETTING ...]\n\n"+
			"Each SETTING is an OFFHEAP value (\"\" for the defaults), e.g. mmap_threshold=1m,top_pad=4m.\n"+
			"Without settings: the default (dynamic threshold), a threshold pinned at 128 KiB,\n"+
			"one at 4 MiB, decay=1s, hugetlb=1 and both. Each runs in a fresh process, as settings\n"+
			"are process-wide. The first setting is the baseline: compare recommends the setting\n"+
			"that saves a tenth of the system calls plus page faults against it, the fastest of them.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	settings := fs.Args()
	if len(settings) == 0 {
		settings = defaultSettings
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("workload %q, %d operations, each setting in a fresh process\n\n", *workload, *ops)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OFFHEAP\ttime\tmmap\tmunmap\tbrk\tmadvise\tmprotect\tminor faults\tpeak RSS\t")
	var results []comparison
	for _, s := range settings {
		cmd := exec.Command(self, "measure-child", "-workload", *workload, "-n", fmt.Sprint(*ops))
		cmd.Env = append(withoutMallocEnv(os.Environ()), "OFFHEAP="+s)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("setting %q: %w", s, err)
		}
		var u alloc.Usage
		if err := json.Unmarshal(out, &u); err != nil {
			return fmt.Errorf("setting %q: reading the child's figures: %w", s, err)
		}
		name := s
		if name == "" {
			name = "(defaults)"
		}
		peak := fmt.Sprintf("%.1f MiB", float64(u.PeakRSS)/(1<<20))
		if !u.PeakRSSExact {
			peak += "*"
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", name, u.Elapsed.Round(100_000),
			u.Syscalls.Mmap.Calls, u.Syscalls.Munmap.Calls, u.Syscalls.Brk.Calls,
			u.Syscalls.Madvise.Calls, u.Syscalls.Mprotect.Calls, u.MinorFaults, peak)
		results = append(results, comparison{name, u})
	}
	tw.Flush()
	fmt.Println("\nsystem calls are offheap's own (counted by brk and mmapper); faults and RSS are the whole process's.")
	fmt.Println(recommend(results))
	return nil
}

// comparison is one setting's figures.
type comparison struct {
	name string
	u    alloc.Usage
}

// cost is what the setting cost the program beyond its own work: memory
// system calls plus page faults, about a microsecond or more each here.
func (c comparison) cost() uint64 { return c.u.Syscalls.Total() + c.u.MinorFaults }

// recommend names the setting that pays against the first (the baseline):
// among those whose system calls plus faults are at least a tenth below
// the baseline's and whose peak RSS is at most a quarter above, the
// fastest. (A fault on a huge page costs more than one on a small page, so
// the count alone does not decide between hugetlb and the rest; the time
// of a single run on a busy machine is noisy: run compare twice.)
func recommend(rs []comparison) string {
	if len(rs) < 2 {
		return ""
	}
	base, best := rs[0], -1
	for i, r := range rs[1:] {
		if r.cost()*10 > base.cost()*9 || r.u.PeakRSS*4 > base.u.PeakRSS*5 {
			continue
		}
		if best < 0 || r.u.Elapsed < rs[best+1].u.Elapsed {
			best = i
		}
	}
	if best < 0 {
		return fmt.Sprintf("recommended: %s (no setting saves a tenth of its system calls plus faults within a quarter more peak RSS)", base.name)
	}
	b := rs[best+1]
	return fmt.Sprintf("recommended: OFFHEAP=%s: system calls %d -> %d, page faults %d -> %d, time %v -> %v, peak RSS %.1f -> %.1f MiB (against %s)",
		b.name, base.u.Syscalls.Total(), b.u.Syscalls.Total(), base.u.MinorFaults, b.u.MinorFaults,
		base.u.Elapsed.Round(100_000), b.u.Elapsed.Round(100_000), float64(base.u.PeakRSS)/(1<<20), float64(b.u.PeakRSS)/(1<<20), base.name)
}

// withoutMallocEnv drops the variables offheap reads, so each child sees
// only the OFFHEAP value under test.
func withoutMallocEnv(env []string) []string {
	var out []string
	for _, e := range env {
		if strings.HasPrefix(e, "MALLOC_") || strings.HasPrefix(e, "GLIBC_TUNABLES=") || strings.HasPrefix(e, "OFFHEAP=") {
			continue
		}
		out = append(out, e)
	}
	return out
}

func runMeasureChild(args []string) error {
	fs := flag.NewFlagSet("measure-child", flag.ContinueOnError)
	workload := fs.String("workload", "large", "workload")
	ops := fs.Int("n", 20000, "operations")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := workloadFunc(*workload, *ops)
	if err != nil {
		return err
	}
	u := alloc.Measure(f)
	return json.NewEncoder(os.Stdout).Encode(u)
}

// workloadFunc returns the named workload.
func workloadFunc(name string, ops int) (func(), error) {
	switch name {
	case "large":
		// A program that repeatedly builds and drops large buffers: the
		// case glibc's dynamic threshold exists for.
		return func() {
			rng := rand.New(rand.NewPCG(1, 2))
			live := make([]unsafe.Pointer, 8)
			for i := 0; i < ops; i++ {
				j := rng.IntN(len(live))
				alloc.Free(live[j])
				n := 200<<10 + rng.IntN(1800<<10)
				p := alloc.Malloc(n)
				touch(p, n)
				live[j] = p
			}
			for _, p := range live {
				alloc.Free(p)
			}
		}, nil
	case "mixed":
		return func() {
			rng := rand.New(rand.NewPCG(3, 4))
			live := make([]unsafe.Pointer, 4096)
			for i := 0; i < ops; i++ {
				j := rng.IntN(len(live))
				alloc.Free(live[j])
				n := 16 + rng.IntN(1024)
				if rng.IntN(50) == 0 {
					n = 128<<10 + rng.IntN(1<<20)
				}
				p := alloc.Malloc(n)
				touch(p, n)
				live[j] = p
			}
			for _, p := range live {
				alloc.Free(p)
			}
		}, nil
	}
	return nil, fmt.Errorf("unknown workload %q (want large or mixed)", name)
}

// touch writes one byte per page, as a program filling its buffer would
// fault the pages in.
func touch(p unsafe.Pointer, n int) {
	b := unsafe.Slice((*byte)(p), n)
	for i := 0; i < n; i += 4096 {
		b[i] = 1
	}
}
