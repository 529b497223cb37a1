package tracefmt

import (
	"errors"
	"fmt"
)

// Op is the kind of call an Event records.
type Op uint8

// The operations. Their values are the op bytes of the binary format.
const (
	Malloc  Op = 1 // Malloc(Size)
	Calloc  Op = 2 // Calloc(Arg, Size)
	Realloc Op = 3 // Realloc(Old, Size)
	Aligned Op = 4 // AlignedAlloc(Arg, Size)
	Free    Op = 5 // Free(ID)
)

// String returns the operation's name: "malloc", "calloc", "realloc",
// "aligned" or "free".
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
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Allocates reports whether o creates a block (every op but Free).
func (o Op) Allocates() bool { return o >= Malloc && o <= Aligned }

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
}

// Bytes returns the bytes the event requests: Size, or Arg*Size for
// Calloc (saturating), 0 for Free.
func (e *Event) Bytes() uint64 {
	switch e.Op {
	case Free:
		return 0
	case Calloc:
		if e.Arg != 0 && e.Size > ^uint64(0)/e.Arg {
			return ^uint64(0)
		}
		return e.Arg * e.Size
	}
	return e.Size
}

// String returns the event in the text format's words, with its id(s).
func (e Event) String() string {
	switch e.Op {
	case Malloc:
		return fmt.Sprintf("malloc(%d) = #%d", e.Size, e.ID)
	case Calloc:
		return fmt.Sprintf("calloc(%d, %d) = #%d", e.Arg, e.Size, e.ID)
	case Realloc:
		return fmt.Sprintf("realloc(#%d, %d) = #%d", e.Old, e.Size, e.ID)
	case Aligned:
		return fmt.Sprintf("aligned_alloc(%d, %d) = #%d", e.Arg, e.Size, e.ID)
	case Free:
		return fmt.Sprintf("free(#%d)", e.ID)
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
