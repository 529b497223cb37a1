package arena

import (
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"
)

// TestSetSampledBesidePrevInuse: the S bit, set and cleared by one
// goroutine, and the P bit of the same header word, set and cleared at
// the same time by another (as the arena does when the chunk before is
// freed or allocated), lose no update of each other, and the size and tag
// bits stay as they were.
func TestSetSampledBesidePrevInuse(t *testing.T) {
	mem, err := syscall.Mmap(-1, 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	c := uintptr(unsafe.Pointer(&mem[0])) // outside the Go heap, as a chunk is
	const size, tag = 0x12340, uintptr(0xbeef) << tagShift
	*headWord(c) = tag | size
	const rounds = 500000
	var wg sync.WaitGroup
	var ready atomic.Int32
	wg.Add(2)
	lostS, lostP := 0, 0
	go func() {
		defer wg.Done()
		ready.Add(1)
		for ready.Load() < 2 {
		}
		for i := 0; i < rounds; i++ {
			SetSampled(c, true)
			if !IsSampled(c) {
				lostS++
			}
			SetSampled(c, false)
			if IsSampled(c) {
				lostS++
			}
		}
	}()
	go func() {
		defer wg.Done()
		ready.Add(1)
		for ready.Load() < 2 {
		}
		for i := 0; i < rounds; i++ {
			setPrevInuse(c)
			if !prevInuse(c) {
				lostP++
			}
			clearPrevInuse(c)
			if prevInuse(c) {
				lostP++
			}
		}
	}()
	wg.Wait()
	lost := lostS + lostP
	if lost != 0 {
		t.Fatalf("updates lost: %d of the S bit, %d of the P bit", lostS, lostP)
	}
	if w := *headWord(c); w != tag|size {
		t.Fatalf("header %#x after the updates, want %#x", w, tag|size)
	}
	setPrevInuse(c)
	SetSampled(c, true)
	if w := *headWord(c); w != tag|size|flagP|flagS {
		t.Fatalf("header %#x with P and S set, want %#x", w, tag|size|flagP|flagS)
	}
}
