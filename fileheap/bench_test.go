package fileheap_test

import (
	"testing"

	"github.com/offheap/offheap/fileheap"
)

var sinkOff fileheap.Offset

// BenchmarkPair: Alloc and Free of one size, one goroutine (the bench's
// pair/N workload; bench/ compares it with alloc.Malloc in the same run).
func BenchmarkPair(b *testing.B) {
	for _, n := range []int{16, 64, 256, 1000, 4096, 65536} {
		b.Run(itoa(n), func(b *testing.B) {
			h, _ := open(b, 0)
			defer h.Close()
			for b.Loop() {
				off, err := h.Alloc(n)
				if err != nil {
					b.Fatal(err)
				}
				if err := h.Free(off); err != nil {
					b.Fatal(err)
				}
				sinkOff = off
			}
		})
	}
}

func itoa(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + "KiB"
	}
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		if n /= 10; n == 0 {
			return s
		}
	}
}

// BenchmarkPairParallel: BenchmarkPair/64 on every P at once, one Heap:
// the lock contended by goroutines of one process.
func BenchmarkPairParallel(b *testing.B) {
	h, _ := open(b, 0)
	defer h.Close()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			off, err := h.Alloc(64)
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Free(off); err != nil {
				b.Fatal(err)
			}
		}
	})
}
