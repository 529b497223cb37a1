package bench_test

import (
	"testing"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/bench"
)

// The Go-side peers of issue 3's suite; the C peers are in bench/cpeer.
// go test -run '^$' -bench . ./bench

var peers = []bench.Peer{bench.OffheapPeer(), bench.GoHeapPeer()}

// BenchmarkPair: same-size malloc+free pairs, one sub-benchmark per size.
func BenchmarkPair(b *testing.B) { bench.BenchKind(b, "pair", peers...) }

// BenchmarkRandomLive: 1,000 live blocks of 16-1024 bytes.
func BenchmarkRandomLive(b *testing.B) { bench.BenchKind(b, "random-live", peers...) }

// BenchmarkThreadShape: glibc's bench-malloc-thread working set.
func BenchmarkThreadShape(b *testing.B) { bench.BenchKind(b, "thread-shape", peers...) }

// BenchmarkPairParallel: BenchmarkPair under b.RunParallel.
func BenchmarkPairParallel(b *testing.B) { bench.BenchKind(b, "pair-par", peers...) }

// BenchmarkRandomLiveParallel: BenchmarkRandomLive under b.RunParallel.
func BenchmarkRandomLiveParallel(b *testing.B) { bench.BenchKind(b, "random-live-par", peers...) }

// BenchmarkThreadShapeParallel: BenchmarkThreadShape under b.RunParallel.
func BenchmarkThreadShapeParallel(b *testing.B) { bench.BenchKind(b, "thread-shape-par", peers...) }

// BenchmarkProdCons: one goroutine allocates, another frees.
func BenchmarkProdCons(b *testing.B) { bench.BenchKind(b, "prodcons", peers...) }

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
