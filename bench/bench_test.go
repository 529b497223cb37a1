package bench_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/bench"
)

// The Go-side peers of issue 3's suite; the C peers are in bench/cpeer.
// go test -run '^$' -bench . ./bench

// peers is a function, not a variable, so that nothing sets offheap up
// (OffheapPeer queries the program break) when the test binary starts as
// BenchmarkFirstMalloc's child.
func peers() []bench.Peer {
	return []bench.Peer{bench.OffheapPeer(), bench.GoHeapPeer(), bench.FileHeapPeer()}
}

// BenchmarkPair: same-size malloc+free pairs, one sub-benchmark per size.
func BenchmarkPair(b *testing.B) { bench.BenchKind(b, "pair", peers()...) }

// BenchmarkRandomLive: 1,000 live blocks of 16-1024 bytes.
func BenchmarkRandomLive(b *testing.B) { bench.BenchKind(b, "random-live", peers()...) }

// BenchmarkThreadShape: glibc's bench-malloc-thread working set.
func BenchmarkThreadShape(b *testing.B) { bench.BenchKind(b, "thread-shape", peers()...) }

// BenchmarkPairParallel: BenchmarkPair under b.RunParallel.
func BenchmarkPairParallel(b *testing.B) { bench.BenchKind(b, "pair-par", peers()...) }

// BenchmarkRandomLiveParallel: BenchmarkRandomLive under b.RunParallel.
func BenchmarkRandomLiveParallel(b *testing.B) { bench.BenchKind(b, "random-live-par", peers()...) }

// BenchmarkThreadShapeParallel: BenchmarkThreadShape under b.RunParallel.
func BenchmarkThreadShapeParallel(b *testing.B) { bench.BenchKind(b, "thread-shape-par", peers()...) }

// BenchmarkProdCons: one goroutine allocates, another frees.
func BenchmarkProdCons(b *testing.B) { bench.BenchKind(b, "prodcons", peers()...) }

// BenchmarkHeapDestroy: issue 14's jobs of 100,000 blocks, each dropped
// whole (offheap: a private heap destroyed; Go's heap: a collection), and
// on offheap freed one by one in the process heap (free/offheap). ns/op is
// per block; -benchtime 1000000x times ten whole jobs (b.N not a multiple
// of 100,000 ends with a shorter one).
func BenchmarkHeapDestroy(b *testing.B) {
	bench.BenchKind(b, "heap-destroy", bench.OffheapPeer(), bench.GoHeapPeer())
}

var sink []byte

// BenchmarkDirectPair is offheap's 64-byte pair without the Allocator
// interface: the difference to BenchmarkPair/64/offheap is what the
// harness's dynamic call costs.
func BenchmarkDirectPair(b *testing.B) {
	for b.Loop() {
		p := alloc.Malloc(64)
		*(*byte)(p) = 1
		alloc.Free(p)
	}
}

// BenchmarkFirstMalloc: issue 11's target 8, the first Malloc(16) of a
// process (at most 50 us). Each iteration starts this test binary afresh
// (TestMain's BENCH_FIRST_MALLOC mode), which times its first call and
// nothing else; us/first-malloc is the median, max-us/first-malloc the
// slowest. ns/op is the whole process, start to exit. glibc's figures are
// bench/cpeer's BenchmarkFirstMalloc.
func BenchmarkFirstMalloc(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Skip(err)
	}
	for _, p := range []string{"offheap", "go-heap"} {
		b.Run(p, func(b *testing.B) {
			bench.BenchFirst(b, func() *exec.Cmd {
				cmd := exec.Command(exe, "-test.run=^$")
				cmd.Env = append(os.Environ(), "BENCH_FIRST_MALLOC="+p)
				return cmd
			})
		})
	}
}
