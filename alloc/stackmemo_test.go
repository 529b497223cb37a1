package alloc

import (
	"fmt"
	"testing"
)

//go:noinline
func captureHere(m *stackMemo) int { return captureFP(m, 1) }

// TestCaptureFPMemo: captureFP recognizes the stack its memo holds, and
// only that one. From one call site, the first capture walks (a miss) and
// the next is a hit; then, one round each, a return address of the memo or
// a record address in it is changed, and the capture must walk again (and
// leave the memo as the stack is, for the next round). The changes are a
// high bit, and the lowest set bit of the next record's address: a check
// that merged a frame's two comparisons wrongly (a ^ b | c ^ d, which Go
// reads as ((a ^ b) | c) ^ d) takes the second for a hit.
func TestCaptureFPMemo(t *testing.T) {
	if !fpUnwind {
		t.Skip("samples take runtime.Callers in this build")
	}
	growStack(64) // so that the rounds do not move the stack (they start over if it moves)
	for attempt := 0; attempt < 5; attempt++ {
		if memoRounds(t) {
			return
		}
	}
	t.Fatal("the goroutine's stack moved in every attempt")
}

// memoRounds runs TestCaptureFPMemo's rounds, and reports false when the
// stack moved meanwhile (a hit would be a miss then).
func memoRounds(t *testing.T) bool {
	var m, good stackMemo
	n := -1
	for round := -1; ; round++ {
		want, what, i := captureHit, 0, 0
		switch {
		case round == -1:
			want = captureMiss
		case round == 0:
		case round <= n:
			i = round - 1
			m.pc[i] ^= 1 << 62
			want, what = captureMiss, 1
		case round <= 2*n-1:
			i = round - n - 1 // the record of frame i+1: 0 <= i < n-1
			next := m.fp[i+1]
			m.pc[i] ^= next & -next
			want, what = captureMiss, 2
		case round <= 3*n-2:
			i = round - 2*n + 1 // 1 <= i < n
			m.fp[i] += 8
			want, what = captureMiss, 3
		default:
			return true
		}
		r := captureHere(&m)
		if round >= 0 && m.fp[0] != good.fp[0] {
			return false
		}
		desc := func() string {
			return fmt.Sprintf([...]string{"the same stack%.0d", "return address %d changed (high bit)", "return address %d changed (a bit of the next record's address)", "record %d moved"}[what], i)
		}
		if r != want {
			t.Fatalf("round %d, %s: captureFP = %d, want %d", round, desc(), r, want)
		}
		if round == -1 {
			n, good = m.n, m
			if n < 3 {
				t.Fatalf("a stack of %d frames", n)
			}
			continue
		}
		if m.n != good.n || m.fp != good.fp || m.pc != good.pc {
			t.Fatalf("round %d, %s: the memo is not the stack after the capture", round, desc())
		}
	}
}

// growStack uses kb KiB of stack, so that the goroutine's stack is at
// least that large from then on.
//
//go:noinline
func growStack(kb int) byte {
	var b [1024]byte
	if kb > 1 {
		b[kb&1023] = growStack(kb - 1)
	}
	return b[0]
}
