//go:build !amd64

package bench

import "unsafe"

// scratchAsm is false: scratchTouch runs its Go loop.
const scratchAsm = false

func scratchTouchAsm(p unsafe.Pointer, size, writes, zero int, acc byte) byte { return acc }
