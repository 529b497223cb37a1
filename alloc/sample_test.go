package alloc_test

import (
	"math"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/tune"
)

// TestMalloptProfileRate: Mallopt sets the sampling rate; the blocks
// sampled and freed leave the table of sampled blocks, and the profile
// counts about size x n / rate samples, all freed.
func TestMalloptProfileRate(t *testing.T) {
	old := alloc.ProfileRate()
	defer alloc.Mallopt(tune.ProfileRate, old)
	if err := alloc.Mallopt(tune.ProfileRate, 4096); err != nil {
		t.Fatal(err)
	}
	if got := alloc.ProfileRate(); got != 4096 {
		t.Fatalf("ProfileRate() = %d after Mallopt(ProfileRate, 4096)", got)
	}
	live := alloc.LiveSamples()
	before := figuresBySite(t, mustProfile(t), "")[siteSmall]
	// About 1 KiB x 20000 / 4 KiB = 5000 samples (1 - e^-0.25 = 22% of
	// the blocks), all freed.
	profSiteSmall(1024, 1024*20000, nil)
	// (Fewer is possible: an allocation here may have reused the address of
	// a sampled block that an earlier test freed on a path that could not
	// tell the profile, such as a corruption test's, and replaced its
	// stale entry.)
	if n := alloc.LiveSamples(); n > live {
		t.Errorf("%d sampled blocks live after freeing every block, %d before", n, live)
	}
	after := figuresBySite(t, mustProfile(t), "")[siteSmall]
	if after == nil {
		t.Fatal("no sample of the site in the profile")
	}
	var objs, inuse int64
	if before != nil {
		objs, inuse = before.values[0], before.values[2]
	}
	objs = after.values[0] - objs
	// alloc_objects is scaled back to the true count, 20000.
	if objs < 18000 || objs > 22000 {
		t.Errorf("alloc_objects grew by %d for 20000 blocks", objs)
	}
	if after.values[2] != inuse {
		t.Errorf("inuse_objects %d after freeing every block, %d before", after.values[2], inuse)
	}
}

// TestSampleGaps: the gaps between samples are exponential with the rate
// as mean (the fast log2 is close enough not to bias them).
func TestSampleGaps(t *testing.T) {
	for _, q := range []uint32{1, 2, 3, 5, 255, 256, 257, 1000, 12345, 1<<26 - 1, 1 << 26, 1<<32 - 1} {
		if got, want := alloc.FastLog2(q), math.Log2(float64(q)); math.Abs(got-want) > 3e-3 {
			t.Errorf("fastlog2(%d) = %g, want %g", q, got, want)
		}
	}
	old := alloc.ProfileRate()
	defer alloc.SetProfileRate(old)
	// Go's rate, a small one (not tiny: a gap is rounded down to whole
	// bytes, half a byte less on average), and rates whose gaps need the
	// fixed-point product's high word (2^40) or come near its cap (2^58).
	for _, rate := range []int{512 << 10, 4096, 1 << 40, 1 << 58} {
		alloc.SetProfileRate(rate)
		const n = 200000
		var sum, sq float64
		for i := 0; i < n; i++ {
			g := float64(alloc.NextSampleGap())
			if g < 0 {
				t.Fatalf("rate %d: negative gap %g", rate, g)
			}
			sum += g
			sq += g * g
		}
		mean := sum / n
		sd := math.Sqrt(sq/n - mean*mean)
		// The mean of 200000 exponential draws is within 1% with 4.5
		// standard errors to spare; an exponential's deviation equals its
		// mean.
		if r := float64(rate); math.Abs(mean/r-1) > 0.01 || math.Abs(sd/r-1) > 0.02 {
			t.Errorf("rate %d: gaps' mean %.0f, deviation %.0f; want both %d", rate, mean, sd, rate)
		}
	}
}

// TestSampledSizes: at a rate of one byte every allocation is sampled, so
// the profile holds each block's exact size. Sizes up to midLimit are popped
// by Malloc's fast path, which on amd64 hands the pointer and the size to
// the sampler packed in one word: the profile must count every byte and
// every live block, the blocks must be the program's to write, and their
// frees (Free's route for sampled blocks) must take them all out again.
// (inuse_space is the live blocks times the mean size of their bucket,
// which sizes of one class share: the objects are what is exact.)
func TestSampledSizes(t *testing.T) {
	old := alloc.ProfileRate()
	alloc.SetProfileRate(1)
	defer alloc.SetProfileRate(old)
	live := alloc.LiveSamples()
	for _, size := range []int{16, 17, 1000, 4000, 32768, 65535, 65536} {
		before := figuresBySite(t, mustProfile(t), "")[siteSmall]
		const n, kept = 200, 50
		keep := make([]unsafe.Pointer, kept)
		profSiteSmall(size, size*n, keep)
		for i, p := range keep {
			b := unsafe.Slice((*byte)(p), size)
			for j := range b {
				b[j] = byte(i)
			}
		}
		mid := figuresBySite(t, mustProfile(t), "")[siteSmall]
		for _, p := range keep {
			alloc.Free(p)
		}
		after := figuresBySite(t, mustProfile(t), "")[siteSmall]
		if mid == nil || after == nil {
			t.Fatalf("size %d: no sample of the site in the profile", size)
		}
		var base [4]int64
		if before != nil {
			base = before.values
		}
		// Scaled by 1/(1-e^(-size/rate)): 1 for these sizes.
		if got := mid.values[1] - base[1]; got != int64(size*n) {
			t.Errorf("size %d: alloc_space grew by %d, want %d", size, got, size*n)
		}
		if got := mid.values[2] - base[2]; got != kept {
			t.Errorf("size %d: inuse_objects grew by %d with %d blocks live", size, got, kept)
		}
		if after.values[3] != base[3] || after.values[2] != base[2] {
			t.Errorf("size %d: inuse %d objects, %d bytes after every free, %d and %d before", size, after.values[2], after.values[3], base[2], base[3])
		}
	}
	if n := alloc.LiveSamples(); n > live {
		t.Errorf("%d sampled blocks live after freeing every block, %d before", n, live)
	}
}
