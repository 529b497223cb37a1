package alloc

import (
	"syscall"
	"testing"
	"unsafe"
)

// TestCallocFresh: Calloc of blocks above 1 KiB carved from memory fresh
// from the system leaves their pages alone (they read zero), as glibc's
// calloc does and as Calloc's doc says: 2,000 blocks of 48 KiB fault in
// about one page each (its header), not their 24,000 pages. populate is
// off in the child: with it, the growth of the heap is faulted in ahead
// by design. Blocks that are freed and asked for again are zero in every
// byte asked for.
func TestCallocFresh(t *testing.T) {
	if runInChild(t, "OFFHEAP=populate=off") {
		return
	}
	minflt := func() int64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return ru.Minflt
	}
	Free(Malloc(16)) // the heap set up
	const n, size = 2000, 48 << 10
	ps := make([]unsafe.Pointer, n)
	f0 := minflt()
	for i := range ps {
		if ps[i] = Calloc(1, size); ps[i] == nil {
			t.Fatalf("Calloc(1, %d) = nil", size)
		}
	}
	faults, pages := minflt()-f0, int64(n*size/4096)
	t.Logf("%d blocks of %d bytes: %d minor faults, %d pages", n, size, faults, pages)
	if faults > pages/4 {
		t.Errorf("Calloc of fresh memory faulted %d pages of %d: it cleared what reads zero", faults, pages)
	}
	for _, p := range ps {
		b := unsafe.Slice((*byte)(p), size)
		for j := range b {
			if b[j] != 0 {
				t.Fatalf("Calloc(1, %d) = %p: byte %d is %#x", size, p, j, b[j])
			}
		}
		for j := range b {
			b[j] = 0xa5
		}
		Free(p)
	}
	for i := range ps {
		sz := size - 37*i%4000 // other requests of the same classes
		p := Calloc(1, sz)
		if p == nil {
			t.Fatalf("Calloc(1, %d) = nil", sz)
		}
		b := unsafe.Slice((*byte)(p), sz)
		for j := range b {
			if b[j] != 0 {
				t.Fatalf("Calloc(1, %d) = %p, reused: byte %d is %#x", sz, p, j, b[j])
			}
		}
		ps[i] = p
	}
	for _, p := range ps {
		Free(p)
	}
}
