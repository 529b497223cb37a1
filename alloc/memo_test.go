package alloc

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestMemoHolds: memoHolds (assembly on amd64) and memoHoldsGo give the
// same answer on chains of frame records built in a buffer, intact and
// with one word changed: a record's return address or next frame pointer,
// the memo's copy of either, the end of the chain, or the memo's full flag.
// Randomized: the seed is logged, and -seed reproduces it.
func TestMemoHolds(t *testing.T) {
	seed := hardSeed(t)
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	buf := make([]uintptr, 4096)
	base := uintptr(unsafe.Pointer(&buf[0]))
	var m stackMemo
	hits, misses := 0, 0
	for step := 0; step < 20000; step++ {
		clear(buf)
		n := 1 + r.IntN(maxStack)
		full := r.IntN(4) == 0
		// Records at rising indices of buf, two words each (next frame
		// pointer, return address), written through buf: the memo holds
		// their addresses.
		var at [maxStack]int
		k := 0
		for i := 0; i < n; i++ {
			k += 2 + 2*r.IntN(3)
			at[i] = k
			m.fp[i] = base + uintptr(k)*8
			m.pc[i] = uintptr(r.Uint64())
		}
		for i := 0; i < n; i++ {
			buf[at[i]+1] = m.pc[i]
			if i+1 < n {
				buf[at[i]] = m.fp[i+1]
			} else if full {
				buf[at[i]] = base + 8 // a next record the walk did not take
			}
		}
		m.n, m.full = n, full
		// One change, or none.
		i := r.IntN(n)
		switch r.IntN(7) {
		case 0:
			buf[at[i]+1]++ // a return address
		case 1:
			if i+1 < n {
				buf[at[i]] += 16 // a next record
			}
		case 2:
			m.pc[i] ^= 1 << r.IntN(64)
		case 3:
			buf[at[i]] = base + 16 // the last one's next, or a middle one's
		case 4:
			m.full = !m.full
		}
		want := memoHoldsGo(&m)
		if got := memoHolds(&m); got != want {
			t.Fatalf("step %d (seed %d): memoHolds %v, memoHoldsGo %v (n %d, full %v, record %d)", step, seed, got, want, n, m.full, i)
		}
		if want {
			hits++
		} else {
			misses++
		}
	}
	if hits < 1000 || misses < 1000 {
		t.Errorf("%d hits and %d misses: the cases are not both exercised", hits, misses)
	}
}
