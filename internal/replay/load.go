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
	_    uint32
	Size uint64 // bytes (Calloc: per element)
	Arg  uint64 // Calloc: elements; Aligned: alignment
}

// Trace is a trace loaded for replay.
type Trace struct {
	Path  string
	Ops   []Op
	IDs   int // the largest block id: the slot table holds IDs+1 entries
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
		t.Ops = append(t.Ops, Op{Kind: uint8(e.Op), ID: uint32(e.ID), Old: uint32(e.Old), Size: e.Size, Arg: e.Arg})
		t.IDs = max(t.IDs, int(e.ID))
		if keep {
			t.Event = append(t.Event, e)
		}
	}
	t.Info = r.Info()
	return t, nil
}
