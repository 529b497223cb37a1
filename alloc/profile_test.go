package alloc_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/pprof/profile"

	"github.com/offheap/offheap/alloc"
)

// The two call sites of the profile test. Each allocates total bytes in
// blocks of size, frees them at once except the last len(keep), which it
// leaves live in keep.
//
//go:noinline
func profSiteSmall(size, total int, keep []unsafe.Pointer) {
	for n := 0; n < total; n += size {
		p := alloc.Malloc(size)
		if n+size*len(keep) >= total && len(keep) > 0 {
			keep[0], keep = p, keep[1:]
			continue
		}
		alloc.Free(p)
	}
}

//go:noinline
func profSiteLarge(size, total int, keep []unsafe.Pointer) {
	for n := 0; n < total; n += size {
		p := alloc.Calloc(1, size)
		if n+size*len(keep) >= total && len(keep) > 0 {
			keep[0], keep = p, keep[1:]
			continue
		}
		alloc.Free(p)
	}
}

const (
	siteSmall = "github.com/offheap/offheap/alloc_test.profSiteSmall"
	siteLarge = "github.com/offheap/offheap/alloc_test.profSiteLarge"
)

// siteFigures sums a profile's values by the sites found in each sample's
// stack, and collects the label values of key.
type siteFigures struct {
	values [4]int64 // alloc_objects, alloc_space, inuse_objects, inuse_space
	labels map[string]int
}

func figuresBySite(t *testing.T, p *profile.Profile, key string) map[string]*siteFigures {
	t.Helper()
	want := []string{"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"}
	for i, st := range p.SampleType {
		if got := st.Type + "/" + st.Unit; got != want[i] {
			t.Fatalf("sample type %d is %s, want %s", i, got, want[i])
		}
	}
	if len(p.SampleType) != 4 || p.DefaultSampleType != "inuse_space" ||
		p.PeriodType == nil || p.PeriodType.Type != "space" || p.PeriodType.Unit != "bytes" {
		t.Fatalf("profile header: %d sample types, default %q, period type %v", len(p.SampleType), p.DefaultSampleType, p.PeriodType)
	}
	out := map[string]*siteFigures{}
	for _, s := range p.Sample {
		site := ""
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if n := l.Function.Name; n == siteSmall || n == siteLarge {
					site = n
				}
			}
		}
		if site == "" {
			continue
		}
		// The leaf must be the site itself: offheap's own frames are hidden.
		if leaf := s.Location[0].Line[0].Function.Name; leaf != site {
			t.Errorf("sample of %s has leaf %s", site, leaf)
		}
		f := out[site]
		if f == nil {
			f = &siteFigures{labels: map[string]int{}}
			out[site] = f
		}
		for i := range f.values {
			f.values[i] += s.Value[i]
		}
		for _, v := range s.Label[key] {
			f.labels[v]++
		}
	}
	return out
}

func readProfile(t *testing.T) (*profile.Profile, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := alloc.WriteHeapProfile(&buf); err != nil {
		t.Fatalf("WriteHeapProfile: %v", err)
	}
	p, err := profile.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parsing the profile: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("profile not valid: %v", err)
	}
	return p, buf.Bytes()
}

// TestHeapProfile is issue 6's acceptance 1 and 2: two call sites with
// known totals, read back with github.com/google/pprof/profile, each total
// within 10% of what the profile attributes to its function; labels from
// pprof.Do; then one site's blocks freed: its inuse_space drops to zero
// while its alloc_space stays; and `go tool pprof -top` names both.
func TestHeapProfile(t *testing.T) {
	const rate = 512 << 10
	old := alloc.ProfileRate()
	alloc.SetProfileRate(rate)
	defer alloc.SetProfileRate(old)

	// 1,600 samples per site on average (the rate), so each estimate is
	// within 10% with a margin of about 4 standard deviations.
	const (
		smallSize, largeSize = 4000, 200 << 10
		total                = 800 << 20
	)
	keepSmall := make([]unsafe.Pointer, 4096) // 16 MB live
	keepLarge := make([]unsafe.Pointer, 40)   // 8 MB live
	// Other tests may have called the sites already (at other rates, which
	// the profile scales at this one): the figures are this test's share,
	// the profile's after less its before.
	base := figuresBySite(t, mustProfile(t), "tenant")
	profSiteSmall(smallSize, total, keepSmall)
	pprof.Do(context.Background(), pprof.Labels("tenant", "large"), func(context.Context) {
		profSiteLarge(largeSize, total, keepLarge)
	})

	p, raw := readProfile(t)
	if p.Period != rate {
		t.Errorf("period %d, want %d", p.Period, rate)
	}
	before := figuresBySite(t, p, "tenant")
	for _, site := range []string{siteSmall, siteLarge} {
		f := before[site]
		if f == nil {
			t.Fatalf("no sample of %s in the profile", site)
		}
		var earlier [4]int64
		if b := base[site]; b != nil {
			earlier = b.values
		}
		got := f.values[1] - earlier[1]
		t.Logf("%s: alloc_space %d (true %d, %+.1f%%), alloc_objects %d, inuse_space %d, labels %v",
			site, got, total, 100*(float64(got)/total-1), f.values[0]-earlier[0], f.values[3], f.labels)
		if got < total*9/10 || got > total*11/10 {
			t.Errorf("%s: alloc_space %d, want %d within 10%%", site, got, total)
		}
		if f.values[3] <= 0 {
			t.Errorf("%s: inuse_space %d with blocks live", site, f.values[3])
		}
	}
	if l := before[siteLarge].labels; l["large"] == 0 || len(l) != 1 {
		t.Errorf("samples of the labelled site carry tenant labels %v, want only \"large\"", l)
	}
	if l := before[siteSmall].labels; len(l) != 0 {
		t.Errorf("samples of the unlabelled site carry tenant labels %v", l)
	}

	// Acceptance 2: free the small site's blocks.
	for _, q := range keepSmall {
		alloc.Free(q)
	}
	after := figuresBySite(t, mustProfile(t), "tenant")
	s0, s1 := before[siteSmall], after[siteSmall]
	if s1 == nil {
		t.Fatalf("%s left the profile after its blocks were freed", siteSmall)
	}
	if s1.values[2] != 0 || s1.values[3] != 0 {
		t.Errorf("%s: inuse_objects %d, inuse_space %d after freeing every block, want 0", siteSmall, s1.values[2], s1.values[3])
	}
	if s1.values[0] != s0.values[0] || s1.values[1] != s0.values[1] {
		t.Errorf("%s: alloc figures changed by freeing: %v, then %v", siteSmall, s0.values, s1.values)
	}
	if l0, l1 := before[siteLarge], after[siteLarge]; l0.values != l1.values {
		t.Errorf("%s: figures changed though nothing of it was freed: %v, then %v", siteLarge, l0.values, l1.values)
	}
	for _, q := range keepLarge {
		alloc.Free(q)
	}

	// go tool pprof -top names both functions.
	out := goToolPprof(t, raw, "-top", "-sample_index=alloc_space")
	for _, fn := range []string{"profSiteSmall", "profSiteLarge"} {
		if !strings.Contains(out, fn) {
			t.Errorf("go tool pprof -top does not name %s:\n%s", fn, out)
		}
	}
}

func mustProfile(t *testing.T) *profile.Profile {
	p, _ := readProfile(t)
	return p
}

// goTool returns the go command, or skips the test.
func goTool(t *testing.T) string {
	t.Helper()
	if g := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(g); err == nil {
			return g
		}
	}
	g, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not available: skipping the go tool pprof check")
	}
	return g
}

// goToolPprof writes raw to a file and runs go tool pprof on it.
func goToolPprof(t *testing.T, raw []byte, args ...string) string {
	t.Helper()
	g := goTool(t)
	path := filepath.Join(t.TempDir(), "offheap.pb.gz")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(g, append(append([]string{"tool", "pprof"}, args...), path)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestHeapProfileOff: with the rate 0 nothing is sampled, and the profile
// is still a valid one.
func TestHeapProfileOff(t *testing.T) {
	old := alloc.ProfileRate()
	alloc.SetProfileRate(0)
	defer alloc.SetProfileRate(old)
	var keep [1]unsafe.Pointer
	p0 := figuresBySite(t, mustProfile(t), "")
	profSiteSmall(4000, 64<<20, keep[:])
	alloc.Free(keep[0])
	p1 := figuresBySite(t, mustProfile(t), "")
	if a, b := p0[siteSmall], p1[siteSmall]; b != nil && (a == nil || a.values != b.values) {
		t.Errorf("profiling off, yet the site's figures changed: %v, then %v", a, b)
	}
}

// BenchmarkPairProfiled is BenchmarkPair's loop at profiling rates 0 and
// 512 KiB: the cost of sampling on the fast path and of recording the
// samples, which is about one sample per rate/size pairs.
func BenchmarkPairProfiled(b *testing.B) {
	old := alloc.ProfileRate()
	defer alloc.SetProfileRate(old)
	for _, rate := range []int{0, 512 << 10} {
		for _, n := range []int{64, 4096, 65536} {
			b.Run("rate="+itoa(rate)+"/"+itoa(n), func(b *testing.B) {
				alloc.SetProfileRate(rate)
				for b.Loop() {
					p := alloc.Malloc(n)
					alloc.Free(p)
				}
			})
		}
	}
}

// BenchmarkPairProfiledFilled is BenchmarkPairProfiled with each block
// written in full before it is freed, as a program that uses its blocks
// does: what default-rate sampling costs such a program. (BenchmarkPair's
// blocks are never touched, so there a sample is measured against a pair
// of a few nanoseconds.)
func BenchmarkPairProfiledFilled(b *testing.B) {
	old := alloc.ProfileRate()
	defer alloc.SetProfileRate(old)
	for _, rate := range []int{0, 512 << 10} {
		for _, n := range []int{4096, 65536} {
			b.Run("rate="+itoa(rate)+"/"+itoa(n), func(b *testing.B) {
				alloc.SetProfileRate(rate)
				b.SetBytes(int64(n))
				for b.Loop() {
					p := alloc.Malloc(n)
					clear(unsafe.Slice((*byte)(p), n))
					alloc.Free(p)
				}
			})
		}
	}
}

// BenchmarkSampledPair measures the cost of one sample and of the free of
// the sampled block: at profile_rate=1 every allocation is sampled, so the
// difference to rate=0 is that cost, per pair.
func BenchmarkSampledPair(b *testing.B) {
	old := alloc.ProfileRate()
	defer alloc.SetProfileRate(old)
	for _, rate := range []int{0, 1, 512} {
		b.Run("rate="+itoa(rate), func(b *testing.B) {
			alloc.SetProfileRate(rate)
			for b.Loop() {
				p := alloc.Malloc(64)
				alloc.Free(p)
			}
		})
	}
}

// deepSample runs loop depth frames down a chain of noinline calls.
//
//go:noinline
func deepSample(depth int, loop func()) {
	if depth == 0 {
		loop()
		return
	}
	deepSample(depth-1, loop)
}

//go:noinline
func deepPairA() { alloc.Free(alloc.Malloc(64)) }

//go:noinline
func deepPairB() { alloc.Free(alloc.Malloc(64)) }

// BenchmarkSampleDeep is issue 13's target 2: one sample, and the free of
// the sampled block, from a Go stack 20 frames deep (and the test
// harness's frames below). At profile_rate=1 every allocation is sampled;
// the difference to rate=0 is the cost of a sample. "same" samples the
// same stack every time (the P's memo recognizes it); "alternate"
// alternates between two call sites, so that every sample walks the 20
// frames afresh and looks its bucket up by the stack's hash.
func BenchmarkSampleDeep(b *testing.B) {
	old := alloc.ProfileRate()
	defer alloc.SetProfileRate(old)
	for _, rate := range []int{0, 1} {
		for _, mode := range []string{"same", "alternate"} {
			b.Run("rate="+itoa(rate)+"/"+mode, func(b *testing.B) {
				alloc.SetProfileRate(rate)
				deepSample(20, func() {
					if mode == "same" {
						for b.Loop() {
							deepPairA()
						}
						return
					}
					for i := 0; b.Loop(); i++ {
						if i&1 == 0 {
							deepPairA()
						} else {
							deepPairB()
						}
					}
				})
			})
		}
	}
}
