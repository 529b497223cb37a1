//go:build cgo

package cpeer

/*
#cgo CFLAGS: -O2 -fno-builtin-malloc -fno-builtin-free
#include <stdlib.h>
#include "native.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/offheap/offheap/bench"
)

// Peers returns the cgo and native peers of the C allocator this binary
// links (Lib), after checking that malloc is that allocator.
func Peers() ([]bench.Peer, error) {
	about, err := Identify()
	if err != nil {
		return nil, err
	}
	return []bench.Peer{
		bench.GoPeer(Lib+"-cgo", about+": malloc/free through cgo, one crossing per call",
			func() bench.Allocator { return CgoMalloc{} }, nil),
		{
			Name:      Lib + "-native",
			About:     about + ": the same loops in C (one cgo call per 1,024 operations)",
			NewWorker: newNativeWorker,
		},
	}, nil
}

// CgoMalloc is the C allocator through cgo: one cgo call to malloc, one
// to free.
type CgoMalloc struct{}

// Malloc calls C malloc.
func (CgoMalloc) Malloc(n int) unsafe.Pointer { return C.cpeer_malloc(C.size_t(n)) }

// Free calls C free.
func (CgoMalloc) Free(p unsafe.Pointer) { C.cpeer_free(p) }

func newNativeWorker(w *bench.Workload, worker int) (bench.Worker, error) {
	switch w.Kind {
	case bench.Pair:
		return nativePair{C.size_t(w.Size)}, nil
	case bench.Mixed:
		return newNativeMix(w.Mix, worker), nil
	case bench.ProdCons:
		return nativeProdCons{C.size_t(w.Size)}, nil
	}
	return nil, fmt.Errorf("cpeer: no native loop for workload %s", w.Name)
}

type nativePair struct{ size C.size_t }

func (w nativePair) Run(n int) { C.cpeer_pair(w.size, C.int64_t(n)) }
func (w nativePair) Close()    {}

type nativeProdCons struct{ size C.size_t }

func (w nativeProdCons) Run(n int) {
	if err := C.cpeer_prodcons(w.size, C.int64_t(n)); err != 0 {
		panic(fmt.Sprintf("cpeer: producer/consumer failed: error %d", int(err)))
	}
}
func (w nativeProdCons) Close() {}

type nativeMix struct{ m *C.cpeer_mix }

// cTables holds the C copies of the mixed workloads' tables, made once per
// table and kept for the life of the process.
var cTables sync.Map // *bench.Mix -> [2]*C.uint32_t

func tablesFor(mix *bench.Mix) (sizes, offsets *C.uint32_t) {
	if t, ok := cTables.Load(mix); ok {
		p := t.([2]*C.uint32_t)
		return p[0], p[1]
	}
	copyOut := func(src []uint32) *C.uint32_t {
		p := (*C.uint32_t)(C.malloc(C.size_t(len(src) * 4)))
		copy(unsafe.Slice((*uint32)(unsafe.Pointer(p)), len(src)), src)
		return p
	}
	t := [2]*C.uint32_t{copyOut(mix.Sizes[:]), copyOut(mix.Offsets[:])}
	if old, loaded := cTables.LoadOrStore(mix, t); loaded {
		C.free(unsafe.Pointer(t[0]))
		C.free(unsafe.Pointer(t[1]))
		t = old.([2]*C.uint32_t)
	}
	return t[0], t[1]
}

func newNativeMix(mix *bench.Mix, worker int) *nativeMix {
	m := (*C.cpeer_mix)(C.calloc(1, C.size_t(unsafe.Sizeof(C.cpeer_mix{}))))
	m.slots = (*unsafe.Pointer)(C.calloc(C.size_t(mix.Slots), C.size_t(unsafe.Sizeof(unsafe.Pointer(nil)))))
	m.nslots = C.uint32_t(mix.Slots)
	m.sizes, m.offsets = tablesFor(mix)
	o, s := bench.Seeds(worker)
	m.off_state, m.size_state = C.uint32_t(o), C.uint32_t(s)
	C.cpeer_mix_fill(m)
	return &nativeMix{m}
}

func (w *nativeMix) Run(n int) { C.cpeer_mix_run(w.m, C.int64_t(n)) }

func (w *nativeMix) Close() {
	if w.m == nil {
		return
	}
	C.cpeer_mix_close(w.m)
	C.free(unsafe.Pointer(w.m.slots))
	C.free(unsafe.Pointer(w.m))
	w.m = nil
}

// constants exposes native.h's constants to the tests.
func constants() (mixSizes, mixOffsets, ringSize, ringPublish int) {
	return C.CPEER_MIX_SIZES, C.CPEER_MIX_OFFSETS, C.CPEER_RING_SIZE, C.CPEER_RING_PUBLISH
}
