package bench

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
)

// childLine is one line of a child's output: a peer it offers, a sample,
// a workload that failed on a peer (Error with Peer and Workload), or the
// child's own failure (Error alone).
type childLine struct {
	Peer     string  `json:"peer"`
	About    string  `json:"about,omitempty"`
	Workload string  `json:"workload,omitempty"`
	Sample   *Sample `json:"sample,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// ChildMain is the main function of a peer binary that Main runs as a
// child process (bench/cpeer/cmd/cpeer): it measures the given peers on
// the workloads selected by its flags and writes one JSON object per line
// to stdout, first {"peer","about"} for every peer, then {"peer",
// "workload","sample"} for every measurement. peersErr, when not nil,
// says why the binary has no peers (say, its malloc is not the allocator
// it names); ChildMain writes it as {"error"} and returns 3. It returns
// the process's exit status.
//
// Flags: -benchtime d (each sample), -count n (samples per workload,
// interleaved), -run regexp (workload names), -peers a,b (peer names).
func ChildMain(args []string, peers []Peer, peersErr error) int {
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	benchTime := fs.Duration("benchtime", 100*time.Millisecond, "time of each sample")
	count := fs.Int("count", 1, "samples of each workload")
	run := fs.String("run", "", "run only the workloads whose names match this regexp")
	only := fs.String("peers", "", "comma-separated peer names (default: all)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	if peersErr != nil {
		out.Encode(childLine{Error: peersErr.Error()})
		return 3
	}
	re, err := regexp.Compile(*run)
	if err != nil {
		fmt.Fprintf(os.Stderr, "peer: -run: %v\n", err)
		return 2
	}
	peers = selectPeers(peers, *only)
	for _, p := range peers {
		out.Encode(childLine{Peer: p.Name, About: p.About})
	}
	measureAll(peers, selectWorkloads(re), *count, *benchTime, nil, func(p Peer, w *Workload, s Sample, err error) {
		if err != nil {
			out.Encode(childLine{Peer: p.Name, Workload: w.Name, Error: err.Error()})
			return
		}
		out.Encode(childLine{Peer: p.Name, Workload: w.Name, Sample: &s})
	})
	return 0
}

// measureAll measures every workload on every peer count times, the
// repetitions outermost, so slow drift of the machine spreads over all. A
// workload that fails on a peer is reported to got once and not run again
// on that peer.
func measureAll(peers []Peer, ws []*Workload, count int, d time.Duration, progress io.Writer, got func(Peer, *Workload, Sample, error)) {
	failed := map[[2]string]bool{}
	for rep := 0; rep < count; rep++ {
		for _, p := range peers {
			start := time.Now()
			for _, w := range ws {
				if failed[[2]string{p.Name, w.Name}] {
					continue
				}
				s, err := Measure(p, w, d)
				if err != nil {
					failed[[2]string{p.Name, w.Name}] = true
					if progress != nil {
						fmt.Fprintf(progress, "  %s %s: FAILED: %v\n", p.Name, w.Name, err)
					}
				}
				got(p, w, s, err)
			}
			if progress != nil {
				fmt.Fprintf(progress, "  %s: %d workloads in %.1fs\n", p.Name, len(ws), time.Since(start).Seconds())
			}
		}
	}
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

func selectWorkloads(re *regexp.Regexp) []*Workload {
	var out []*Workload
	for _, w := range Workloads() {
		if re.MatchString(w.Name) {
			out = append(out, w)
		}
	}
	return out
}
