package replay

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/offheap/offheap/tune"
)

// FormatBytes writes n bytes in the shortest binary unit with one decimal
// ("1.5 MiB"), or "-" for a negative n (unknown).
func FormatBytes(n int64) string {
	switch {
	case n < 0:
		return "-"
	case n < 10<<10:
		return fmt.Sprintf("%d B", n)
	case n < 10<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 10<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

func formatCount(n int64) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// syscallSplit writes the non-zero counts by call ("mmap 3, munmap 3").
func syscallSplit(by map[string]int64) string {
	names := make([]string, 0, len(by))
	for k, v := range by {
		if v != 0 {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %d", k, by[k]))
	}
	return strings.Join(parts, ", ")
}

// WriteResults writes a table of replays: per target the time, the
// memory system calls, the page faults, the peak and final RSS.
func WriteResults(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "target\ttime\tns/call\tsyscalls\tfaults\tpeak RSS\tend RSS\tstart RSS\tfailed\t\n")
	for _, r := range rs {
		name := r.Target
		if r.Settings != "" {
			name += " (" + r.Settings + ")"
		}
		fmt.Fprintf(tw, "%s\t%v\t%.1f\t%s\t%d\t%s\t%s\t%s\t%d\t\n", name, r.Elapsed.Round(10*time.Microsecond),
			float64(r.Elapsed.Nanoseconds())/float64(max(r.Ops, 1)), formatCount(r.Syscalls), r.Faults,
			FormatBytes(r.PeakRSS), FormatBytes(r.EndRSS), FormatBytes(r.StartRSS), r.Failed)
	}
	tw.Flush()
	for _, r := range rs {
		if len(r.SyscallsBy) > 0 {
			fmt.Fprintf(w, "%s system calls: %s\n", r.Target, syscallSplit(r.SyscallsBy))
		}
		if ph := r.PrivateHeaps; ph != nil {
			fmt.Fprintf(w, "%s private heaps: %d created, %d destroyed; %d live at the end, holding %s in use (%s from the system)\n",
				r.Target, ph.Created, ph.Destroyed, ph.Live, FormatBytes(int64(ph.Inuse)), FormatBytes(int64(ph.Sys)))
		}
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Target, r.Note)
		}
	}
}

// FormatSize writes a byte size as OFFHEAP takes it ("256KiB").
func FormatSize(n int64) string { return tune.FormatSize(n) }
