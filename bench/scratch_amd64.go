package bench

import "unsafe"

// scratchAsm says that scratchTouch runs scratchTouchAsm.
const scratchAsm = true

// scratchTouchAsm is scratchTouch's loop in assembly (scratch_amd64.s).
//
//go:noescape
func scratchTouchAsm(p unsafe.Pointer, size, writes, zero int, acc byte) byte
