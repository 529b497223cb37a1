package alloc

import "testing"

// TestFPWalk: fpWalk (assembly on amd64) and fpWalkGo give the same frames,
// hash and result from the same stack: at depths below and above
// maxStack (walkEnd, walkFull), and with a limit that cuts the chain
// (walkFailed, after the same frames); the hash is stackHash of the PCs.
func TestFPWalk(t *testing.T) {
	if !fpUnwindBuilt || !fpUnwind {
		t.Skip("no frame-pointer unwinder in this build")
	}
	for _, depth := range []int{0, 5, 40, maxStack + 10} {
		walkAt(depth, func() {
			fp, _, hi := callerFrame()
			for _, cut := range []uintptr{0, 3} {
				limit := hi - 16
				if cut > 0 {
					// The record cut frames up is the last one allowed.
					var m stackMemo
					n, _, _ := fpWalkGo(fp, limit, &m.fp[0], &m.pc[0])
					if n <= int(cut) {
						continue
					}
					limit = m.fp[cut]
				}
				var a, b stackMemo
				na, ha, sa := fpWalk(fp, limit, &a.fp[0], &a.pc[0])
				nb, hb, sb := fpWalkGo(fp, limit, &b.fp[0], &b.pc[0])
				if na != nb || ha != hb || sa != sb || a.fp != b.fp || a.pc != b.pc {
					t.Fatalf("depth %d, cut %d: fpWalk gave %d frames, hash %#x, result %d; fpWalkGo %d, %#x, %d (or other frames)",
						depth, cut, na, ha, sa, nb, hb, sb)
				}
				if h := stackHash(a.pc[:na]); h != ha {
					t.Fatalf("depth %d, cut %d: walk hash %#x, stackHash %#x", depth, cut, ha, h)
				}
				want := walkEnd
				switch {
				case cut > 0:
					want = walkFailed
				case depth >= maxStack:
					want = walkFull
				}
				if sa != want || (sa == walkFull) != (na == maxStack) || (cut > 0 && na != int(cut)+1) {
					t.Fatalf("depth %d, cut %d: result %d after %d frames, want result %d", depth, cut, sa, na, want)
				}
			}
		})
	}
}

// walkAt calls f depth frames deeper than its caller.
//
//go:noinline
func walkAt(depth int, f func()) {
	if depth == 0 {
		f()
		return
	}
	walkAt(depth-1, f)
}
