package fileheap

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/offheap/offheap/mmapper"
)

// Offset is a block's position in the file: the offset of its first usable
// byte from the start of the file. 0 means none. Offsets are the same in
// every process that opens the file and stay valid across Close and Open,
// so they are what an application stores in blocks to link them.
type Offset uint64

// Options configure Open.
type Options struct {
	// Size is the most the heap may grow to, in bytes: the address space
	// reserved at Open, and the limit recorded in the file. 0 means the
	// limit recorded in the file, or 1 GiB for a new file. A Size larger
	// than the recorded limit raises it; a smaller one lowers it, unless it
	// is smaller than what the heap already uses, which is an error. It is
	// rounded up to the page size, and to 20 KiB at least (the 16 KiB
	// header and a page of blocks); at most 64 TiB.
	Size int64
}

// DefaultSize is the Size of a new heap when Options.Size is 0.
const DefaultSize = 1 << 30

// reserveMin is the least address space Open reserves: a process follows
// another that raises the heap's Size up to 8 times its own mapping, and at
// least this far.
const reserveMin = 64 << 30

// Errors. Every error of the package wraps one of these (errors.Is), with
// what was asked and, where it applies, the offset at fault.
var (
	// ErrFormat: the file is not a heap, has another format version, is
	// truncated, or its header is corrupted (from Open).
	ErrFormat = errors.New("not a usable heap file")
	// ErrCorrupt: a chunk, a list or the journal is broken (from Check,
	// and from an operation that meets the damage).
	ErrCorrupt = errors.New("heap corrupted")
	// ErrInvalid: an offset that is not an allocated block (a double free
	// among them), or a size out of range.
	ErrInvalid = errors.New("invalid argument")
	// ErrFull: the heap has reached its Size (or this process's mapping).
	ErrFull = errors.New("heap full")
	// ErrClosed: the Heap was closed.
	ErrClosed = errors.New("heap closed")
)

// Heap is an open file heap. Its methods are safe for concurrent use by
// several goroutines, except Close, which must not run while other calls
// are in progress.
type Heap struct {
	// Read by every operation.
	base   unsafe.Pointer // the mapping: file offset 0
	lockw  *uint32        // the lock word
	jcount *uint64        // the journal's count
	me     uint32         // our lock word: slot + 1 | generation << 8
	secret uint64
	closed atomic.Bool
	mapLen atomic.Uintptr // bytes of the file mapped from base

	resvLen uintptr // address space reserved from base

	path    string
	file    *os.File
	fd      int
	slot    int
	gen     uint32
	mapMu   sync.Mutex // extending the mapping
	noPunch atomic.Bool

	// Work left by an operation for after its commit, under the lock.
	truncateTo int64      // cut the file to this length (0: nothing)
	punches    [][2]int64 // hole ranges {offset, length}

	recovered atomic.Int64 // dead owners' operations undone by this Heap
}

// Open opens the heap in the file at path, creating the file (mode 0666
// before umask) if it does not exist. A file that exists must be a heap
// (an empty file is made one). Open maps the file shared: every process
// that opens it sees the same blocks. If the last process to hold the
// heap's lock died holding it, Open undoes the operation it left in flight
// (a dozen words at most) before it returns.
func Open(path string, opts Options) (*Heap, error) {
	if opts.Size < 0 || opts.Size > maxHeapSize {
		return nil, fmt.Errorf("fileheap: Open %s: Size %d out of range [0, %d]: %w", path, opts.Size, int64(maxHeapSize), ErrInvalid)
	}
	page := int64(mmapper.PageSize())
	size := (opts.Size + page - 1) &^ (page - 1)
	if size != 0 && size < minHeapSize {
		size = minHeapSize
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("fileheap: %w", err)
	}
	h := &Heap{path: path, file: f, fd: int(f.Fd()), slot: -1}
	if err := h.open(size); err != nil {
		h.release()
		return nil, err
	}
	return h, nil
}

// open does Open's work on the open file; on error the caller releases
// what was taken.
func (h *Heap) open(size int64) error {
	hdr, err := h.readHeader(size)
	if err != nil {
		return err
	}
	fileSize, maxSize := int64(le64(hdr, offFileSize)), int64(le64(hdr, offMaxSize))
	if size != 0 && size < fileSize {
		return h.errorf(ErrInvalid, "Options.Size %d is smaller than the %d bytes the heap already uses", size, fileSize)
	}
	// Reserve address space for more than the heap may grow to now, so
	// that the mapping can follow if another process raises the Size, then
	// map the file over the start of it.
	mapSize := max(size, maxSize)
	resv := min(max(8*mapSize, reserveMin), maxHeapSize)
	addr, err := mmapper.Reserve(uintptr(resv), 0)
	if err != nil && resv > mapSize {
		// Address space is limited here (RLIMIT_AS, valgrind): reserve
		// only what is mapped.
		resv = mapSize
		addr, err = mmapper.Reserve(uintptr(resv), 0)
	}
	if err != nil {
		return h.errorf(err, "reserving %d bytes of address space", resv)
	}
	h.base, h.resvLen = unsafe.Add(nil, addr), uintptr(resv)
	if err := mmapper.MapFileFixed(addr, h.fd, 0, uintptr(mapSize), true); err != nil {
		return h.errorf(err, "mapping %d bytes", mapSize)
	}
	h.mapLen.Store(uintptr(mapSize))
	h.lockw = h.ptr32(offLock)
	h.jcount = h.ptr64(offJCount)
	h.secret = le64(hdr, offSecret)
	if err := h.register(); err != nil {
		return err
	}
	// Take the lock once: a dead owner's operation is undone now, and
	// what the header says can be checked while nobody changes it.
	if err := h.lock(); err != nil {
		h.unlockKeepJournal()
		return err
	}
	err = h.checkHeaderLocked(size)
	h.unlock()
	return err
}

// readHeader reads and checks the static header of the file, creating the
// heap if the file is empty.
func (h *Heap) readHeader(size int64) ([]byte, error) {
	hdr := make([]byte, offSlots)
	n, err := h.file.ReadAt(hdr, 0)
	if n == 0 && err != nil {
		// An empty file: make it a heap, under an exclusive flock so that
		// two processes opening a new file at once create it once.
		if err := unix.Flock(h.fd, unix.LOCK_EX); err != nil {
			return nil, h.errorf(os.NewSyscallError("flock", err), "creating")
		}
		defer unix.Flock(h.fd, unix.LOCK_UN)
		if l, err := fileLength(h.fd); err != nil {
			return nil, h.errorf(err, "creating")
		} else if l == 0 {
			if err := h.create(size); err != nil {
				return nil, err
			}
		}
		n, err = h.file.ReadAt(hdr, 0)
	}
	if n < len(hdr) {
		if n >= 8 && le64(hdr, offMagic) != magicWord || n < 8 {
			return nil, h.errorf(ErrFormat, "not a heap file (%d bytes, no magic %q)", n, magicString)
		}
		return nil, h.errorf(ErrFormat, "truncated: %d bytes, shorter than the %d-byte header", n, hdrSize)
	}
	if le64(hdr, offMagic) != magicWord {
		return nil, h.errorf(ErrFormat, "not a heap file (no magic %q)", magicString)
	}
	if v := le32(hdr, offVersion); v != formatVersion {
		return nil, h.errorf(ErrFormat, "format version %d, this package reads version %d", v, formatVersion)
	}
	if got, want := le64(hdr, offChecksum), headerChecksum(hdr); got != want {
		return nil, h.errorf(ErrFormat, "corrupted header: checksum %#x, want %#x", got, want)
	}
	if s := le32(hdr, offHdrSize); s != hdrSize {
		return nil, h.errorf(ErrFormat, "corrupted header: header size %d, want %d", s, hdrSize)
	}
	page := uint64(mmapper.PageSize())
	fileSize, maxSize, top := le64(hdr, offFileSize), le64(hdr, offMaxSize), le64(hdr, offTop)
	switch {
	case maxSize < minHeapSize || maxSize > maxHeapSize || maxSize%page != 0:
		return nil, h.errorf(ErrFormat, "corrupted header: size limit %d", maxSize)
	case fileSize < hdrSize+minChunk || fileSize > maxSize || fileSize%page != 0:
		return nil, h.errorf(ErrFormat, "corrupted header: heap length %d (limit %d)", fileSize, maxSize)
	case top < hdrSize || top%alignSz != 0 || top+minChunk > fileSize:
		return nil, h.errorf(ErrFormat, "corrupted header: top chunk at %#x (heap length %d)", top, fileSize)
	}
	l, err := fileLength(h.fd)
	if err != nil {
		return nil, h.errorf(err, "reading the length")
	}
	if uint64(l) < fileSize {
		return nil, h.errorf(ErrFormat, "truncated: the file has %d bytes, the heap %d", l, fileSize)
	}
	return hdr, nil
}

// create writes a new heap into the empty file: size bytes at most
// (DefaultSize for 0). The magic is written last, so a process killed
// while creating leaves a file that Open refuses rather than a heap with
// half a header.
func (h *Heap) create(size int64) error {
	if size == 0 {
		size = DefaultSize
	}
	fileSize := min(int64(initialSize), size)
	hdr := make([]byte, hdrSize)
	put := func(off int, v uint64) { binary.LittleEndian.PutUint64(hdr[off:], v) }
	binary.LittleEndian.PutUint32(hdr[offVersion:], formatVersion)
	binary.LittleEndian.PutUint32(hdr[offHdrSize:], hdrSize)
	var secret [8]byte
	rand.Read(secret[:])
	put(offSecret, binary.LittleEndian.Uint64(secret[:]))
	put(offCreated, uint64(time.Now().UnixNano()))
	put(offMaxSize, uint64(size))
	put(offFileSize, uint64(fileSize))
	put(offTop, hdrSize)
	for i := 0; i < nBins; i++ {
		b := binHead(i)
		put(int(b)+16, uint64(b))
		put(int(b)+24, uint64(b))
	}
	if err := setLength(h.fd, fileSize); err != nil {
		return h.errorf(err, "creating")
	}
	// The top chunk's header, tagged with the new secret.
	h.secret = le64(hdr, offSecret)
	topHead := make([]byte, 8)
	binary.LittleEndian.PutUint64(topHead, h.headWord(hdrSize, uintptr(fileSize-hdrSize), flagP))
	if _, err := h.file.WriteAt(topHead, hdrSize+sizeSz); err != nil {
		return h.errorf(err, "creating")
	}
	binary.LittleEndian.PutUint64(hdr[offMagic:], magicWord)
	put(offChecksum, headerChecksum(hdr))
	binary.LittleEndian.PutUint64(hdr[offMagic:], 0)
	if _, err := h.file.WriteAt(hdr, 0); err != nil {
		return h.errorf(err, "creating")
	}
	if _, err := h.file.WriteAt([]byte(magicString), offMagic); err != nil {
		return h.errorf(err, "creating")
	}
	return nil
}

// register takes a client slot: the first whose byte lock is free.
func (h *Heap) register() error {
	for i := 0; i < nSlots; i++ {
		ok, err := ofdTryLock(h.fd, int64(slotOff(i)))
		if err != nil {
			return h.errorf(err, "locking slot %d", i)
		}
		if !ok {
			continue
		}
		s := slotOff(i)
		// A new generation, which the lock word must not name already (a
		// damaged file could): only this Heap may write its own word.
		var gen uint32
		for gen == 0 || atomic.LoadUint32(h.lockw)&^contended == uint32(i+1)|gen<<lockGenShift {
			gen = atomic.AddUint32(h.ptr32(s+slotGen), 1) & lockGenMask
		}
		h.setRaw(s+slotPid, uint64(os.Getpid()))
		h.setRaw(s+slotStart, selfStart())
		h.setRaw(s+slotOpened, uint64(time.Now().UnixNano()))
		atomic.StoreUint32(h.ptr32(s+slotState), 1)
		h.slot, h.gen = i, gen
		h.me = uint32(i+1) | gen<<lockGenShift
		return nil
	}
	return h.errorf(ErrFull, "all %d client slots are taken: too many open Heaps", nSlots)
}

// checkHeaderLocked checks the header's changing fields under the lock
// and applies the size limit asked for.
func (h *Heap) checkHeaderLocked(size int64) error {
	fileSize, top := uintptr(h.word(offFileSize)), uintptr(h.word(offTop))
	maxSize := h.word(offMaxSize)
	l, err := fileLength(h.fd)
	if err != nil {
		return h.errorf(err, "reading the length")
	}
	page := uintptr(mmapper.PageSize())
	switch {
	case maxSize < minHeapSize || maxSize > maxHeapSize || uintptr(maxSize)%page != 0:
		return h.errorf(ErrFormat, "corrupted header: size limit %d", maxSize)
	case fileSize < hdrSize+minChunk || fileSize > uintptr(maxSize) || fileSize%page != 0 || fileSize > uintptr(l):
		return h.errorf(ErrFormat, "corrupted header: heap length %d (limit %d, file %d)", fileSize, maxSize, l)
	case top < hdrSize || top%alignSz != 0 || top+minChunk > fileSize:
		return h.errorf(ErrFormat, "corrupted header: top chunk at %#x (heap length %d)", top, fileSize)
	case *h.jcount != 0:
		return h.errorf(ErrFormat, "corrupted header: the journal holds %d entries with the lock free", *h.jcount)
	}
	if err := h.ensureMapped(fileSize); err != nil {
		return err
	}
	if hd := h.head(top); !h.validHead(top, hd) || uintptr(hd&sizeMask) != fileSize-top {
		return h.errorf(ErrFormat, "corrupted header: top chunk at %#x has size word %#x, want size %d", top, hd, fileSize-top)
	}
	if size != 0 && uint64(size) != maxSize {
		h.set(offMaxSize, uint64(size))
		commit(h.jcount)
	}
	return nil
}

// Root returns the offset last given to SetRoot in any process (0 if none,
// and after Close).
func (h *Heap) Root() Offset {
	if h.closed.Load() {
		return 0
	}
	return Offset(atomic.LoadUint64(h.ptr64(offRoot)))
}

// SetRoot records off as the heap's root: one offset the application
// stores in the file and finds again with Root after a restart. The heap
// does not interpret it. The store is atomic: a process killed in SetRoot
// leaves the old root or the new one. It panics after Close.
func (h *Heap) SetRoot(off Offset) {
	if h.closed.Load() {
		panic("fileheap: SetRoot(): heap closed")
	}
	atomic.StoreUint64(h.ptr64(offRoot), uint64(off))
}

// Sync writes what was written to the heap back to the file and waits
// until it is on the device (msync with MS_SYNC). Without it the data
// survives the process (it is in the page cache) but not a crash of the
// machine.
func (h *Heap) Sync() error {
	if h.closed.Load() {
		return h.errorf(ErrClosed, "Sync")
	}
	n := uintptr(atomic.LoadUint64(h.ptr64(offFileSize)))
	page := mmapper.PageSize()
	n = min((n+page-1)&^(page-1), h.mapLen.Load())
	if err := mmapper.Msync(uintptr(h.base), n); err != nil {
		return h.errorf(err, "Sync")
	}
	return nil
}

// Close unmaps the heap and gives up its slot. Every block and the root
// stay in the file for the next Open; slices from Bytes become invalid.
// Close does not sync (see Sync).
func (h *Heap) Close() error {
	if h.closed.Swap(true) {
		return h.errorf(ErrClosed, "Close")
	}
	return h.release()
}

// release undoes what open did, as far as it got.
func (h *Heap) release() error {
	var first error
	if h.slot >= 0 {
		atomic.StoreUint32(h.ptr32(slotOff(h.slot)+slotState), 0)
		if err := ofdUnlock(h.fd, int64(slotOff(h.slot))); err != nil {
			first = err
		}
		h.slot = -1
	}
	if h.base != nil {
		if err := mmapper.Unmap(uintptr(h.base), h.resvLen); err != nil && first == nil {
			first = err
		}
		h.base = nil
	}
	if err := h.file.Close(); err != nil && first == nil {
		first = err
	}
	if first != nil {
		return fmt.Errorf("fileheap: Close %s: %w", h.path, first)
	}
	return nil
}

// errorf returns an error about this heap's file that wraps err.
func (h *Heap) errorf(err error, format string, args ...any) error {
	return fmt.Errorf("fileheap: %s: %s: %w", h.path, fmt.Sprintf(format, args...), err)
}

// corruptf returns an ErrCorrupt error naming the operation and offset,
// in the house style "op(): what is wrong at offset".
func (h *Heap) corruptf(op string, off uintptr, format string, args ...any) error {
	return fmt.Errorf("fileheap: %s(): %s at offset %#x: %w", op, fmt.Sprintf(format, args...), off, ErrCorrupt)
}

// invalidf returns an ErrInvalid error naming the operation and offset.
func invalidf(op string, off Offset, what string) error {
	return fmt.Errorf("fileheap: %s(): %s at offset %#x: %w", op, what, uint64(off), ErrInvalid)
}
