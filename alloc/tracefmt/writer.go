package tracefmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// Magic opens every binary trace.
const Magic = "offheap-trace\n"

// Version is the format version this package writes. Its Reader reads
// this version and every earlier one (1: without private heaps).
const Version = 2

const (
	flagTime = 1 << 0

	// opInHeap marks, in a version 2 record's op byte, an allocation in
	// a private heap: the record carries the heap after the thread.
	opInHeap = 0x10

	kindBlock = 'B'
	kindEnd   = 'E'

	// maxBlock bounds a block's payload; the writer ends a block at
	// blockTarget bytes.
	maxBlock    = 1 << 20
	blockTarget = 64 << 10
)

// Writer writes a binary trace: events in sequence order, grouped into
// checksummed blocks.
type Writer struct {
	w     io.Writer
	flags uint64
	tick  int64
	err   error

	nextID  uint64 // the id the next allocation gets
	lastSeq uint64
	lastT   int64 // ticks
	any     bool  // an event was written

	// The block being built.
	buf              []byte
	n                uint64
	bSeq, bTime, bID uint64
	prevSeq, prevT   uint64
	records, allocs  uint64
	dropped          uint64
	closed           bool
	blockHeader      []byte
}

// NewWriter writes a trace header to w and returns a Writer. start is the
// trace's time zero; tick is the unit of timestamps, 0 for none (then the
// records carry no time).
func NewWriter(w io.Writer, start time.Time, tick time.Duration) (*Writer, error) {
	tw := &Writer{w: w, nextID: 1, tick: int64(tick)}
	if tick > 0 {
		tw.flags |= flagTime
	}
	h := []byte(Magic)
	h = binary.AppendUvarint(h, Version)
	h = binary.AppendUvarint(h, tw.flags)
	h = binary.LittleEndian.AppendUint64(h, uint64(start.UnixNano()))
	h = binary.AppendUvarint(h, uint64(max(tick, 0)))
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return tw, nil
}

// NextID returns the id the next allocation event must carry.
func (w *Writer) NextID() uint64 { return w.nextID }

// Drop counts a call left out of the trace (a free or realloc of a block
// allocated before the trace started); the end block reports the count.
func (w *Writer) Drop() { w.dropped++ }

// Write appends an event. Its Seq must exceed the previous event's, its
// Time (nanoseconds since start; ignored without timestamps) must not go
// back, an allocation's ID must be NextID(), a Free's ID or a Realloc's
// Old must name a block created earlier, and a HeapCreate or HeapDestroy
// must name a heap other than 0. The Writer does not track which blocks
// and heaps are live (the reader does); it writes an allocation's Heap,
// not a Free's. Write buffers; Flush ends the block.
func (w *Writer) Write(e *Event) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("tracefmt: Write after Close")
	}
	if w.any && e.Seq <= w.lastSeq {
		return fmt.Errorf("tracefmt: sequence %d after %d", e.Seq, w.lastSeq)
	}
	var t uint64
	if w.flags&flagTime != 0 {
		ticks := max(e.Time, 0) / w.tick
		if ticks < w.lastT {
			ticks = w.lastT // a clock that went back: keep order
		}
		t = uint64(ticks)
	}
	switch {
	case e.Op.Allocates():
		if e.ID != w.nextID {
			return fmt.Errorf("tracefmt: %v: allocation id %d, want %d", e.Op, e.ID, w.nextID)
		}
	case e.Op == Free:
		if e.ID == 0 || e.ID >= w.nextID {
			return fmt.Errorf("tracefmt: free of block %d, which does not exist yet", e.ID)
		}
	case e.Op.OnHeap():
		if e.Heap == 0 {
			return fmt.Errorf("tracefmt: %v of heap 0 (the process heap)", e.Op)
		}
	default:
		return fmt.Errorf("tracefmt: bad op %d", e.Op)
	}
	if e.Op == Realloc && e.Old >= w.nextID {
		return fmt.Errorf("tracefmt: realloc of block %d, which does not exist yet", e.Old)
	}
	if w.n == 0 {
		w.bSeq, w.bTime, w.bID = e.Seq, t, w.nextID
		w.prevSeq, w.prevT = e.Seq-1, t
	}
	b := w.buf
	inHeap := e.Op.Allocates() && e.Heap != 0
	if inHeap {
		b = append(b, byte(e.Op)|opInHeap)
	} else {
		b = append(b, byte(e.Op))
	}
	b = binary.AppendUvarint(b, e.Seq-w.prevSeq-1)
	if w.flags&flagTime != 0 {
		b = binary.AppendUvarint(b, t-w.prevT)
	}
	b = binary.AppendUvarint(b, uint64(e.Thread))
	if inHeap || e.Op.OnHeap() {
		b = binary.AppendUvarint(b, uint64(e.Heap))
	}
	switch e.Op {
	case Malloc:
		b = binary.AppendUvarint(b, e.Size)
	case Calloc, Aligned:
		b = binary.AppendUvarint(b, e.Arg)
		b = binary.AppendUvarint(b, e.Size)
	case Realloc:
		ref := uint64(0)
		if e.Old != 0 {
			ref = w.nextID - e.Old
		}
		b = binary.AppendUvarint(b, ref)
		b = binary.AppendUvarint(b, e.Size)
	case Free:
		b = binary.AppendUvarint(b, w.nextID-e.ID)
	}
	w.buf = b
	w.n++
	w.records++
	if e.Op.Allocates() {
		w.nextID++
		w.allocs++
	}
	w.prevSeq, w.prevT = e.Seq, t
	w.lastSeq, w.lastT, w.any = e.Seq, int64(t), true
	if len(w.buf) >= blockTarget {
		return w.Flush()
	}
	return nil
}

// Flush writes the block being built, if any.
func (w *Writer) Flush() error {
	if w.err != nil || w.n == 0 {
		return w.err
	}
	var p []byte
	p = binary.AppendUvarint(p, w.bSeq)
	p = binary.AppendUvarint(p, w.bTime)
	p = binary.AppendUvarint(p, w.bID)
	p = binary.AppendUvarint(p, w.n)
	w.err = w.writeBlock(kindBlock, p, w.buf)
	w.buf, w.n = w.buf[:0], 0
	return w.err
}

// writeBlock writes a block whose payload is head followed by body.
func (w *Writer) writeBlock(kind byte, head, body []byte) error {
	h := w.blockHeader[:0]
	h = append(h, kind)
	h = binary.AppendUvarint(h, uint64(len(head)+len(body)))
	h = binary.LittleEndian.AppendUint32(h, crc32.Update(crc32.ChecksumIEEE(head), crc32.IEEETable, body))
	w.blockHeader = h
	for _, b := range [][]byte{h, head, body} {
		if _, err := w.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// Close flushes the last block and writes the end block. It does not close
// the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	w.closed = true
	var p []byte
	p = binary.AppendUvarint(p, w.records)
	p = binary.AppendUvarint(p, w.allocs)
	p = binary.AppendUvarint(p, w.dropped)
	w.err = w.writeBlock(kindEnd, p, nil)
	return w.err
}
