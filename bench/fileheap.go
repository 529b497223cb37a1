package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"unsafe"

	"github.com/offheap/offheap/fileheap"
)

// The fileheap peer: a heap in a file (package fileheap) driven through
// the same Allocator interface as offheap, so that its rows sit beside
// alloc.Malloc's in the same run. Its blocks are named by offsets; the
// Allocator turns them into addresses with the mapping's base, as a program
// would with Bytes. It runs the fast-path suite only (pair/N, pair-par/N,
// random-live, random-live-par): the other workloads measure what a
// general-purpose malloc must do, which a heap in a file is not for.

// fileHeapWorkloads are the workloads the fileheap peer runs.
var fileHeapWorkloads = regexp.MustCompile(`^(pair|pair-par)/\d+$|^random-live(-par)?$`)

// FileHeap is an Allocator over a fileheap.Heap, shared by every goroutine
// of the measuring process (as processes share the file).
type FileHeap struct {
	h    *fileheap.Heap
	base uintptr // address of the file's offset 0
}

var (
	fileHeapOnce sync.Once
	fileHeapOne  *FileHeap
	fileHeapErr  error
)

// SharedFileHeap returns the process's FileHeap: a heap of 64 GiB at most
// in a new file of the temporary directory, removed at once (the mapping
// keeps it until the process ends).
func SharedFileHeap() (*FileHeap, error) {
	fileHeapOnce.Do(func() {
		path := filepath.Join(os.TempDir(), "offheap-bench-fileheap-"+strconv.Itoa(os.Getpid()))
		os.Remove(path)
		h, err := fileheap.Open(path, fileheap.Options{Size: 64 << 30})
		os.Remove(path)
		if err != nil {
			fileHeapErr = err
			return
		}
		off, err := h.Alloc(16)
		if err != nil {
			fileHeapErr = err
			return
		}
		base := uintptr(unsafe.Pointer(unsafe.SliceData(h.Bytes(off)))) - uintptr(off)
		h.Free(off)
		fileHeapOne = &FileHeap{h: h, base: base}
	})
	return fileHeapOne, fileHeapErr
}

// Malloc calls Heap.Alloc and returns the block's address; it panics if
// Alloc fails (the workloads write the first byte of every block).
func (f *FileHeap) Malloc(n int) unsafe.Pointer {
	off, err := f.h.Alloc(n)
	if err != nil {
		panic(err)
	}
	return unsafe.Add(unsafe.Pointer(nil), f.base+uintptr(off))
}

// Free calls Heap.Free with the block's offset.
func (f *FileHeap) Free(p unsafe.Pointer) {
	if p == nil {
		return
	}
	if err := f.h.Free(fileheap.Offset(uintptr(p) - f.base)); err != nil {
		panic(err)
	}
}

// PairLoop is Looper's pair loop over f's Malloc and Free.
func (f *FileHeap) PairLoop(size, n int) unsafe.Pointer {
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		p = f.Malloc(size)
		*(*byte)(p) = byte(i)
		f.Free(p)
	}
	return p
}

// MixLoop is Looper's mixed loop over f's Malloc and Free.
func (f *FileHeap) MixLoop(s *MixState, n int) unsafe.Pointer {
	slots, sizes, offsets, touch := s.Slots, s.Mix.Sizes, s.Mix.Offsets, s.Mix.Touch
	offs, ss := s.OffState, s.SizeState
	var p unsafe.Pointer
	for i := 0; i < n; i++ {
		offs = LCGNext(offs)
		j := offsets[(offs>>16)&(MixOffsets-1)]
		ss = LCGNext(ss)
		size := sizes[(ss>>16)&(MixSizes-1)]
		f.Free(slots[j])
		p = f.Malloc(int(size))
		*(*byte)(p) = byte(i)
		if touch {
			TouchPages(p, int(size))
		}
		slots[j] = p
	}
	s.OffState, s.SizeState = offs, ss
	return p
}

// Realloc calls Heap.Realloc.
func (f *FileHeap) Realloc(p unsafe.Pointer, n int) unsafe.Pointer {
	var off fileheap.Offset
	if p != nil {
		off = fileheap.Offset(uintptr(p) - f.base)
	}
	off, err := f.h.Realloc(off, n)
	if err != nil {
		panic(err)
	}
	if off == 0 {
		return nil
	}
	return unsafe.Add(unsafe.Pointer(nil), f.base+uintptr(off))
}

// FileHeapPeer is package fileheap through Alloc and Free, every goroutine
// sharing one heap in a file.
func FileHeapPeer() Peer {
	return Peer{
		Name:  FileheapPeer,
		About: "fileheap.Heap Alloc/Free from Go, one heap in a (deleted) file of the temporary directory shared by every goroutine",
		NewWorker: func(w *Workload, worker int) (Worker, error) {
			if !fileHeapWorkloads.MatchString(w.Name) {
				return nil, fmt.Errorf("bench: the fileheap peer does not run %s", w.Name)
			}
			f, err := SharedFileHeap()
			if err != nil {
				return nil, err
			}
			return NewGoWorker(f, w, worker)
		},
	}
}

// fileHeapTarget checks issue 15's target 4 on the report: fileheap's
// pair/64 at most 2x offheap's in the same run. It returns false when the
// report lacks either figure.
func (r *Report) fileHeapTarget() (Target, bool) {
	fh, off := r.ns("fileheap", "pair/64"), r.ns("offheap", "pair/64")
	if math.IsNaN(fh) || math.IsNaN(off) {
		return Target{}, false
	}
	ok := fh <= 2*off
	return Target{Text: fmt.Sprintf("fileheap pair/64: %s offheap's alloc.Malloc (%s ns vs %s ns), at most 2x",
		fmtRatio(fh/off), fmtNs(fh), fmtNs(off)), Met: &ok}, true
}

// FileheapPeer names the fileheap peer: offheap's own heap in a file, so
// not a peer "a Go program can already call" for issue 11's targets.
const FileheapPeer = "fileheap"
