package arena

import "unsafe"

// The layout that an assembly free path reads: alloc's Free on amd64
// (fast_free_amd64.s) does FastRegion, InUseHeader, MayBorderTop and
// NextIsTop inline, as the Go functions do, so that it needs no call. Its
// package takes every offset, mask and constant from here, none from a
// copy of its own; a change to the Heap's fields or to the header's bits
// moves them with it. FastRegion, InUseHeader, MayBorderTop and NextIsTop
// are the definitions: each constant says which part of them it stands
// for. alloc's TestFastFreeAsm compares the assembly with them on every
// kind of pointer. They describe this build's layout and may change with
// any release: they are for offheap's own assembly, not an API to build on.
const (
	// Offsets in a Heap of the fields the fast path loads.
	AsmHeapBrkBase     = unsafe.Offsetof((*Heap)(nil).brkBase)     // atomic.Uintptr: the break region's start
	AsmHeapBrkEnd      = unsafe.Offsetof((*Heap)(nil).brkEnd)      // atomic.Uintptr: its end
	AsmHeapID          = unsafe.Offsetof((*Heap)(nil).id)          // uint32: the id in granuleTable's entries
	AsmHeapSecret      = unsafe.Offsetof((*Heap)(nil).secret)      // uintptr: the header tag's secret
	AsmHeapBorderReach = unsafe.Offsetof((*Heap)(nil).borderReach) // atomic.Uintptr: MayBorderTop's bound

	// granuleTable: entry (c >> AsmGranuleShift) & AsmGranuleMask, a
	// uint32, whose bits above AsmArenaBits are the Heap's id.
	AsmGranuleShift = granuleShift
	AsmGranuleMask  = granules - 1
	AsmArenaBits    = arenaBits
	// A heap starts at a multiple of HeapSize; the word at AsmHeapEndWord
	// from its start is the end of its chunks (FastRegion's room).
	AsmHeapEndWord = heapEndWord

	// A chunk header (InUseHeader): the size is word & AsmSizeMask; an
	// in-use chunk of an arena has none of AsmNotInUse; its tag, the bits
	// from AsmTagShift up, is ((c>>4) ^ (size<<16) ^ secret) * AsmTagMul
	// >> AsmTagShift.
	AsmSizeMask = sizeBits &^ flagMask
	AsmNotInUse = notInUse
	AsmTagShift = tagShift
	AsmTagMul   = tagMul
	// AsmFlagT marks the top chunk (NextIsTop reads it in the next
	// chunk's header word).
	AsmFlagT = flagT
	// AsmFlagS marks a block in the heap profile (SetSampled), which sets
	// and clears it by a store of the byte at AsmFlagSByte from the
	// chunk's start: the bits AsmFlagSInByte of it.
	AsmFlagS       = flagS
	AsmFlagSByte   = sizeSz + flagSByte
	AsmFlagSInByte = flagSInByte
)

// AsmGranuleTable returns the granule table (GranuleEntry's) for an
// assembly fast path to index: AsmGranuleTable()[GranuleEntry's index].
// Only the arenas write it; a program that did would break every free.
func AsmGranuleTable() *[granules]uint32 { return &granuleTable }

// tagMul is the header tag's multiplier (tag, InUseHeader): 2^64 divided
// by the golden ratio, Fibonacci hashing's.
const tagMul = 0x9E3779B97F4A7C15
