// Command chart draws the chart of an offheap bench report: for every
// workload, each peer's time per operation relative to offheap's, as
// horizontal bars on a log scale (right of 1x the peer is slower than
// offheap, left of it faster). It is a module of its own so that the
// offheap library does not depend on a plotting library; offheap bench
// -plot runs it with the go command:
//
//	go -C bench/chart run . -in report.json -out chart.svg   # or .png, .pdf
//
// where report.json is what offheap bench -json writes.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/offheap/offheap/bench"
)

func main() {
	in := flag.String("in", "", "the report, as offheap bench -json writes it")
	out := flag.String("out", "chart.svg", "the chart: .svg, .png or .pdf")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintf(os.Stderr, "chart: %v\n", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	if in == "" {
		return errors.New("-in: give the report file")
	}
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %v", in, err)
	}
	p, height, err := draw(&rep)
	if err != nil {
		return err
	}
	return p.Save(10*vg.Inch, height, out)
}

// ratios returns, for every workload that offheap ran (in report order),
// each other peer's median time over offheap's, NaN where it did not run.
func ratios(rep *bench.Report) (workloads, peers []string, r map[string][]float64) {
	median := func(peer, w string) float64 {
		x := rep.Result(peer, w)
		if x == nil || len(x.Samples) == 0 {
			return math.NaN()
		}
		return x.Summary().NsPerOp
	}
	for _, n := range bench.PeerNames() {
		if n != "offheap" && slices.ContainsFunc(rep.Peers, func(p bench.PeerInfo) bool { return p.Name == n }) {
			peers = append(peers, n)
		}
	}
	r = map[string][]float64{}
	for _, wi := range rep.Workloads {
		base := median("offheap", wi.Name)
		if math.IsNaN(base) || base <= 0 {
			continue
		}
		workloads = append(workloads, wi.Name)
		for _, p := range peers {
			r[p] = append(r[p], median(p, wi.Name)/base)
		}
	}
	return workloads, peers, r
}

// logTicks labels the log10 axis with ratios: 0.01x ... 1000x.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var t []plot.Tick
	for e := math.Floor(min); e <= math.Ceil(max); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := math.Log10(m) + e
			if v < min || v > max {
				continue
			}
			label := ""
			if m == 1 || max-min < 2.5 {
				label = strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.3f", m*math.Pow(10, e)), "0"), "0")
				label = strings.TrimSuffix(strings.TrimSuffix(label, "0"), ".") + "x"
			}
			t = append(t, plot.Tick{Value: v, Label: label})
		}
	}
	return t
}

func draw(rep *bench.Report) (*plot.Plot, vg.Length, error) {
	workloads, peers, r := ratios(rep)
	if len(workloads) == 0 || len(peers) == 0 {
		return nil, 0, errors.New("the report has no workload that offheap and another peer both ran")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("offheap bench: each peer's time per operation relative to offheap\n%s, %s, %s",
		rep.Date.Format("2006-01-02"), rep.Machine, rep.GoVersion)
	p.X.Label.Text = "peer time / offheap time (log scale; right of 1x offheap is faster)"
	p.X.Tick.Marker = logTicks{}
	p.Y.Label.Text = "workload"
	p.Y.Padding = vg.Points(8)
	p.Legend.Top = true
	p.Legend.Left = false

	// Rows bottom-up in report order: the first workload on top.
	names := slices.Clone(workloads)
	slices.Reverse(names)
	barW := vg.Points(5)
	lo, hi := 0.0, 0.0
	for i, peer := range peers {
		vals := make(plotter.Values, len(names))
		for j := range names {
			v := r[peer][len(names)-1-j]
			if math.IsNaN(v) || v <= 0 {
				vals[j] = 0 // not run: no bar
				continue
			}
			vals[j] = math.Log10(v)
			lo, hi = math.Min(lo, vals[j]), math.Max(hi, vals[j])
		}
		bc, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, 0, err
		}
		bc.Horizontal = true
		bc.LineStyle.Width = 0
		bc.Color = plotutil.Color(i)
		bc.Offset = barW * vg.Length(float64(len(peers)-1)/2-float64(i))
		p.Add(bc)
		p.Legend.Add(peer, bc)
	}
	axis, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(len(names)) - 0.5}})
	if err != nil {
		return nil, 0, err
	}
	axis.LineStyle.Color = color.Black
	axis.LineStyle.Width = vg.Points(1)
	p.Add(axis)
	p.NominalY(names...)
	// Room on the right for the legend.
	p.X.Min, p.X.Max = math.Floor(lo*2)/2-0.25, math.Ceil(hi*2)/2+1.25
	p.Add(plotter.NewGrid())
	height := vg.Length(len(names))*(barW*vg.Length(len(peers))+vg.Points(10)) + 2*vg.Inch
	return p, height, nil
}
