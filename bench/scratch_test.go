package bench

import (
	"testing"
	"unsafe"
)

// TestScratchTouch: the assembly loop of cache-scratch writes and reads
// what the Go loop does, and adds up the same bytes.
func TestScratchTouch(t *testing.T) {
	for _, size := range []int{1, 3, 8, 64} {
		for _, writes := range []int{1, 2, 1000} {
			a, b := make([]byte, size), make([]byte, size)
			for i := range a {
				a[i], b[i] = 0xAA, 0xAA
			}
			got := scratchTouch(unsafe.Pointer(&a[0]), size, writes, 0, 7)
			want := byte(7)
			for j := 0; j < writes; j++ {
				for k := 0; k < size; k++ {
					b[k] = byte(k)
					want += b[k]
				}
			}
			if got != want || string(a) != string(b) {
				t.Fatalf("size %d, %d writes: acc %d, bytes %v; want %d, %v", size, writes, got, a, want, b)
			}
		}
	}
	var x [1]byte
	if got := scratchTouch(unsafe.Pointer(&x[0]), 0, 5, 0, 9); got != 9 {
		t.Fatalf("no bytes: acc %d, want 9 unchanged", got)
	}
}
