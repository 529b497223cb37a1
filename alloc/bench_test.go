package alloc_test

import (
	"testing"
	"unsafe"

	"github.com/offheap/offheap/alloc"
)

var sink unsafe.Pointer

// BenchmarkPair measures a Malloc+Free pair of one size on one goroutine:
// the front cache's fast path.
func BenchmarkPair(b *testing.B) {
	for _, n := range []int{16, 64, 256, 1024, 4096, 65536} {
		b.Run(itoa(n), func(b *testing.B) {
			for b.Loop() {
				p := alloc.Malloc(n)
				alloc.Free(p)
			}
		})
	}
}

// BenchmarkPairParallel is BenchmarkPair on every P.
func BenchmarkPairParallel(b *testing.B) {
	for _, n := range []int{64, 4096} {
		b.Run(itoa(n), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := alloc.Malloc(n)
					alloc.Free(p)
				}
			})
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
