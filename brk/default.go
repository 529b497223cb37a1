package brk

import (
	"sync"
	_ "unsafe" // for go:linkname
)

// iscgo is true when C code shares the process: a cgo binary, or any -race
// binary. The build tag cgo is the wrong gate: a CGO_ENABLED=1 build that
// links no C has iscgo false and a break nobody else touches.
//
//go:linkname iscgo runtime.iscgo
var iscgo bool

// The reservation Default makes when it cannot use the real break: as large
// as the kernel allows, from defaultReserve halving down to minDefaultReserve.
const (
	defaultReserve    = 64 << 30
	minDefaultReserve = 1 << 30
)

var defaultBreak struct {
	once sync.Once
	b    *Break
}

// Default returns the process-wide break, created on first use. It is Real
// when no C code shares the process (runtime.iscgo false), Reserved otherwise:
// in cgo and -race builds glibc caches the break in __curbrk and would shrink
// it under us. If the real break cannot even be queried, Default falls back to
// Reserved as well, with a reservation of 64 GiB, or half that and so on down
// to 1 GiB if the kernel refuses. If no reservation can be made at all, it
// returns a Reserved Break of capacity zero, whose Grow always fails with
// ENOMEM. Default reads no environment variable.
func Default() *Break {
	defaultBreak.once.Do(func() { defaultBreak.b = newDefault() })
	return defaultBreak.b
}

func newDefault() *Break {
	if !iscgo {
		if b, err := newReal(); err == nil {
			return b
		}
	}
	for size := uintptr(defaultReserve); size >= minDefaultReserve; size /= 2 {
		if b, err := NewReserved(size); err == nil {
			return b
		}
	}
	return emptyBreak()
}

// emptyBreak is a Reserved Break with nothing reserved.
func emptyBreak() *Break { return &Break{kind: Reserved} }
