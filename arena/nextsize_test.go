package arena

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestSizeLeaderWalks checks the nextsize walks that start at the nearer
// end of a sorted large bin against glibc's (down from the largest size to
// place a chunk, up from the smallest to serve a request), on rings built
// by glibc's insertion: random sizes, many repeated, and every query size
// from below the smallest to above the largest.
func TestSizeLeaderWalks(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	// Chunk i's words at 64i, the bin's after the last chunk: memory of
	// the system's, as the arena's is (the race detector's checkptr
	// refuses raw words in Go's heap).
	mem, err := syscall.Mmap(-1, 0, 64*64, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer syscall.Munmap(mem)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	for round := 0; round < 200; round++ {
		n := 1 + rng.IntN(60)
		chunk := func(i int) uintptr { return base + uintptr(64*i) }
		bin := chunk(n)
		setFd(bin, bin)
		setBk(bin, bin)
		spread := uintptr(1 + rng.IntN(64))
		for i := 0; i < n; i++ {
			p := chunk(i)
			size := 1024 + uintptr(rng.IntN(int(spread)))*16
			setWord(p+sizeSz, size)
			glibcInsert(bin, p)
		}
		first := fd(bin)
		smallest, largest := chunkSize(bk(bin)), chunkSize(first)
		for q := smallest; q <= largest; q += 16 {
			if got, want := sizeLeaderAtMost(first, q, smallest), glibcAtMost(first, q); got != want {
				t.Fatalf("seed %d round %d: at most %d: %#x (size %d), glibc's walk %#x (size %d)", seed, round, q, got, chunkSize(got), want, chunkSize(want))
			}
		}
		for q := smallest - 16; q <= largest; q += 16 {
			if got, want := sizeLeaderAtLeast(first, q), glibcAtLeast(first, q); got != want {
				t.Fatalf("seed %d round %d: at least %d: %#x (size %d), glibc's walk %#x (size %d)", seed, round, q, got, chunkSize(got), want, chunkSize(want))
			}
		}
	}
}

// glibcAtMost is glibc's walk down the nextsize ring from the largest size.
func glibcAtMost(first, size uintptr) uintptr {
	fwd := first
	for size < chunkSize(fwd) {
		fwd = fdNextsize(fwd)
	}
	return fwd
}

// glibcAtLeast is glibc's walk up the nextsize ring from the smallest size.
func glibcAtLeast(first, nb uintptr) uintptr {
	victim := bkNextsize(first)
	for chunkSize(victim) < nb {
		victim = bkNextsize(victim)
	}
	return victim
}

// glibcInsert puts chunk p into sorted large bin bin as glibc 2.36's
// _int_malloc does, walking down from the largest size.
func glibcInsert(bin, p uintptr) {
	size := chunkSize(p)
	bck, fwd := bin, fd(bin)
	if fwd != bck {
		if size < chunkSize(bk(bck)) {
			fwd = bck
			bck = bk(bck)
			first := fd(fwd)
			setFdNextsize(p, first)
			setBkNextsize(p, bkNextsize(first))
			setBkNextsize(first, p)
			setFdNextsize(bkNextsize(p), p)
		} else {
			fwd = glibcAtMost(fwd, size)
			if size == chunkSize(fwd) {
				fwd = fd(fwd)
				setFdNextsize(p, 0)
				setBkNextsize(p, 0)
			} else {
				setFdNextsize(p, fwd)
				setBkNextsize(p, bkNextsize(fwd))
				setBkNextsize(fwd, p)
				setFdNextsize(bkNextsize(p), p)
			}
			bck = bk(fwd)
		}
	} else {
		setFdNextsize(p, p)
		setBkNextsize(p, p)
	}
	setBk(p, bck)
	setFd(p, fwd)
	setBk(fwd, p)
	setFd(bck, p)
}
