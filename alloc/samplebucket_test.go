package alloc

import "testing"

// TestBucketsBoundedBySizeClass: one call site allocating 20,000 distinct
// sizes, every allocation sampled, makes at most a bucket per size class,
// not one per size (buckets are never freed: a bucket per size grew the
// soak's memory without bound); a class is never below the size.
func TestBucketsBoundedBySizeClass(t *testing.T) {
	old := ProfileRate()
	SetProfileRate(1)
	defer SetProfileRate(old)
	before := len(allBuckets())
	for i := 0; i < 20000; i++ {
		Free(Malloc(1 + i*37%300000))
	}
	made := len(allBuckets()) - before
	if made > 300 {
		t.Fatalf("20,000 sizes from one site made %d buckets, want at most a few hundred", made)
	}
	t.Logf("%d buckets for 20,000 sizes", made)
	for _, n := range []int{1, 24, 25, 1000, 1024, 1025, 65536, 65537, 1 << 20, 1<<20 + 1} {
		if c := profileClass(n); c < n {
			t.Errorf("profileClass(%d) = %d, below the size", n, c)
		}
	}
}
