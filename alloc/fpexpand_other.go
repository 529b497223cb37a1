//go:build !go1.26 || go1.27

package alloc

import "runtime"

// expandPhysical turns a stack of physical return PCs into
// runtime.Callers's logical form as far as the public API allows: each PC
// gives one entry per frame that runtime.CallersFrames finds at it (its
// inlined calls). Wrapper frames stay, which runtime.Callers would have left
// out; fpexpand_go126.go does better with the runtime's own expansion.
func expandPhysical(stk []uintptr) []uintptr {
	var out []uintptr
	for _, pc := range stk {
		it := runtime.CallersFrames([]uintptr{pc})
		first := true
		for {
			f, more := it.Next()
			if first {
				out = append(out, pc)
				first = false
			} else {
				out = append(out, f.PC+1)
			}
			if !more {
				break
			}
		}
	}
	return out
}

const expandLinked = false
