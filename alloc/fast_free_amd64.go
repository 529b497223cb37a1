//go:build amd64 && go1.26 && !go1.27 && !race && !asan && !msan && !offheap_noasm

package alloc

import (
	"sync/atomic"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// Free frees memory from Malloc, Calloc, Realloc or AlignedAlloc. Free(nil)
// does nothing. A pointer that offheap did not return (Go heap, stack,
// interior, misaligned) and a second free of the same pointer are misuse:
// by default (check_action 3) they panic with a glibc-style message and the
// address (an *arena.CorruptionError); check_action 0 or 1 ignores the call
// (1 prints a line first). A corrupted neighbouring header always panics.
// The allocator stays usable after recover. See debug.go and SECURITY.md
// for what each check_action level catches.
//
// On amd64 its fast path is assembly (fast_free_amd64.s), the Go one of
// fast_free.go with the P's id read inline, as Malloc's. Whatever it
// cannot finish it hands, untouched, to freeMiss.
func Free(ptr unsafe.Pointer)

// What fast_free_amd64.s reads of arena's layout, under names go_asm.h
// gives it (const_heapBrkBase, ...): arena's Asm constants, where each is
// said. The assembly takes nothing of arena's from a copy of its own.
const (
	heapBrkBase     = arena.AsmHeapBrkBase
	heapBrkEnd      = arena.AsmHeapBrkEnd
	heapID          = arena.AsmHeapID
	heapSecret      = arena.AsmHeapSecret
	heapBorderReach = arena.AsmHeapBorderReach
	granuleShift    = arena.AsmGranuleShift
	granuleMask     = arena.AsmGranuleMask
	arenaBits       = arena.AsmArenaBits
	heapEndWord     = arena.AsmHeapEndWord
	heapSizeMask    = -arena.HeapSize // a heap's start: c & heapSizeMask
	chunkSizeMask   = arena.AsmSizeMask
	notInUse        = arena.AsmNotInUse
	tagShift        = arena.AsmTagShift
	tagMul          = arena.AsmTagMul
	flagT           = arena.AsmFlagT
	flagS           = arena.AsmFlagS
	flagSByteOffset = arena.AsmFlagSByte
	flagSInByte     = arena.AsmFlagSInByte
	minChunk        = arena.MinSize

	// The in-use test in two parts (fast_free_amd64.h): the flags below
	// the size (M, T, F) by a byte test, and those just above it (S, A)
	// kept with the size, which they make too large for any room.
	notInUseLow   = notInUse & 0xff
	sizeAndFlags  = chunkSizeMask | notInUse&^notInUseLow
	highFlagShift = 44 // sizeAndFlags>>highFlagShift is 1 for S alone
)

// What the two-part in-use test takes for granted, checked by the
// compiler: the low flags are below the size, the size below bit
// highFlagShift, S at it and A the bit above.
const (
	_ = -(notInUseLow &^ 15)
	_ = -(chunkSizeMask >> highFlagShift)
	_ = -(flagS ^ 1<<highFlagShift)
	_ = -(notInUse&^notInUseLow ^ 3<<highFlagShift)
)

// freeHeap is the heap Free's assembly reads while fastOff is 0, and
// inertHeap otherwise: the assembly tests no flag word, for a heap whose
// break region is empty and whose id no granule carries sends every
// pointer to freeMiss (publishFast keeps it in step with fastOff).
var freeHeap atomic.Pointer[byte]

// inertHeap is a block laid out as far as Free's assembly reads a Heap
// before it gives up: the break region's end 0 (every chunk goes on to
// the mapped heaps' lookup) and an id, all ones, that no granule entry's
// top bits reach. It is never written after its initialization.
var inertHeap = func() *[inertWords]uintptr {
	h := new([inertWords]uintptr)
	*(*uint32)(unsafe.Add(unsafe.Pointer(h), heapID)) = ^uint32(0)
	return h
}()

// inertWords covers the Heap fields Free's assembly may read of inertHeap.
const inertWords = (max(heapBrkEnd, heapBrkBase, heapID) + 8 + 7) / 8

// inertHeap's id is beyond the granule entries' reach: they are 32-bit
// words whose id, above arenaBits >= 1 bits, stops short of all ones
// (the conversion fails to compile if arenaBits is 0).
const _ = uint8(arenaBits - 1)

func init() { freeHeap.Store((*byte)(unsafe.Pointer(inertHeap))) }

// publishFast points the assembly fast paths at what fastOff v allows:
// Malloc at the caches (or at noCaches, all nil, while a bit of mallocOff
// is set), Free at the process heap (or at inertHeap while any bit is).
// Called by setFast with fastMu held.
func publishFast(v uint32) {
	if v&mallocOff == 0 {
		mallocCaches.Store(&caches)
	} else {
		mallocCaches.Store(&noCaches)
	}
	if v == 0 {
		freeHeap.Store((*byte)(unsafe.Pointer(heap)))
	} else {
		freeHeap.Store((*byte)(unsafe.Pointer(inertHeap)))
	}
}

// tagMulWord is the header tag's multiplier in memory, the operand of the
// assembly's multiply (an instruction takes no 64-bit immediate there).
var tagMulWord uint64 = tagMul

// granuleTab is arena's granule table, which the assembly indexes.
var granuleTab = arena.AsmGranuleTable()

// midChunkCap is the largest chunk chunkClass gives a class (the last
// class's chunk plus overMid); the assembly leaves larger ones to freeMiss.
var midChunkCap = classChunk[nClasses-1] + overMid

// What else fast_free_amd64.s takes for granted, checked by the compiler:
// the small classes' and the slots' counts and chunkFloor's length are
// powers of two (a modulo by them is a mask), the heap's fields it loads
// are words (the id a 32-bit one), the small classes are the chunk sizes
// minChunk, minChunk+16, ... smallChunkMax, a cacheBin is 16 bytes and a
// header's size a multiple of 16 (so a small chunk's cacheBin is at
// size-minChunk).
const (
	_ = -(nSmall & (nSmall - 1))
	_ = -(nClassSlots & (nClassSlots - 1))
	_ = -(chunkFloorLen & (chunkFloorLen - 1))
	_ = -(smallChunkMax ^ (minChunk + (nSmall-1)*16))
	_ = -(unsafe.Sizeof(cacheBin{}.count) ^ 4)
	_ = -(unsafe.Sizeof(cacheBin{}) ^ 16)
	_ = -(chunkSizeMask & 15)
	_ = -(unsafe.Sizeof(pcache{}.home) ^ 4)
)

// What the assembly's sampled free (fast_free_amd64.s) takes for granted
// of the table of sampled blocks and the psamples (forgetSample's common
// case), checked by the compiler: a line is 1<<lineShift bytes, a count
// slot 1<<countSlotShift, sampleTable's first word is cur, samplers and
// an addrTable's frozen flag are plain words.
const (
	lineShift      = 6
	countSlotShift = 5
	_              = -(uint(lineSlots*8) ^ (1 << lineShift))
	_              = -(unsafe.Sizeof(countSlot{}) ^ (1 << countSlotShift))
	_              = -(unsafe.Offsetof(sampleTable.cur) ^ 0)
	_              = -(unsafe.Sizeof(samplers[0]) ^ 8)
	_              = -(unsafe.Sizeof(addrTable{}.frozen) ^ 4)
	_              = -(uint(countSlots) & (countSlots - 1))
)

// freeFast is Free's fast path alone (fast_free_amd64.s): it reports
// whether it pushed ptr's chunk onto the calling P's cache, and leaves
// everything as it was where Free would go on to freeMiss. Only
// TestFastFreeAsm calls it.
//
//go:noescape
func freeFast(ptr unsafe.Pointer) (pushed bool)

// freeSampled is Free for a block in the heap profile (its S bit set) whose
// header Free's fast path found sound (fast_free_amd64.h jumps here): the
// S bit goes first (a byte store that Free's load of the whole header word
// would otherwise have to wait for), the profile counts the free
// (forgetSample), and Free frees the block as any other. freeMiss's
// sampled route does the same where the fast path is Go's.
func freeSampled(ptr unsafe.Pointer) {
	p := uintptr(ptr)
	arena.SetSampled(p-16, false)
	forgetSample(p)
	Free(ptr)
}
