//go:build go1.26 && !go1.27

package alloc

import _ "unsafe" // for go:linkname

// expandPhysical turns a stack of physical return PCs (the frame-pointer
// walk's) into runtime.Callers's logical form: one entry per inlined
// call, wrapper frames (the go statement's closures, method-value and
// interface wrappers) left out as runtime.Callers leaves them out. It uses
// the runtime's own expansion, which runtime/pprof applies to the
// frame-pointer stacks of its block and mutex profiles; expandLinked says
// it is there (labels.go explains why such a link is tied to the Go
// release it was read from).
func expandPhysical(stk []uintptr) []uintptr {
	src := make([]uintptr, len(stk)+1) // src[0] is the number of frames to skip
	copy(src[1:], stk)
	dst := make([]uintptr, 4*len(stk)+8)
	for {
		n := runtime_fpunwindExpand(dst, src)
		if n < len(dst) {
			return dst[:n]
		}
		dst = make([]uintptr, 2*len(dst))
	}
}

const expandLinked = true

//go:linkname runtime_fpunwindExpand runtime.pprof_fpunwindExpand
func runtime_fpunwindExpand(dst, src []uintptr) int
