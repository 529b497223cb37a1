package tracefmt

import (
	"errors"
	"fmt"
)

// Op is the kind of call an Event records.
type Op uint8

// The operations. Their values are the op bytes of the binary format (an
// allocation in a private heap sets bit 0x10 of the byte besides, see the
// package documentation).
const (
	Malloc      Op = 1 // Malloc(Size) in heap Heap
	Calloc      Op = 2 // Calloc(Arg, Size) in heap Heap
	Realloc     Op = 3 // Realloc(Old, Size), in Old's heap Heap
	Aligned     Op = 4 // AlignedAlloc(Arg, Size) in heap Heap
	Free        Op = 5 // Free(ID)
	HeapCreate  Op = 6 // a private heap numbered Heap is created (version 2)
	HeapDestroy Op = 7 // private heap Heap is destroyed with its live blocks (version 2)
)

// NumOps bounds the operations' values: every Op is below it, so an array
// of NumOps counters can be indexed by Op.
const NumOps = 8

// String returns the operation's name: "malloc", "calloc", "realloc",
// "aligned", "free", "heap_create" or "heap_destroy".
func (o Op) String() string {
	switch o {
	case Malloc:
		return "malloc"
	case Calloc:
		return "calloc"
	case Realloc:
		return "realloc"
	case Aligned:
		return "aligned"
	case Free:
		return "free"
	case HeapCreate:
		return "heap_create"
	case HeapDestroy:
		return "heap_destroy"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Allocates reports whether o creates a block (Malloc, Calloc, Realloc,
// Aligned).
func (o Op) Allocates() bool { return o >= Malloc && o <= Aligned }

// OnHeap reports whether o creates or destroys a private heap.
func (o Op) OnHeap() bool { return o == HeapCreate || o == HeapDestroy }

// Event is one recorded call.
type Event struct {
	Op     Op
	Thread uint32 // the recording thread: offheap's P number, or the text trace's thread
	Seq    uint64 // sequence number (binary traces), or line number (text traces)
	Time   int64  // nanoseconds since the trace started; -1 when the trace has no timestamps
	ID     uint64 // the block created (allocations) or freed (Free)
	Old    uint64 // Realloc: the block resized (0: realloc(NULL, Size))
	Size   uint64 // bytes requested; for Calloc, the size of one element
	Arg    uint64 // Calloc: the number of elements; Aligned: the alignment
	// Heap is the private heap of the event: the heap an allocation is
	// made in (0: the process heap; a Realloc's is its old block's), the
	// heap created or destroyed (HeapCreate, HeapDestroy, never 0), and,
	// on a Free the Reader returns, the freed block's (the Writer does not
	// write it: the block names it).
	Heap uint32
}

// Bytes returns the bytes the event requests: Size, or Arg*Size for
// Calloc (saturating), 0 for Free and the heap events.
func (e *Event) Bytes() uint64 {
	switch e.Op {
	case Free, HeapCreate, HeapDestroy:
		return 0
	case Calloc:
		if e.Arg != 0 && e.Size > ^uint64(0)/e.Arg {
			return ^uint64(0)
		}
		return e.Arg * e.Size
	}
	return e.Size
}

// String returns the event in C's words, with its id(s): "malloc(24) =
// #1", "calloc(10, 300) = #2 in heap 3", "free(#2)", "heap_create(3)".
func (e Event) String() string {
	in := ""
	if e.Heap != 0 && e.Op.Allocates() {
		in = fmt.Sprintf(" in heap %d", e.Heap)
	}
	switch e.Op {
	case Malloc:
		return fmt.Sprintf("malloc(%d) = #%d%s", e.Size, e.ID, in)
	case Calloc:
		return fmt.Sprintf("calloc(%d, %d) = #%d%s", e.Arg, e.Size, e.ID, in)
	case Realloc:
		return fmt.Sprintf("realloc(#%d, %d) = #%d%s", e.Old, e.Size, e.ID, in)
	case Aligned:
		return fmt.Sprintf("aligned_alloc(%d, %d) = #%d%s", e.Arg, e.Size, e.ID, in)
	case Free:
		return fmt.Sprintf("free(#%d)", e.ID)
	case HeapCreate, HeapDestroy:
		return fmt.Sprintf("%v(%d)", e.Op, e.Heap)
	}
	return e.Op.String()
}

// Error is a problem in a trace: what is wrong, and where.
type Error struct {
	Offset int64 // byte offset in the (decompressed) trace where the problem was found
	Record int64 // 1-based number of the record (text: the line), 0 when not in a record
	Msg    string
	Err    error // the cause, when it is a sentinel such as ErrUnterminated
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Error returns "trace: offset N (record R): msg".
func (e *Error) Error() string {
	if e.Record > 0 {
		return fmt.Sprintf("trace: offset %d (record %d): %s", e.Offset, e.Record, e.Msg)
	}
	return fmt.Sprintf("trace: offset %d: %s", e.Offset, e.Msg)
}

// ErrUnterminated is returned by Reader.Next after the last event of a
// binary trace that ends after a whole block but has no end block: the
// recording process did not stop the trace (it exited, or crashed). The
// events read so far are sound.
var ErrUnterminated = errors.New("no end block")
