//go:build cgo

package cpeer

/*
#cgo CFLAGS: -O2 -fno-builtin-malloc -fno-builtin-free
#include <stdlib.h>
#include "native.h"
#include "workloads.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
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
			About:     about + ": the same loops in C (one cgo call per grain of the shared count, 1,024 operations or more)",
			NewWorker: newNativeWorker,
			First:     bench.NativeFirst,
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

// Realloc calls C realloc.
func (CgoMalloc) Realloc(p unsafe.Pointer, n int) unsafe.Pointer {
	return C.cpeer_realloc(p, C.size_t(n))
}

func newNativeWorker(w *bench.Workload, worker int) (bench.Worker, error) {
	switch w.Kind {
	case bench.Pair:
		return nativePair{C.size_t(w.Size)}, nil
	case bench.Mixed:
		return newNativeMix(w.Mix, worker), nil
	case bench.ProdCons:
		return nativeProdCons{C.size_t(w.Size)}, nil
	case bench.Simple:
		return nativeSimple{C.size_t(w.Size), C.int(w.N)}, nil
	case bench.Larson:
		return newNativeLarson(w.Threads(runtime.GOMAXPROCS(0)))
	case bench.Xmalloc:
		return nativeXmalloc{C.int(w.Threads(runtime.GOMAXPROCS(0)) / 2), C.size_t(w.Size)}, nil
	case bench.AllocTest:
		return newNativeAllocTest(bench.AllocTestItems / w.Threads(runtime.GOMAXPROCS(0)))
	case bench.RPTest:
		return newNativeRPTest(w.Threads(runtime.GOMAXPROCS(0)))
	case bench.MStress:
		return newNativeMStress(w.Threads(runtime.GOMAXPROCS(0)))
	case bench.Scratch:
		return nativeScratch{C.int(w.Threads(runtime.GOMAXPROCS(0))), C.size_t(w.Size)}, nil
	case bench.Churn:
		return newNativeChurn(w.Churn, worker, w.Threads(runtime.GOMAXPROCS(0)))
	case bench.HeapJob:
		return newNativeHeapJob(w)
	}
	return nil, fmt.Errorf("cpeer: no native loop for workload %s", w.Name)
}

// check panics with a message naming the workload when a C loop failed.
func check(workload string, err C.int) {
	switch {
	case err == -2:
		panic(fmt.Sprintf("cpeer: %s: a block's contents were corrupted", workload))
	case err != 0:
		panic(fmt.Sprintf("cpeer: %s failed: error %d", workload, int(err)))
	}
}

type nativeSimple struct {
	size    C.size_t
	nblocks C.int
}

func (w nativeSimple) Run(n int) { C.cpeer_simple(w.size, w.nblocks, C.int64_t(n)) }
func (w nativeSimple) Close()    {}

type nativeLarson struct{ w *C.cpeer_larson }

func newNativeLarson(threads int) (bench.Worker, error) {
	w := C.cpeer_larson_new(C.int(threads))
	if w == nil {
		return nil, errors.New("cpeer: larson: out of memory")
	}
	return &nativeLarson{w}, nil
}

func (w *nativeLarson) Run(n int) { check("larson", C.cpeer_larson_run(w.w, C.int64_t(n))) }
func (w *nativeLarson) Close() {
	C.cpeer_larson_close(w.w)
	w.w = nil
}

type nativeXmalloc struct {
	threads C.int
	size    C.size_t
}

func (w nativeXmalloc) Run(n int) {
	check("xmalloc-test", C.cpeer_xmalloc_run(w.threads, w.size, C.int64_t(n)))
}
func (w nativeXmalloc) Close() {}

type nativeAllocTest struct{ w *C.cpeer_alloctest }

func newNativeAllocTest(items int) (bench.Worker, error) {
	w := C.cpeer_alloctest_new(C.uint32_t(items))
	if w == nil {
		return nil, errors.New("cpeer: alloc-test: out of memory")
	}
	return &nativeAllocTest{w}, nil
}

func (w *nativeAllocTest) Run(n int) { C.cpeer_alloctest_run(w.w, C.int64_t(n)) }
func (w *nativeAllocTest) Close() {
	C.cpeer_alloctest_close(w.w)
	w.w = nil
}

type nativeRPTest struct{ w *C.cpeer_rptest }

// rpTables holds the C copy of rptest's tables, made once.
var rpTables = sync.OnceValue(func() [3]*C.uint32_t {
	t := bench.RPTestTables()
	return [3]*C.uint32_t{copyOut(t.Sizes[:]), copyOut(t.AllocOps[:]), copyOut(t.FreeOps[:])}
})

func newNativeRPTest(threads int) (bench.Worker, error) {
	t := rpTables()
	w := C.cpeer_rptest_new(C.int(threads), t[0], t[1], t[2])
	if w == nil {
		return nil, errors.New("cpeer: rptest: out of memory")
	}
	return &nativeRPTest{w}, nil
}

func (w *nativeRPTest) Run(n int) { check("rptest", C.cpeer_rptest_run(w.w, C.int64_t(n))) }
func (w *nativeRPTest) Close() {
	C.cpeer_rptest_close(w.w)
	w.w = nil
}

type nativeMStress struct{ w *C.cpeer_mstress }

func newNativeMStress(threads int) (bench.Worker, error) {
	w := C.cpeer_mstress_new(C.int(threads))
	if w == nil {
		return nil, errors.New("cpeer: mstress: out of memory")
	}
	return &nativeMStress{w}, nil
}

func (w *nativeMStress) Run(n int) { check("mstress", C.cpeer_mstress_run(w.w, C.int64_t(n))) }
func (w *nativeMStress) Close() {
	err := C.cpeer_mstress_close(w.w)
	w.w = nil
	check("mstress", err)
}

type nativeScratch struct {
	threads C.int
	size    C.size_t
}

func (w nativeScratch) Run(n int) {
	check("cache-scratch", C.cpeer_scratch_run(w.threads, w.size, C.int64_t(n)))
}
func (w nativeScratch) Close() {}

type nativeChurn struct{ w *C.cpeer_churn }

func newNativeChurn(c *bench.ChurnSpec, worker, workers int) (bench.Worker, error) {
	w := C.cpeer_churn_new(C.int64_t(c.Share(worker, workers)), C.uint32_t(c.MinSize), C.uint32_t(c.MaxSize), C.uint64_t(bench.ChurnSeed(worker)))
	if w == nil {
		return nil, errors.New("cpeer: churn: out of memory")
	}
	return &nativeChurn{w}, nil
}

func (w *nativeChurn) Run(n int) { C.cpeer_churn_run(w.w, C.int64_t(n)) }
func (w *nativeChurn) Close() {
	C.cpeer_churn_close(w.w)
	w.w = nil
}

// nativeHeapJob is heap-destroy in C: each job dropped whole through the
// allocator's own heaps where it has them (mimalloc, jemalloc), a free
// each otherwise or with Workload.FreeEach.
type nativeHeapJob struct{ w *C.cpeer_heapjob }

func newNativeHeapJob(w *bench.Workload) (bench.Worker, error) {
	sizes, _ := tablesFor(w.Mix)
	destroy := C.int(1)
	if w.FreeEach {
		destroy = 0
	}
	j := C.cpeer_heapjob_new(C.int64_t(w.N), sizes, C.uint32_t(bench.HeapJobSeed()), destroy)
	if j == nil {
		return nil, errors.New("cpeer: heap-destroy: out of memory")
	}
	return &nativeHeapJob{j}, nil
}

func (w *nativeHeapJob) Run(n int) { check(bench.HeapDestroy, C.cpeer_heapjob_run(w.w, C.int64_t(n))) }
func (w *nativeHeapJob) Close() {
	C.cpeer_heapjob_close(w.w)
	w.w = nil
}

// JobHeaps reports whether the native heap-destroy drops its jobs through
// the allocator's own heaps (mimalloc's, jemalloc's), not a free each.
func JobHeaps() bool { return C.cpeer_heapjob_heaps() != 0 }

// heapJobSizes returns the first k sizes the C heap-destroy draws.
func heapJobSizes(mix *bench.Mix, k int) []uint32 {
	sizes, _ := tablesFor(mix)
	out := make([]uint32, k)
	C.cpeer_heapjob_sizes(sizes, C.uint32_t(bench.HeapJobSeed()), C.int(k), (*C.uint32_t)(unsafe.Pointer(&out[0])))
	return out
}

// copyOut copies src to C memory that lives as long as the process.
func copyOut(src []uint32) *C.uint32_t {
	p := (*C.uint32_t)(C.malloc(C.size_t(len(src) * 4)))
	copy(unsafe.Slice((*uint32)(unsafe.Pointer(p)), len(src)), src)
	return p
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
	if mix.Touch {
		m.touch = 1
	}
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

// churnDraws exposes the C churn's first k draws from seed to the tests.
func churnDraws(seed uint64, n int, min, span uint32, k int) (slots []int64, sizes []uint32) {
	slots, sizes = make([]int64, k), make([]uint32, k)
	C.cpeer_churn_draws(C.uint64_t(seed), C.int64_t(n), C.uint32_t(min), C.uint32_t(span), C.int(k),
		(*C.int64_t)(unsafe.Pointer(&slots[0])), (*C.uint32_t)(unsafe.Pointer(&sizes[0])))
	return slots, sizes
}

// constants exposes native.h's constants to the tests.
func constants() (mixSizes, mixOffsets, ringSize, ringPublish int) {
	return C.CPEER_MIX_SIZES, C.CPEER_MIX_OFFSETS, C.CPEER_RING_SIZE, C.CPEER_RING_PUBLISH
}

// workloadConstants exposes workloads.h's constants to the tests, in the
// order of bench.WorkloadConstants.
func workloadConstants() []int {
	return []int{C.CPEER_LARSON_SLOTS, C.CPEER_LARSON_MIN, C.CPEER_LARSON_MAX, C.CPEER_LARSON_SEED, C.CPEER_LARSON_GEN,
		C.CPEER_XMALLOC_BATCH, C.CPEER_XMALLOC_LIMIT, C.CPEER_ALLOCTEST_SEED,
		C.CPEER_RP_SIZES, C.CPEER_RP_ALLOC_OPS, C.CPEER_RP_FREE_OPS, C.CPEER_SCRATCH_REPETITIONS, C.CPEER_HEAPJOB_SIZES}
}
