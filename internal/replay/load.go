package replay

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/offheap/offheap/alloc/tracefmt"
)

// Op is one call of a trace in replay form. Its layout is shared with the
// C replayer (internal/creplay): 32 bytes, the fields in this order.
type Op struct {
	Kind uint8 // a tracefmt.Op
	_    [3]uint8
	ID   uint32 // the block created, or freed (Free)
	Old  uint32 // Realloc: the block resized (0: none)
	// Heap is the private heap of the op, numbered from 1 in the order the
	// trace creates them (a slot of the heap table; 0: the process heap):
	// the heap an allocation is made in, a freed block's heap, the heap
	// created or destroyed.
	Heap uint32
	Size uint64 // bytes (Calloc: per element); HeapDestroy: the index in Trace.Ended of the first block it ends
	Arg  uint64 // Calloc: elements; Aligned: alignment; HeapDestroy: how many blocks it ends
}

// Trace is a trace loaded for replay.
type Trace struct {
	Path  string
	Ops   []Op
	IDs   int // the largest block id: the slot table holds IDs+1 entries
	Heaps int // private heaps created: the heap table holds Heaps+1 entries
	// Ended lists the blocks each HeapDestroy ends (the heap's live
	// blocks, in id order), op after op: an emulated destroy frees or
	// drops them.
	Ended []uint32
	Info  tracefmt.Info
	Event []tracefmt.Event // the events as read (kept only by LoadEvents)
}

// Load reads the trace in path (binary or text, gzipped or not) into
// replay form. A binary trace without its end block is accepted only when
// partial is true.
func Load(path string, partial bool) (*Trace, error) {
	return load(path, partial, false)
}

// LoadEvents is Load keeping the events too (for statistics).
func LoadEvents(path string, partial bool) (*Trace, error) {
	return load(path, partial, true)
}

func load(path string, partial, keep bool) (*Trace, error) {
	r, c, err := tracefmt.Open(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	t := &Trace{Path: path}
	heapSlot := map[uint32]uint32{} // the trace's live heaps: number -> slot
	for {
		e, err := r.Next()
		if err == io.EOF || partial && errors.Is(err, tracefmt.ErrUnterminated) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if e.ID > math.MaxUint32 || e.Old > math.MaxUint32 {
			return nil, fmt.Errorf("%s: event %d: block id %d beyond the replayer's 2^32", path, len(t.Ops)+1, e.ID)
		}
		o := Op{Kind: uint8(e.Op), ID: uint32(e.ID), Old: uint32(e.Old), Size: e.Size, Arg: e.Arg}
		switch {
		case e.Op == tracefmt.HeapCreate:
			t.Heaps++
			if t.Heaps > math.MaxUint32 {
				return nil, fmt.Errorf("%s: event %d: more heaps than the replayer's 2^32", path, len(t.Ops)+1)
			}
			heapSlot[e.Heap] = uint32(t.Heaps)
			o.Heap = uint32(t.Heaps)
		case e.Op == tracefmt.HeapDestroy:
			o.Heap = heapSlot[e.Heap]
			delete(heapSlot, e.Heap)
			ended := r.Ended()
			o.Size, o.Arg = uint64(len(t.Ended)), uint64(len(ended))
			for _, id := range ended {
				t.Ended = append(t.Ended, uint32(id)) // ids were checked below 2^32 as they were allocated
			}
		case e.Heap != 0:
			o.Heap = heapSlot[e.Heap] // the reader checked that the heap is live
		}
		t.Ops = append(t.Ops, o)
		t.IDs = max(t.IDs, int(e.ID))
		if keep {
			t.Event = append(t.Event, e)
		}
	}
	t.Info = r.Info()
	return t, nil
}
