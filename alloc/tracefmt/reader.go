package tracefmt

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"time"
)

// Format names the encoding of a trace.
type Format int

// The formats a Reader understands.
const (
	Binary Format = iota + 1 // this package's binary format
	Text                     // one call per line
)

// String returns "binary" or "text".
func (f Format) String() string {
	switch f {
	case Binary:
		return "binary"
	case Text:
		return "text"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Info describes a trace as far as it has been read.
type Info struct {
	Format     Format
	Gzipped    bool
	Version    int       // binary: the format version
	Start      time.Time // binary: when recording started
	Timestamps bool      // events carry Time
	Records    int64     // events read so far
	Allocs     int64     // allocations read so far (the last id)
	Heaps      int64     // private heaps created so far (HeapCreate events)
	Dropped    int64     // binary, after the end block: calls the recorder left out
	Skipped    int64     // text: failed reallocs, which change nothing and are not returned
	Ended      bool      // the end block (binary) or the end of the text was reached
}

// Reader reads the events of a trace in either format, checking it as it
// goes (see the package documentation).
type Reader struct {
	in   *bufio.Reader
	off  int64 // offset of the next byte of in
	info Info
	err  error // sticky

	live   bitset
	nextID uint64

	// Private heaps (version 2 and text traces).
	heaps     map[uint32]*heapState // the live heaps
	gone      map[uint32]bool       // heaps destroyed (and not created again)
	blockHeap map[uint64]uint32     // live blocks of private heaps: id -> heap
	dead      bitset                // blocks that died with their heap
	ended     []uint64              // the blocks the last event (a HeapDestroy) ended

	// binary
	tick    int64
	block   []byte
	bpos    int
	boff    int64 // offset of block[0]
	bleft   uint64
	lastSeq uint64
	anySeq  bool
	prevT   uint64

	hdr hash.Hash32 // while reading the header: its checksum so far

	// text
	line int64
}

// NewReader returns a Reader of r, which holds a binary or text trace,
// gzipped or not (recognized by their first bytes).
func NewReader(r io.Reader) (*Reader, error) {
	in := bufio.NewReaderSize(r, 64<<10)
	rd := &Reader{in: in, nextID: 1}
	head, _ := in.Peek(2)
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		z, err := gzip.NewReader(in)
		if err != nil {
			return nil, &Error{Offset: 0, Msg: "bad gzip header: " + err.Error()}
		}
		rd.in = bufio.NewReaderSize(z, 64<<10)
		rd.info.Gzipped = true
	}
	head, _ = rd.in.Peek(len(Magic))
	switch {
	case string(head) == Magic:
		if err := rd.readHeader(); err != nil {
			return nil, err
		}
	case len(head) == 0:
		return nil, &Error{Offset: 0, Msg: "empty trace"}
	case head[0] >= '0' && head[0] <= '9':
		rd.info.Format = Text
	default:
		return nil, &Error{Offset: 0, Msg: fmt.Sprintf("not a trace: starts with %q, neither %q nor a text trace's thread number", head, Magic)}
	}
	return rd, nil
}

// Open opens the trace in file path; close it with Close.
func Open(path string) (*Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, f, nil
}

// ReadAll reads every event of the trace in path. A binary trace without
// its end block is accepted when partial is true (the error is then nil
// and Info.Ended false); otherwise the error wraps ErrUnterminated.
func ReadAll(path string, partial bool) ([]Event, Info, error) {
	r, c, err := Open(path)
	if err != nil {
		return nil, Info{}, err
	}
	defer c.Close()
	var evs []Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if partial && errors.Is(err, ErrUnterminated) {
				break
			}
			return evs, r.Info(), fmt.Errorf("%s: %w", path, err)
		}
		evs = append(evs, e)
	}
	return evs, r.Info(), nil
}

// Info returns what is known of the trace so far.
func (r *Reader) Info() Info { return r.info }

func (r *Reader) fail(off int64, format string, args ...any) error {
	rec := r.info.Records + 1
	if r.info.Format == Text {
		rec = r.line
	}
	r.err = &Error{Offset: off, Record: rec, Msg: fmt.Sprintf(format, args...)}
	return r.err
}

func (r *Reader) failAt(off int64, format string, args ...any) error {
	r.err = &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
	return r.err
}

// Next returns the next event, or io.EOF after the last one. A problem
// with the trace is an *Error naming its offset; after an error Next keeps
// returning it.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	r.ended = r.ended[:0]
	if r.info.Format == Text {
		return r.nextText()
	}
	return r.nextBinary()
}

// bitset records the live ids.
type bitset []uint64

func (b *bitset) set(i uint64) {
	w := i / 64
	for uint64(len(*b)) <= w {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (i % 64)
}

func (b bitset) has(i uint64) bool {
	w := i / 64
	return w < uint64(len(b)) && b[w]&(1<<(i%64)) != 0
}

func (b bitset) clear(i uint64) {
	if w := i / 64; w < uint64(len(b)) {
		b[w] &^= 1 << (i % 64)
	}
}

// ---- private heaps ----

// heapState is a live private heap as the reader tracks it.
type heapState struct {
	ids  []uint64 // its blocks in id order, some dead since (compacted as they pile up)
	live int      // how many of ids are live
}

// Ended returns the blocks that the event Next returned last ended, when
// it was a HeapDestroy: the heap's live blocks, in id order (the frees a
// destroy stands for). It is empty after any other event, and valid until
// the next call of Next.
func (r *Reader) Ended() []uint64 { return r.ended }

// checkHeap reports an error unless heap h (0: the process heap) is live
// for an allocation op.
func (r *Reader) checkHeap(at int64, op Op, h uint32) error {
	if h == 0 || r.heaps[h] != nil {
		return nil
	}
	if r.gone[h] {
		return r.fail(at, "%v in heap %d, which was destroyed", op, h)
	}
	return r.fail(at, "%v in heap %d, which was never created", op, h)
}

// createHeap notes the creation of heap h.
func (r *Reader) createHeap(at int64, h uint32) error {
	if h == 0 {
		return r.fail(at, "creation of heap 0 (the process heap)")
	}
	if r.heaps[h] != nil {
		return r.fail(at, "creation of heap %d, which is live already", h)
	}
	if r.heaps == nil {
		r.heaps, r.gone, r.blockHeap = map[uint32]*heapState{}, map[uint32]bool{}, map[uint64]uint32{}
	}
	r.heaps[h] = &heapState{}
	delete(r.gone, h)
	r.info.Heaps++
	return nil
}

// destroyHeap notes the destruction of heap h: its live blocks die
// (Ended lists them).
func (r *Reader) destroyHeap(at int64, h uint32) error {
	hs := r.heaps[h]
	if hs == nil {
		if r.gone[h] {
			return r.fail(at, "destruction of heap %d, which was destroyed already", h)
		}
		return r.fail(at, "destruction of heap %d, which was never created", h)
	}
	for _, id := range hs.ids {
		if r.live.has(id) {
			r.live.clear(id)
			r.dead.set(id)
			delete(r.blockHeap, id)
			r.ended = append(r.ended, id)
		}
	}
	delete(r.heaps, h)
	r.gone[h] = true
	return nil
}

// born notes that block id was allocated in heap h (live, or 0).
func (r *Reader) born(id uint64, h uint32) {
	r.live.set(id)
	if h != 0 {
		hs := r.heaps[h]
		hs.ids = append(hs.ids, id)
		hs.live++
		r.blockHeap[id] = h
	}
}

// died notes that block id, live, was freed or reallocated, and returns
// its heap.
func (r *Reader) died(id uint64) uint32 {
	r.live.clear(id)
	h, ok := r.blockHeap[id]
	if !ok {
		return 0
	}
	delete(r.blockHeap, id)
	hs := r.heaps[h]
	hs.live--
	if len(hs.ids) >= 64 && len(hs.ids) > 2*hs.live {
		hs.ids = slices.DeleteFunc(hs.ids, func(x uint64) bool { return !r.live.has(x) })
	}
	return h
}

// notLive explains why block id is not live.
func (r *Reader) notLive(id uint64) string {
	if r.dead.has(id) {
		return "its heap was destroyed"
	}
	return "freed already"
}

// ---- binary ----

// byteReader counts the bytes taken from in.
func (r *Reader) readByte() (byte, error) {
	c, err := r.in.ReadByte()
	if err == nil {
		r.off++
		if r.hdr != nil {
			r.hdr.Write([]byte{c})
		}
	}
	return c, err
}

func (r *Reader) readUvarint(what string) (uint64, error) {
	start := r.off
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		c, err := r.readByte()
		if err != nil {
			if err == io.EOF {
				return 0, r.failAt(start, "truncated in the %s", what)
			}
			return 0, r.failAt(r.off, "reading the %s: %v", what, err)
		}
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			return x | uint64(c)<<s, nil
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, r.failAt(start, "bad varint in the %s", what)
}

func (r *Reader) readHeader() error {
	r.info.Format = Binary
	r.hdr = crc32.NewIEEE()
	defer func() { r.hdr = nil }()
	var m [len(Magic)]byte
	n, _ := io.ReadFull(r.in, m[:])
	r.off += int64(n)
	r.hdr.Write(m[:])
	v, err := r.readUvarint("header's version")
	if err != nil {
		return err
	}
	if v < 1 || v > Version {
		return r.failAt(int64(len(Magic)), "format version %d; this reader reads versions 1 to %d", v, Version)
	}
	r.info.Version = int(v)
	flags, err := r.readUvarint("header's flags")
	if err != nil {
		return err
	}
	if flags&^flagTime != 0 {
		return r.failAt(r.off-1, "unknown header flags %#x", flags)
	}
	var st [8]byte
	n, _ = io.ReadFull(r.in, st[:])
	r.off += int64(n)
	if n < 8 {
		return r.failAt(r.off, "truncated in the header's start time")
	}
	r.hdr.Write(st[:])
	r.info.Start = time.Unix(0, int64(binary.LittleEndian.Uint64(st[:])))
	tick, err := r.readUvarint("header's tick")
	if err != nil {
		return err
	}
	sum := r.hdr.Sum32()
	var c [4]byte
	n, _ = io.ReadFull(r.in, c[:])
	r.off += int64(n)
	if n < 4 {
		return r.failAt(r.off, "truncated in the header's checksum")
	}
	if binary.LittleEndian.Uint32(c[:]) != sum {
		return r.failAt(0, "checksum mismatch in the header (corrupt trace)")
	}
	if flags&flagTime != 0 {
		if tick == 0 || tick > math.MaxInt32 {
			return r.failAt(r.off-1, "bad timestamp tick %d ns", tick)
		}
		r.info.Timestamps = true
		r.tick = int64(tick)
	}
	return nil
}

// readBlock reads the next block. It returns io.EOF after the end block.
func (r *Reader) readBlock() error {
	start := r.off
	kind, err := r.readByte()
	if err == io.EOF {
		if r.info.Ended {
			return io.EOF
		}
		r.err = &Error{Offset: start, Msg: "the trace ends after a whole block but has no end block (the recording process did not stop the trace)", Err: ErrUnterminated}
		return r.err
	}
	if err != nil {
		return r.failAt(start, "reading a block: %v", err)
	}
	if r.info.Ended {
		return r.failAt(start, "data after the end block")
	}
	if kind != kindBlock && kind != kindEnd {
		return r.failAt(start, "unknown block kind %#x (corrupt trace)", kind)
	}
	n, err := r.readUvarint("block length")
	if err != nil {
		return err
	}
	if n == 0 || n > maxBlock {
		return r.failAt(start, "block length %d out of range 1..%d (corrupt trace)", n, maxBlock)
	}
	var c [4]byte
	k, _ := io.ReadFull(r.in, c[:])
	r.off += int64(k)
	if k < 4 {
		return r.failAt(start, "truncated in a block header")
	}
	if cap(r.block) < int(n) {
		r.block = make([]byte, n)
	}
	r.block = r.block[:n]
	k, _ = io.ReadFull(r.in, r.block)
	r.boff = r.off
	r.off += int64(k)
	if k < int(n) {
		return r.failAt(start, "truncated: the block at offset %d holds %d bytes, the trace ends after %d", start, n, k)
	}
	if crc32.ChecksumIEEE(r.block) != binary.LittleEndian.Uint32(c[:]) {
		return r.failAt(start, "checksum mismatch in the block of %d bytes (corrupt trace)", n)
	}
	r.bpos = 0
	if kind == kindEnd {
		return r.readEnd(start)
	}
	seq0, err := r.bUvarint("block's first sequence number")
	if err != nil {
		return err
	}
	t0, err := r.bUvarint("block's first time")
	if err != nil {
		return err
	}
	id0, err := r.bUvarint("block's first id")
	if err != nil {
		return err
	}
	count, err := r.bUvarint("block's record count")
	if err != nil {
		return err
	}
	switch {
	case id0 != r.nextID:
		return r.failAt(start, "the block starts at object id %d, %d expected: a block is missing or out of order", id0, r.nextID)
	case seq0 == 0 || r.anySeq && seq0 <= r.lastSeq:
		return r.failAt(start, "the block starts at sequence number %d, not after %d", seq0, r.lastSeq)
	case count == 0 || count > uint64(len(r.block)):
		return r.failAt(start, "bad record count %d in a block of %d bytes", count, len(r.block))
	case t0 < r.prevT:
		return r.failAt(start, "the block's time %d goes back (previous %d)", t0, r.prevT)
	}
	r.lastSeq, r.prevT, r.bleft = seq0-1, t0, count
	r.anySeq = true
	return nil
}

func (r *Reader) readEnd(start int64) error {
	recs, err := r.bUvarint("end block's record count")
	if err != nil {
		return err
	}
	allocs, err := r.bUvarint("end block's allocation count")
	if err != nil {
		return err
	}
	dropped, err := r.bUvarint("end block's dropped count")
	if err != nil {
		return err
	}
	if r.bpos != len(r.block) {
		return r.failAt(r.boff+int64(r.bpos), "%d stray bytes in the end block", len(r.block)-r.bpos)
	}
	if recs != uint64(r.info.Records) || allocs != uint64(r.info.Allocs) {
		return r.failAt(start, "the end block counts %d records and %d allocations, the trace holds %d and %d: blocks are missing",
			recs, allocs, r.info.Records, r.info.Allocs)
	}
	r.info.Dropped = int64(min(dropped, math.MaxInt64))
	r.info.Ended = true
	return nil
}

func (r *Reader) bUvarint(what string) (uint64, error) {
	x, n := binary.Uvarint(r.block[r.bpos:])
	if n <= 0 {
		if n == 0 {
			return 0, r.fail(r.boff+int64(r.bpos), "the block ends in the %s", what)
		}
		return 0, r.fail(r.boff+int64(r.bpos), "bad varint in the %s", what)
	}
	r.bpos += n
	return x, nil
}

func (r *Reader) nextBinary() (Event, error) {
	for r.bleft == 0 {
		if r.block != nil && r.bpos != len(r.block) && !r.info.Ended {
			return Event{}, r.failAt(r.boff+int64(r.bpos), "%d stray bytes after the block's last record", len(r.block)-r.bpos)
		}
		if err := r.readBlock(); err != nil {
			return Event{}, err
		}
	}
	at := r.boff + int64(r.bpos)
	opByte := r.block[r.bpos]
	r.bpos++
	op := Op(opByte &^ opInHeap)
	inHeap := opByte&opInHeap != 0
	switch {
	case r.info.Version < 2 && (inHeap || op < Malloc || op > Free),
		inHeap && !op.Allocates(),
		op < Malloc || op > HeapDestroy:
		return Event{}, r.fail(at, "unknown operation %d in a version %d trace (corrupt trace)", opByte, r.info.Version)
	}
	gap, err := r.bUvarint("sequence gap")
	if err != nil {
		return Event{}, err
	}
	seq, c := bits.Add64(r.lastSeq, gap+1, 0)
	if c != 0 || gap == math.MaxUint64 {
		return Event{}, r.fail(at, "sequence number overflows")
	}
	e := Event{Op: op, Seq: seq, Time: -1}
	if r.info.Timestamps {
		dt, err := r.bUvarint("time delta")
		if err != nil {
			return Event{}, err
		}
		t, c := bits.Add64(r.prevT, dt, 0)
		if c != 0 || t > math.MaxInt64/uint64(r.tick) {
			return Event{}, r.fail(at, "time overflows")
		}
		r.prevT = t
		e.Time = int64(t) * r.tick
	}
	th, err := r.bUvarint("thread")
	if err != nil {
		return Event{}, err
	}
	if th > math.MaxUint32 {
		return Event{}, r.fail(at, "thread %d out of range", th)
	}
	e.Thread = uint32(th)
	if inHeap || op.OnHeap() {
		h, err := r.bUvarint("heap")
		if err != nil {
			return Event{}, err
		}
		if h == 0 || h > math.MaxUint32 {
			return Event{}, r.fail(at, "%v names heap %d (corrupt trace)", op, h)
		}
		e.Heap = uint32(h)
	}
	ref := func(what string, zeroOK bool) (uint64, error) {
		x, err := r.bUvarint(what)
		if err != nil {
			return 0, err
		}
		if x == 0 && zeroOK {
			return 0, nil
		}
		if x == 0 || x >= r.nextID {
			return 0, r.fail(at, "%v names block %d back of %d allocations (corrupt trace)", op, x, r.nextID-1)
		}
		id := r.nextID - x
		if !r.live.has(id) {
			return 0, r.fail(at, "%v of block %d, which is not live (%s)", op, id, r.notLive(id))
		}
		return id, nil
	}
	switch op {
	case HeapCreate:
		err = r.createHeap(at, e.Heap)
	case HeapDestroy:
		err = r.destroyHeap(at, e.Heap)
	case Malloc:
		e.Size, err = r.bUvarint("size")
	case Calloc, Aligned:
		if e.Arg, err = r.bUvarint("count or alignment"); err == nil {
			e.Size, err = r.bUvarint("size")
		}
		if err == nil && op == Aligned && (e.Arg == 0 || e.Arg&(e.Arg-1) != 0) {
			err = r.fail(at, "alignment %d is not a power of two", e.Arg)
		}
	case Realloc:
		if e.Old, err = ref("old block", true); err == nil {
			e.Size, err = r.bUvarint("size")
		}
	case Free:
		e.ID, err = ref("block", false)
	}
	if err == nil && op.Allocates() {
		err = r.checkHeap(at, op, e.Heap)
		if err == nil && e.Old != 0 && r.blockHeap[e.Old] != e.Heap {
			err = r.fail(at, "realloc of block %d of heap %d names heap %d", e.Old, r.blockHeap[e.Old], e.Heap)
		}
	}
	if err != nil {
		return Event{}, err
	}
	switch {
	case op == Free:
		e.Heap = r.died(e.ID)
	case op.Allocates():
		if e.Old != 0 {
			r.died(e.Old)
		}
		e.ID = r.nextID
		r.born(e.ID, e.Heap)
		r.nextID++
		r.info.Allocs++
	}
	r.lastSeq = seq
	r.bleft--
	r.info.Records++
	return e, nil
}

// ---- text ----

func (r *Reader) nextText() (Event, error) {
	for {
		start := r.off
		line, err := r.in.ReadSlice('\n')
		r.off += int64(len(line))
		if err == bufio.ErrBufferFull {
			return Event{}, r.failAt(start, "line longer than %d bytes", r.in.Size())
		}
		if len(line) == 0 && err == io.EOF {
			r.info.Ended = true
			return Event{}, io.EOF
		}
		if err != nil && err != io.EOF {
			return Event{}, r.failAt(start, "reading: %v", err)
		}
		r.line++
		line = bytes.TrimSuffix(line, []byte{'\n'})
		e, ok, perr := r.parseLine(line, start)
		if perr != nil {
			return Event{}, perr
		}
		if ok {
			r.info.Records++
			return e, nil
		}
	}
}

// parseLine turns one text line into an event; ok is false for a line
// that yields none (a failed realloc).
func (r *Reader) parseLine(line []byte, off int64) (e Event, ok bool, err error) {
	var f [6][]byte
	n := 0
	for len(line) > 0 {
		if n == len(f) {
			return e, false, r.fail(off, "too many fields")
		}
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			f[n], line = line, nil
		} else {
			f[n], line = line[:i], line[i+1:]
		}
		n++
	}
	if n < 3 || len(f[1]) != 1 {
		return e, false, r.fail(off, "want <thread> <op> <args>, got %q", bytes.Join(f[:n], []byte{' '}))
	}
	op := f[1][0]
	// An allocation may end with the private heap it was made in: @<heap>.
	var heap uint64
	if len(f[n-1]) > 0 && f[n-1][0] == '@' {
		if op != 'm' && op != 'c' && op != 'r' && op != 'a' {
			return e, false, r.fail(off, "operation %q names no heap (%q)", f[1], f[n-1])
		}
		h, good := parseUint(f[n-1][1:])
		if !good || h == 0 || h > math.MaxUint32 {
			return e, false, r.fail(off, "field %d: %q is not a private heap (@1 to @%d)", n, f[n-1], uint32(math.MaxUint32))
		}
		heap = h
		n--
	}
	var v [6]uint64
	for i := 0; i < n; i++ {
		if i == 1 {
			continue
		}
		x, good := parseUint(f[i])
		if !good {
			return e, false, r.fail(off, "field %d: %q is not a number", i+1, f[i])
		}
		v[i] = x
	}
	if v[0] > math.MaxUint32 {
		return e, false, r.fail(off, "thread %d out of range", v[0])
	}
	e = Event{Thread: uint32(v[0]), Seq: uint64(r.line), Time: -1, Heap: uint32(heap)}
	want := 0
	switch op {
	case 'm':
		want = 4
	case 'c', 'r', 'a':
		want = 5
	case 'f', 'h', 'd':
		want = 3
	}
	if want == 0 {
		return e, false, r.fail(off, "unknown operation %q", f[1])
	}
	if n != want {
		return e, false, r.fail(off, "operation %q takes %d fields, the line has %d", f[1], want, n)
	}
	newID := func(op Op, id uint64) error {
		if err := r.checkHeap(off, op, e.Heap); err != nil {
			return err
		}
		if id != r.nextID {
			return r.fail(off, "block id %d, %d expected (ids number the allocations from 1)", id, r.nextID)
		}
		r.born(id, e.Heap)
		r.nextID++
		r.info.Allocs++
		return nil
	}
	liveID := func(id uint64) error {
		if id == 0 || !r.live.has(id) {
			if id != 0 && r.dead.has(id) {
				return r.fail(off, "block %d is not live (its heap was destroyed)", id)
			}
			return r.fail(off, "block %d is not live", id)
		}
		return nil
	}
	heapArg := func() (uint32, error) {
		if v[2] == 0 || v[2] > math.MaxUint32 {
			return 0, r.fail(off, "heap %d out of range 1..%d", v[2], uint32(math.MaxUint32))
		}
		return uint32(v[2]), nil
	}
	switch op {
	case 'h', 'd':
		h, err := heapArg()
		if err != nil {
			return e, false, err
		}
		e.Heap = h
		if op == 'h' {
			e.Op, err = HeapCreate, r.createHeap(off, h)
		} else {
			e.Op, err = HeapDestroy, r.destroyHeap(off, h)
		}
		return e, err == nil, err
	case 'm':
		e.Op, e.ID, e.Size = Malloc, v[2], v[3]
		return e, true, newID(e.Op, e.ID)
	case 'c':
		e.Op, e.ID, e.Arg, e.Size = Calloc, v[2], v[3], v[4]
		return e, true, newID(e.Op, e.ID)
	case 'a':
		e.Op, e.ID, e.Arg, e.Size = Aligned, v[2], v[3], v[4]
		if e.Arg == 0 || e.Arg&(e.Arg-1) != 0 {
			return e, false, r.fail(off, "alignment %d is not a power of two", e.Arg)
		}
		return e, true, newID(e.Op, e.ID)
	case 'f':
		e.Op, e.ID = Free, v[2]
		if err := liveID(e.ID); err != nil {
			return e, false, err
		}
		e.Heap = r.died(e.ID)
		return e, true, nil
	}
	// realloc
	old, nw, size := v[2], v[3], v[4]
	if err := r.checkHeap(off, Realloc, e.Heap); err != nil {
		return e, false, err
	}
	switch {
	case old == 0 && nw == 0:
		r.info.Skipped++ // realloc(NULL, n) failed
		return e, false, nil
	case old == 0:
		e.Op, e.ID, e.Size = Malloc, nw, size
		return e, true, newID(e.Op, nw)
	}
	if err := liveID(old); err != nil {
		return e, false, err
	}
	if oh := r.blockHeap[old]; oh != e.Heap {
		return e, false, r.fail(off, "realloc of block %d of heap %d names heap %d", old, oh, e.Heap)
	}
	switch {
	case nw == 0 && size == 0:
		r.died(old)
		e.Op, e.ID = Free, old
		return e, true, nil
	case nw == 0:
		r.info.Skipped++ // failed: the block stays
		return e, false, nil
	}
	r.died(old)
	e.Op, e.Old, e.ID, e.Size = Realloc, old, nw, size
	return e, true, newID(e.Op, nw)
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var x uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if x > (math.MaxUint64-d)/10 {
			return 0, false
		}
		x = x*10 + d
	}
	return x, true
}
