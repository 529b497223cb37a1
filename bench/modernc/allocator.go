package main

import (
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/memory"

	"github.com/offheap/offheap/bench"
)

// Shared is a modernc.org/memory Allocator shared by every goroutine
// behind one sync.Mutex, as its users share one (the Allocator is not safe
// for concurrent use): each call is mu.Lock(), the Unsafe method,
// mu.Unlock(). It implements bench.Allocator.
type Shared struct {
	mu sync.Mutex
	a  memory.Allocator
}

// Malloc returns n bytes from UnsafeMalloc. Malloc(0) asks for one byte,
// since bench.Allocator, like C's malloc, returns a block for it where
// UnsafeMalloc returns nil. It panics when UnsafeMalloc fails.
func (s *Shared) Malloc(n int) unsafe.Pointer {
	n = max(n, 1)
	s.mu.Lock()
	p, err := s.a.UnsafeMalloc(n)
	s.mu.Unlock()
	if err != nil || p == nil {
		panic(fmt.Sprintf("modernc-memory: UnsafeMalloc(%d): %v", n, err))
	}
	return p
}

// Free calls UnsafeFree; Free(nil) does nothing. It panics when UnsafeFree
// fails (an munmap refused).
func (s *Shared) Free(p unsafe.Pointer) {
	if p == nil {
		return
	}
	s.mu.Lock()
	err := s.a.UnsafeFree(p)
	s.mu.Unlock()
	if err != nil {
		panic(fmt.Sprintf("modernc-memory: UnsafeFree(%p): %v", p, err))
	}
}

// PairLoop is bench.Looper's pair loop over s's Malloc and Free.
func (s *Shared) PairLoop(size, n int) unsafe.Pointer {
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		p = s.Malloc(size)
		*(*byte)(p) = byte(i)
		s.Free(p)
	}
	return p
}

// MixLoop is bench.Looper's mixed loop over s's Malloc and Free.
func (s *Shared) MixLoop(m *bench.MixState, n int) unsafe.Pointer {
	slots, sizes, offsets, touch := m.Slots, m.Mix.Sizes, m.Mix.Offsets, m.Mix.Touch
	offs, ss := m.OffState, m.SizeState
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		offs = bench.LCGNext(offs)
		j := offsets[(offs>>16)&(bench.MixOffsets-1)]
		ss = bench.LCGNext(ss)
		size := sizes[(ss>>16)&(bench.MixSizes-1)]
		s.Free(slots[j])
		p = s.Malloc(int(size))
		*(*byte)(p) = byte(i)
		if touch {
			bench.TouchPages(p, int(size))
		}
		slots[j] = p
	}
	m.OffState, m.SizeState = offs, ss
	return p
}

// Realloc calls UnsafeRealloc: Realloc(nil, n) allocates, a block keeps
// its contents up to the smaller size, and Realloc(p, 0) frees p and
// returns nil, as glibc's realloc does. It panics when UnsafeRealloc
// fails.
func (s *Shared) Realloc(p unsafe.Pointer, n int) unsafe.Pointer {
	if p == nil {
		return s.Malloc(n)
	}
	s.mu.Lock()
	q, err := s.a.UnsafeRealloc(p, n)
	s.mu.Unlock()
	if err != nil || (q == nil && n > 0) {
		panic(fmt.Sprintf("modernc-memory: UnsafeRealloc(%p, %d): %v", p, n, err))
	}
	return q
}

// NewJobHeap returns an allocator of the job's own, a fresh
// memory.Allocator behind a mutex of its own (bench.HeapMaker): a job of
// heap-destroy allocates in it, and DropJobHeap drops the job whole.
func (s *Shared) NewJobHeap() bench.Allocator { return new(Shared) }

// DropJobHeap gives back every block of a job's allocator from NewJobHeap
// at once, with memory.Allocator's Close (bench.HeapMaker). It panics when
// Close fails (an munmap refused).
func (s *Shared) DropJobHeap(a bench.Allocator) {
	j := a.(*Shared)
	j.mu.Lock()
	err := j.a.Close()
	j.mu.Unlock()
	if err != nil {
		panic(fmt.Sprintf("modernc-memory: Close: %v", err))
	}
}

// shared is the one Allocator of the process: every worker of every
// workload measured here uses it, as offheap's workers share alloc's heap.
var shared = new(Shared)

// Peer is modernc.org/memory as a peer of the bench: every worker calls
// the one Shared allocator through bench.Allocator, as offheap is called.
func Peer() bench.Peer {
	return bench.GoPeer("modernc-memory",
		"modernc.org/memory v1.13.0: one Allocator shared behind a sync.Mutex (Lock, UnsafeMalloc/UnsafeFree/UnsafeRealloc, Unlock), from Go",
		func() bench.Allocator { return shared }, nil)
}
