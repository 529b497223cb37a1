package alloc_test

import (
	"runtime"
	"slices"
	"testing"

	"github.com/offheap/offheap/alloc"
)

// The call chains of TestFPStacksAgree: depth frames of noinline
// functions, then a leaf that takes both stacks at the same point.

type bothStacks struct {
	fp, callers []uintptr
}

//go:noinline
func stackLeaf() bothStacks {
	var a, b [128]uintptr
	nb := runtime.Callers(1, b[:])
	na := alloc.FPCallers(1, a[:])
	return bothStacks{fp: slices.Clone(a[:max(na, 0)]), callers: slices.Clone(b[:nb])}
}

//go:noinline
func stackChain(depth int) bothStacks {
	if depth == 0 {
		return stackLeaf()
	}
	return stackChain(depth - 1)
}

// stackInlined is inlined into stackViaInline: its frame exists only in
// runtime.Callers's list (as an entry of its own) and in the symbolized
// frames of the physical return PC.
func stackInlined() bothStacks { return stackLeaf() }

//go:noinline
func stackViaInline() bothStacks { return stackInlined() }

func funcNames(pcs []uintptr) []string {
	var out []string
	it := runtime.CallersFrames(pcs)
	for {
		f, more := it.Next()
		out = append(out, f.Function)
		if !more {
			return out
		}
	}
}

// TestFPStacksAgree: on the same call, the frame-pointer walk and
// runtime.Callers give the same stack: once the walk's physical return PCs
// are put in runtime.Callers's logical form (one entry per inlined call,
// wrapper frames such as the go statement's left out), the same return PCs
// from the caller's frame on (the first entries are two different calls in
// the same function), and the same frames once symbolized; a chain deeper
// than the sample's limit agrees as far as the walk goes.
func TestFPStacksAgree(t *testing.T) {
	if !alloc.FPUnwind() {
		t.Skipf("no frame-pointer unwinding on %s/%s in this build: samples use runtime.Callers", runtime.GOOS, runtime.GOARCH)
	}
	if !alloc.ExpandLinked {
		t.Skip("this Go release has no runtime expansion of physical stacks that offheap knows: wrapper frames differ")
	}
	check := func(what string, s bothStacks, physical int) {
		t.Helper()
		if len(s.fp) == 0 {
			t.Fatalf("%s: the frame-pointer walk failed", what)
		}
		if len(s.fp) != physical {
			t.Errorf("%s: %d physical frames, want %d", what, len(s.fp), physical)
		}
		f0, c0 := runtime.FuncForPC(s.fp[0]-1), runtime.FuncForPC(s.callers[0]-1)
		if f0 == nil || c0 == nil || f0.Name() != c0.Name() || f0.Name() != "github.com/offheap/offheap/alloc_test.stackLeaf" {
			t.Errorf("%s: first frames %v and %v, want both in stackLeaf", what, f0.Name(), c0.Name())
		}
		logical := alloc.ExpandPhysical(s.fp)
		callers := s.callers
		if len(s.fp) == alloc.MaxStack {
			callers = callers[:min(len(callers), len(logical))] // the walk stopped at its limit
		}
		if len(logical) != len(callers) || !slices.Equal(logical[1:], callers[1:]) {
			t.Errorf("%s: return PCs differ:\nframe pointers  %x\nruntime.Callers %x", what, logical, callers)
		}
		if fn, cn := funcNames(logical), funcNames(callers); !slices.Equal(fn, cn) {
			t.Errorf("%s: frames differ:\nframe pointers  %v\nruntime.Callers %v", what, fn, cn)
		}
	}
	base := len(stackChain(0).fp) // stackLeaf, stackChain and the test's own frames
	for _, depth := range []int{0, 1, 5, 20, 100} {
		check("depth "+itoa(depth), stackChain(depth), min(base+depth, alloc.MaxStack))
	}

	s := stackViaInline()
	check("inlined call", s, base) // stackLeaf, stackViaInline (with stackInlined in it), ...
	if !slices.Contains(funcNames(alloc.ExpandPhysical(s.fp)), "github.com/offheap/offheap/alloc_test.stackInlined") {
		t.Errorf("inlined call: the inlined frame is missing: %v", funcNames(alloc.ExpandPhysical(s.fp)))
	}
}
