package bench

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime/pprof"
	"strings"
	"time"
)

// childLine is one line of a child's output: a peer it offers ({peer,
// about}), a measurement starting ({peer, workload, start}), its sample
// ({peer, workload, sample}), its failure ({peer, workload, error}), or the
// child's own failure ({error}).
type childLine struct {
	Peer     string  `json:"peer,omitempty"`
	About    string  `json:"about,omitempty"`
	Workload string  `json:"workload,omitempty"`
	Start    bool    `json:"start,omitempty"`
	Sample   *Sample `json:"sample,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// job is one measurement: a workload on a peer.
type job struct{ peer, workload string }

func (j job) String() string { return j.peer + "=" + j.workload }

// ChildMain is the main function of a peer binary that Run starts as a
// child process (bench/cmd/gopeer for offheap and Go's heap,
// bench/cpeer/cmd/cpeer for a C allocator). It measures the given peers and
// writes one JSON object per line to stdout: {"peer","about"} for every
// peer, then for every measurement {"peer","workload","start"} before it
// and {"peer","workload","sample"} or {"peer","workload","error"} after
// it, so that the parent knows which workload was running if the child
// dies. peersErr, when not nil, says why the binary has no peers (say, its
// malloc is not the allocator it names); ChildMain writes it as {"error"}
// and returns 3. After a measurement that fails (a panic in the allocator)
// it stops, since the allocator may be broken for good, and the parent
// starts it again on the jobs left. It returns the process's exit status.
//
// Flags: -benchtime d (each sample), -gctime d (the GC-pressure request
// loop), -threads n, -gc-entries and -gc-values (as Main's), -cpuprofile
// file; -jobs peer=workload,... (the measurements, in order), or else
// -count n, -run regexp and -peers a,b (every selected workload on every
// selected peer, n times).
func ChildMain(args []string, peers []Peer, peersErr error) int {
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	benchTime := fs.Duration("benchtime", 100*time.Millisecond, "time of each sample")
	gcTime := fs.Duration("gctime", 5*time.Second, "time of the GC-pressure workloads' request loop")
	threads := fs.Int("threads", 0, "threads of the multi-threaded workloads (0: GOMAXPROCS)")
	gcEntries := fs.String("gc-entries", "10", "GC-pressure cache sizes, in millions of values")
	gcValues := fs.String("gc-values", "64-256", "GC-pressure value sizes")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurements to this file (go tool pprof)")
	count := fs.Int("count", 1, "samples of each workload")
	run := fs.String("run", "", "run only the workloads whose names match this regexp")
	only := fs.String("peers", "", "comma-separated peer names (default: all)")
	jobList := fs.String("jobs", "", "comma-separated peer=workload measurements, in order (overrides -count, -run, -peers)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	if err := ParseGCConfig(*gcEntries, *gcValues); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if peersErr != nil {
		out.Encode(childLine{Error: peersErr.Error()})
		return 3
	}
	var err error
	if traced, err = maybeTraceSelf(); err != nil {
		out.Encode(childLine{Error: err.Error()})
		return 3
	}
	byPeer := map[string]Peer{}
	for _, p := range peers {
		byPeer[p.Name] = p
	}
	byName := map[string]*Workload{}
	all := WorkloadsFor(*threads)
	for _, w := range all {
		byName[w.Name] = w
	}
	var jobs []job
	if *jobList != "" {
		for _, s := range strings.Split(*jobList, ",") {
			p, w, _ := strings.Cut(s, "=")
			if _, ok := byPeer[p]; !ok || byName[w] == nil {
				fmt.Fprintf(os.Stderr, "peer: -jobs: no peer %q or no workload %q\n", p, w)
				return 2
			}
			jobs = append(jobs, job{p, w})
		}
	} else {
		re, err := regexp.Compile(*run)
		if err != nil {
			fmt.Fprintf(os.Stderr, "peer: -run: %v\n", err)
			return 2
		}
		for i := 0; i < *count; i++ {
			for _, p := range selectPeers(peers, *only) {
				for _, w := range selectWorkloads(all, re) {
					if w.RunsOn(p.Name) {
						jobs = append(jobs, job{p.Name, w.Name})
					}
				}
			}
		}
	}
	for _, p := range peers {
		out.Encode(childLine{Peer: p.Name, About: p.About})
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "peer: -cpuprofile: %v\n", err)
			return 2
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	for i, j := range jobs {
		out.Encode(childLine{Peer: j.peer, Workload: j.workload, Start: true})
		if byName[j.workload].Kind == FirstCall && i > 0 {
			// Not an error of the allocator: the jobs were ill-chosen.
			out.Encode(childLine{Peer: j.peer, Workload: j.workload,
				Error: fmt.Sprintf("%s %s: a first call is timed only as the first measurement of a process, and this is measurement %d", j.peer, j.workload, i+1)})
			continue
		}
		d := *benchTime
		if byName[j.workload].Kind == GCCache {
			d = *gcTime
		}
		s, err := Measure(byPeer[j.peer], byName[j.workload], d)
		if err != nil {
			// The allocator may be broken for good (a corrupted heap, and
			// its background work may fault later): stop, so the parent
			// runs the jobs left in a fresh process.
			out.Encode(childLine{Peer: j.peer, Workload: j.workload, Error: err.Error()})
			return 0
		}
		out.Encode(childLine{Peer: j.peer, Workload: j.workload, Sample: &s})
	}
	return 0
}

func selectPeers(peers []Peer, only string) []Peer {
	if only == "" {
		return peers
	}
	var out []Peer
	for _, p := range peers {
		if nameIn(p.Name, only) {
			out = append(out, p)
		}
	}
	return out
}

// nameIn reports whether name is in the comma-separated list.
func nameIn(name, list string) bool {
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

// selectWorkloads returns the workloads of all whose names match re, or,
// with re nil, the default set.
func selectWorkloads(all []*Workload, re *regexp.Regexp) []*Workload {
	var out []*Workload
	for _, w := range all {
		if (re == nil && w.Default) || (re != nil && re.MatchString(w.Name)) {
			out = append(out, w)
		}
	}
	return out
}
