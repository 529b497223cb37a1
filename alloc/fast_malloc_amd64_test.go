//go:build amd64 && go1.26 && !go1.27 && !race && !asan && !msan && !offheap_noasm

package alloc

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// TestFastMallocAsmLayout: fast_malloc_amd64.s copies from the Go code the
// safe-linking of a cache link (arena.Protect: the field's address shifted
// right by 12, xored in), where the link and the key live (the chunk's
// first and second user words, keyWord), the key itself (keyFor), and
// requestClass's classes. Were any of them to change, the assembly would
// misread cached chunks; this test says which.
func TestFastMallocAsmLayout(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for range 10000 {
		ch := uintptr(rng.Uint64()>>17) &^ 15
		v := uintptr(rng.Uint64())
		if got, want := arena.Protect(ch+16, v), (ch+16)>>12^v; got != want {
			t.Fatalf("arena.Protect(%#x, %#x) = %#x, the assembly computes %#x", ch+16, v, got, want)
		}
		if got := uintptr(unsafe.Pointer(keyWord(ch))); got != ch+24 {
			t.Fatalf("keyWord(%#x) = %#x, the assembly reads %#x", ch, got, ch+24)
		}
		if got, want := keyFor(ch), uintptr(cacheKey)^ch; got != want {
			t.Fatalf("keyFor(%#x) = %#x, the assembly computes %#x", ch, got, want)
		}
	}
	for n := uintptr(0); n <= midLimit; n++ {
		// The assembly's cacheBin offset: (n-9) &^ 15 for a small request
		// (0 below 9), midClassOf's class above.
		want := (nSmall + int(midClassOf[(max(n, 1)-1)>>midShift])) * 16
		if n <= smallLimit {
			want = max(int(n)-9, 0) &^ 15
		}
		if got := requestClass(n) * 16; got != want {
			t.Fatalf("requestClass(%d)*16 = %d, the assembly computes %d", n, got, want)
		}
	}
}
