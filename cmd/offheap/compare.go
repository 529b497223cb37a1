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

// defaultSettings show the dynamic threshold against a pinned one.
var defaultSettings = []string{"", "mmap_threshold=128k", "mmap_threshold=4m,trim_threshold=8m"}

func runCompare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	workload := fs.String("workload", "large", "workload: large (200 KiB-2 MiB blocks allocated and freed) or mixed (small and large, some kept)")
	ops := fs.Int("n", 2000, "operations")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: offheap compare [-workload large|mixed] [-n ops] [SETTING ...]\n\n"+
			"Each SETTING is an OFFHEAP value (\"\" for the defaults), e.g. mmap_threshold=1m,top_pad=4m.\n"+
			"Without settings: the default (dynamic threshold), a threshold pinned at 128 KiB,\n"+
			"and one at 4 MiB. Each runs in a fresh process, as settings are process-wide.\n\n")
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
	}
	tw.Flush()
	fmt.Println("\nsystem calls are offheap's own (counted by brk and mmapper); faults and RSS are the whole process's.")
	return nil
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
