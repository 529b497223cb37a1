package alloc

import "testing"

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
	var m stackMemo
	n := -1
	var good stackMemo
	for round := -1; ; round++ {
		want, what := captureHit, "the same stack"
		switch {
		case round == -1:
			want, what = captureMiss, "the first capture"
		case round == 0:
		case round <= n:
			i := round - 1
			m.pc[i] ^= 1 << 62
			want, what = captureMiss, "return address "+itoaInternal(i)+" changed (high bit)"
		case round <= 2*n-1:
			i := round - n - 1 // the record of frame i+1: 0 <= i < n-1
			next := m.fp[i+1]
			m.pc[i] ^= next & -next
			want, what = captureMiss, "return address "+itoaInternal(i)+" changed (a bit of the next record's address)"
		case round <= 3*n-2:
			k := round - 2*n + 1 // 1 <= k < n
			m.fp[k] += 8
			want, what = captureMiss, "record "+itoaInternal(k)+" moved"
		default:
			return
		}
		r := captureHere(&m)
		if r != want {
			t.Fatalf("round %d, %s: captureFP = %d, want %d", round, what, r, want)
		}
		if round == -1 {
			n, good = m.n, m
			if n < 3 {
				t.Fatalf("a stack of %d frames", n)
			}
			continue
		}
		if m.n != good.n || m.fp != good.fp || m.pc != good.pc {
			t.Fatalf("round %d, %s: the memo is not the stack after the capture", round, what)
		}
	}
}

func itoaInternal(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoaInternal(i/10) + string(rune('0'+i%10))
}
