package alloc_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/google/pprof/profile"

	"github.com/offheap/offheap/alloc"
)

// The two call sites of TestProfileAttribution: each allocates blocks of
// random sizes in [lo, hi] until total bytes, keeping them all.

//go:noinline
func attrSiteBig(rng *rand.Rand, total, lo, hi int) []unsafe.Pointer {
	return attrAlloc(rng, total, lo, hi, func(n int) unsafe.Pointer { return alloc.Malloc(n) })
}

//go:noinline
func attrSiteSmall(rng *rand.Rand, total, lo, hi int) []unsafe.Pointer {
	return attrAlloc(rng, total, lo, hi, func(n int) unsafe.Pointer { return alloc.Malloc(n) })
}

// attrAlloc is inlined into each site with its closure, so Malloc's caller is
// the site (the closure's frame is the site's, or inlined into it).
func attrAlloc(rng *rand.Rand, total, lo, hi int, malloc func(int) unsafe.Pointer) []unsafe.Pointer {
	var out []unsafe.Pointer
	for n := 0; n < total; {
		size := min(lo+rng.IntN(hi-lo+1), total-n)
		out = append(out, malloc(size))
		n += size
	}
	return out
}

const (
	attrBig   = "github.com/offheap/offheap/alloc_test.attrSiteBig"
	attrSmall = "github.com/offheap/offheap/alloc_test.attrSiteSmall"
)

// siteTotals sums alloc_space and inuse_space of the samples whose stack
// holds fn (by any frame).
func siteTotals(p *profile.Profile, fn string) (allocSpace, inuseSpace int64) {
	for _, s := range p.Sample {
		in := false
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				in = in || l.Function.Name == fn
			}
		}
		if in {
			allocSpace += s.Value[1]
			inuseSpace += s.Value[3]
		}
	}
	return
}

func freeBlocks(ps []unsafe.Pointer) {
	for _, p := range ps {
		alloc.Free(p)
	}
}

// TestProfileAttribution is issue 13's target 3: two call sites
// allocating 64 MiB and 16 MiB (cached, arena and mapped sizes) are each
// attributed within 10% at profile_rate=4096, both appear at the default
// rate, and a site's in-use bytes fall to zero once its blocks are freed.
func TestProfileAttribution(t *testing.T) {
	old := alloc.ProfileRate()
	defer alloc.SetProfileRate(old)
	rng := rand.New(rand.NewPCG(seedFor(t), 13))
	const big, small = 64 << 20, 16 << 20

	for _, rate := range []int{4096, 512 << 10} {
		alloc.SetProfileRate(rate)
		before := mustProfile(t)
		bigBlocks := attrSiteBig(rng, big, 16, 8192)
		smallBlocks := attrSiteSmall(rng, small, 1024, 256<<10)
		live := mustProfile(t)
		for _, site := range []struct {
			fn    string
			total int64
		}{{attrBig, big}, {attrSmall, small}} {
			a0, i0 := siteTotals(before, site.fn)
			a1, i1 := siteTotals(live, site.fn)
			gotAlloc, gotInuse := a1-a0, i1-i0
			t.Logf("rate %d: %s: alloc_space +%d, inuse_space +%d (true %d: %+.1f%%)", rate, site.fn, gotAlloc, gotInuse, site.total, 100*(float64(gotInuse)/float64(site.total)-1))
			if rate == 4096 {
				if d := float64(gotAlloc)/float64(site.total) - 1; d < -0.1 || d > 0.1 {
					t.Errorf("rate %d: %s: alloc_space grew by %d for %d bytes allocated", rate, site.fn, gotAlloc, site.total)
				}
				if d := float64(gotInuse)/float64(site.total) - 1; d < -0.1 || d > 0.1 {
					t.Errorf("rate %d: %s: inuse_space grew by %d for %d bytes live", rate, site.fn, gotInuse, site.total)
				}
			} else if gotAlloc <= 0 || gotInuse <= 0 {
				t.Errorf("rate %d: %s does not appear in the profile (alloc_space +%d, inuse_space +%d)", rate, site.fn, gotAlloc, gotInuse)
			}
		}
		freeBlocks(smallBlocks)
		_, i0 := siteTotals(before, attrSmall)
		if _, i2 := siteTotals(mustProfile(t), attrSmall); i2 != i0 {
			t.Errorf("rate %d: %s: inuse_space %d after freeing every block, %d before they were allocated", rate, attrSmall, i2, i0)
		}
		freeBlocks(bigBlocks)
		_, i0 = siteTotals(before, attrBig)
		if _, i2 := siteTotals(mustProfile(t), attrBig); i2 != i0 {
			t.Errorf("rate %d: %s: inuse_space %d after freeing every block, %d before they were allocated", rate, attrBig, i2, i0)
		}
	}
}

//go:noinline
func defaultRateSite(n, size int) []unsafe.Pointer {
	out := make([]unsafe.Pointer, n)
	for i := range out {
		out[i] = alloc.Malloc(size)
	}
	return out
}

// TestDefaultRateProfile is issue 13's first acceptance test: in a process
// where nothing sets the rate (no OFFHEAP, no SetProfileRate), sampling is
// on at 512 KiB, and a profile written after 32 MiB of allocations (about
// 64 samples) names the function that allocated them.
func TestDefaultRateProfile(t *testing.T) {
	path := os.Getenv("OFFHEAP_TEST_PROFILE")
	if path == "" {
		path = filepath.Join(t.TempDir(), "offheap.pb.gz")
	}
	if _, child := inStatsChild(t, "OFFHEAP_TEST_PROFILE="+path); !child {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := profile.Parse(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		a, i := siteTotals(p, "github.com/offheap/offheap/alloc_test.defaultRateSite")
		if a <= 0 || i <= 0 {
			t.Fatalf("the profile written at the default rate does not name defaultRateSite (alloc_space %d, inuse_space %d)", a, i)
		}
		t.Logf("defaultRateSite: alloc_space %d, inuse_space %d (32 MiB live)", a, i)
		return
	}
	if got := alloc.ProfileRate(); got != 512<<10 {
		t.Fatalf("ProfileRate() = %d with nothing set, want %d", got, 512<<10)
	}
	blocks := defaultRateSite(512, 64<<10)
	defer freeBlocks(blocks)
	var buf bytes.Buffer
	if err := alloc.WriteHeapProfile(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

//go:noinline
func concurrentSite(n, size int, out chan<- unsafe.Pointer) {
	for i := 0; i < n; i++ {
		out <- alloc.Malloc(size)
	}
}

// TestProfileConcurrent: goroutines allocate at one site and hand every
// block to others that free it (the free of a sampled block on another P
// than its sample), while profiles are written all along (each collects
// the Ps' pending counts and stops the world). In the end the site's
// alloc_objects is the true count within 10%, and nothing of it is in use.
func TestProfileConcurrent(t *testing.T) {
	old := alloc.ProfileRate()
	defer alloc.SetProfileRate(old)
	alloc.SetProfileRate(4096)
	const (
		workers = 4
		n       = 50000
		size    = 1000
	)
	const fn = "github.com/offheap/offheap/alloc_test.concurrentSite"
	objects := func(p *profile.Profile) (allocObjects, inuseObjects int64) {
		for _, s := range p.Sample {
			for _, loc := range s.Location {
				for _, l := range loc.Line {
					if l.Function.Name == fn {
						allocObjects += s.Value[0]
						inuseObjects += s.Value[2]
					}
				}
			}
		}
		return
	}
	a0, i0 := objects(mustProfile(t))
	ch := make(chan unsafe.Pointer, 64)
	done := make(chan bool)
	for w := 0; w < workers; w++ {
		go func() { concurrentSite(n, size, ch); done <- true }()
		go func() {
			for p := range ch {
				alloc.Free(p)
			}
		}()
	}
	profiles := 0
	for running := workers; running > 0; {
		select {
		case <-done:
			running--
		default:
			mustProfile(t)
			profiles++
		}
	}
	close(ch)
	// The freeing goroutines may still hold a block or two: wait until the
	// site has nothing in use, for a while.
	var a1, i1 int64
	for try := 0; try < 100; try++ {
		if a1, i1 = objects(mustProfile(t)); i1 == i0 {
			break
		}
	}
	t.Logf("%d profiles written meanwhile; alloc_objects +%d (true %d), inuse_objects %d -> %d", profiles, a1-a0, workers*n, i0, i1)
	if got, want := a1-a0, int64(workers*n); got < want*9/10 || got > want*11/10 {
		t.Errorf("alloc_objects grew by %d for %d blocks", got, want)
	}
	if i1 != i0 {
		t.Errorf("inuse_objects %d after every block was freed, %d before", i1, i0)
	}
}
