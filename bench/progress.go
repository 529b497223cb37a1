package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress shows how far a run is. On a terminal (live) it redraws one
// line in place: done and total measurements, elapsed time and an
// estimate of the time left, and what is being measured; lines that must
// stay (a skipped peer, a failure) are written above it. Elsewhere (a
// file, a pipe, CI) it writes a plain line each time a new workload
// starts, and the lines that must stay.
type progress struct {
	w         io.Writer
	live      bool
	total     int
	done      int
	began     time.Time
	last      string // the workload of the last plain line
	lineShown bool
}

func newProgress(w io.Writer, total int, live bool) *progress {
	return &progress{w: w, live: live, total: total, began: time.Now()}
}

// IsTerminal reports whether f is a terminal (a character device), where
// Main draws its progress line in place. It needs no terminal package:
// os.File.Stat's mode says it.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// start notes that the next measurement begins: workload on peer, in the
// phase what ("repetition 2/5", "system calls").
func (p *progress) start(workload, peer, what string) {
	p.done++
	el := time.Since(p.began)
	if !p.live {
		if key := workload + what; key != p.last {
			p.last = key
			fmt.Fprintf(p.w, "[%4d/%d %3.0f%% %s] %s: %s\n", p.done, p.total, 100*float64(p.done-1)/float64(max(p.total, 1)), fmtDuration(el), what, workload)
		}
		return
	}
	left := "?"
	if p.done > 1 {
		left = fmtDuration(time.Duration(float64(el) / float64(p.done-1) * float64(p.total-p.done+1)))
	}
	line := fmt.Sprintf("[%4d/%d] %3.0f%%  %s elapsed, ~%s left  %s: %s on %s", p.done, p.total,
		100*float64(p.done-1)/float64(max(p.total, 1)), fmtDuration(el), left, what, workload, peer)
	if len(line) > 119 {
		line = line[:119]
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.lineShown = true
}

// log writes a line that stays.
func (p *progress) log(format string, args ...any) {
	if p.live && p.lineShown {
		fmt.Fprint(p.w, "\r\033[K")
		p.lineShown = false
	}
	fmt.Fprintf(p.w, strings.TrimRight(format, "\n")+"\n", args...)
}

// finish ends the live line.
func (p *progress) finish() {
	if p.live && p.lineShown {
		fmt.Fprint(p.w, "\r\033[K")
		p.lineShown = false
	}
	fmt.Fprintf(p.w, "%d measurements in %s\n", p.done, fmtDuration(time.Since(p.began)))
}

// fmtDuration writes d as 1m05s or 42s.
func fmtDuration(d time.Duration) string {
	s := int(d.Seconds() + 0.5)
	if s < 60 {
		return fmt.Sprintf("%ds", s)
	}
	return fmt.Sprintf("%dm%02ds", s/60, s%60)
}
