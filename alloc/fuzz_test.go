package alloc_test

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/alloc"
)

func unsafeAt(p uintptr) unsafe.Pointer { return unsafe.Add(nil, p) }

// fuzzSize decodes a request size from two bytes: the top three bits of
// the first choose a range (to 1 KiB in the low half, then up to 8 KiB,
// 64 KiB, 512 KiB and 4 MiB), the rest a size within it.
func fuzzSize(b0, b1 byte) int {
	v := int(b0&31)<<8 | int(b1)
	switch c := b0 >> 5; c {
	case 0, 1, 2, 3:
		return int(c)<<8 | int(b1)
	case 4:
		return v
	case 5:
		return v * 8
	case 6:
		return v * 64
	default:
		return v * 512
	}
}

// fuzzBlock is a live block of the fuzzer and its heap (nil: the process
// heap).
type fuzzBlock struct {
	block
	h *alloc.Heap
}

// maxFuzzHeaps is how many private heaps an input may hold at once.
const maxFuzzHeaps = 4

// fuzzOps decodes data into operations on the allocator and runs them:
// each operation is one byte (the low three bits say which) and its
// arguments. Every block carries its pattern, checked before it is freed,
// after each realloc and at the end; Check must pass after everything is
// freed.
//
// Private heaps take the codes of kind 7 whose top three bits are not zero
// (hop = code>>5, v = code>>3&3): 1 NewHeap; 2 Destroy (heap next()), and
// with v 0 alloc.Free of one of its blocks, refused; 3 Malloc, 4 Calloc,
// 5 Realloc (block next()), 6 Free (block next()) in heap v; 7 with v 0
// Check and Mallinfo2 of heap next(), 1 another heap's block (next()) to
// heap v's Free, refused, 2 UsableSize of a block (next()) through its heap
// and alloc, 3 another heap's block to heap v's Realloc, refused. Until an
// input makes a heap, every such code but NewHeap is the kind 7 code v, as
// before private heaps were fuzzed, so older inputs mean what they meant
// up to their first NewHeap (0x27, 0x2f, 0x37, 0x3f). Once heaps exist the
// other codes take any block, a private heap's too: kind 3 reallocates it
// with alloc.Realloc, kinds 5 and 6 free it with alloc.Free.
func fuzzOps(t *testing.T, data []byte) {
	const (
		maxOps  = 300
		maxLive = 8 << 20
		budget  = 12 << 20 // bytes filled per input: keeps each run short
	)
	spent := 0
	// sized charges a request to the budget; once it is spent, requests
	// are cut to under a page.
	sized := func(n int) int {
		if spent+n > budget {
			n &= 4095
		}
		spent += n
		return n
	}
	rd := 0
	next := func() byte {
		if rd >= len(data) {
			return 0
		}
		rd++
		return data[rd-1]
	}
	var live []fuzzBlock
	var heaps []*alloc.Heap
	liveBytes := uintptr(0)
	var id uint64
	fail := func(op int, format string, args ...any) {
		t.Helper()
		t.Fatalf("op %d (input byte %d): %s", op, rd, fmt.Sprintf(format, args...))
	}
	// owned checks that p is a block of heap h: its UsableSize answers as
	// alloc.UsableSize does (it panics for another heap's block).
	owned := func(op int, h *alloc.Heap, p uintptr, what string) {
		t.Helper()
		if h == nil {
			return
		}
		var u int
		if bad := corruptionOp(func() { u = h.UsableSize(unsafeAt(p)) }); bad != "" || u != alloc.UsableSize(unsafeAt(p)) {
			fail(op, "%s = %#x: heap %d's UsableSize %d (%s), alloc.UsableSize %d", what, p, h.ID(), u, bad, alloc.UsableSize(unsafeAt(p)))
		}
	}
	adoptIn := func(op int, h *alloc.Heap, p uintptr, n, al int, what string) {
		t.Helper()
		if p == 0 {
			fail(op, "%s(%d) returned nil", what, n)
		}
		if p%16 != 0 || (al > 16 && p%uintptr(al) != 0) {
			fail(op, "%s(%d) = %#x is misaligned (alignment %d)", what, n, p, al)
		}
		if u := alloc.UsableSize(unsafeAt(p)); u < n {
			fail(op, "%s(%d) = %#x: UsableSize %d", what, n, p, u)
		}
		owned(op, h, p, what)
		id++
		fillPattern(p, id, 0, uintptr(n))
		live = append(live, fuzzBlock{block{p: p, n: uintptr(n), id: id}, h})
		liveBytes += uintptr(n)
	}
	adopt := func(op int, p uintptr, n, al int, what string) {
		t.Helper()
		adoptIn(op, nil, p, n, al, what)
	}
	pick := func() int { return int(next()) % len(live) }
	remove := func(k int) fuzzBlock {
		b := live[k]
		live[k] = live[len(live)-1]
		live = live[:len(live)-1]
		liveBytes -= b.n
		return b
	}
	verify := func(op int, b fuzzBlock, when string) {
		t.Helper()
		if msg := checkPattern(b.p, b.id, 0, b.n); msg != "" {
			fail(op, "block %d at %#x %s: %s", b.id, b.p, when, msg)
		}
	}
	// pickIn returns the index of a live block of heap h chosen by the next
	// byte, or -1 when h has none.
	pickIn := func(h *alloc.Heap) int {
		var ks []int
		for k, b := range live {
			if b.h == h {
				ks = append(ks, k)
			}
		}
		if len(ks) == 0 {
			return -1
		}
		return ks[int(next())%len(ks)]
	}
	// pickOther returns the index of a live block of a heap other than h,
	// chosen by the next byte, or -1.
	pickOther := func(h *alloc.Heap) int {
		var ks []int
		for k, b := range live {
			if b.h != h {
				ks = append(ks, k)
			}
		}
		if len(ks) == 0 {
			return -1
		}
		return ks[int(next())%len(ks)]
	}
	checkHeap := func(op int, h *alloc.Heap) {
		t.Helper()
		if err := h.Check(); err != nil {
			fail(op, "heap %d: Check: %v", h.ID(), err)
		}
		mi := h.Mallinfo2()
		usable := 0
		for _, b := range live {
			if b.h == h {
				usable += alloc.UsableSize(b.ptr())
			}
		}
		if mi.Uordblks+mi.Fordblks != mi.Arena || mi.Hblkhd < mi.Hblks*4096 || usable > mi.Uordblks+mi.Hblkhd {
			fail(op, "heap %d: Mallinfo2 %+v with %d usable bytes live", h.ID(), mi, usable)
		}
	}
	// reallocIn resizes b to n bytes with realloc (alloc.Realloc or its
	// heap's): the contents stay, and so does its heap.
	reallocIn := func(op int, b fuzzBlock, n int, realloc func(unsafe.Pointer, int) unsafe.Pointer) {
		t.Helper()
		q := uintptr(realloc(b.ptr(), n))
		if n == 0 {
			if q != 0 {
				fail(op, "realloc(p, 0) = %#x, want nil", q)
			}
			return
		}
		if q == 0 || q%16 != 0 {
			fail(op, "realloc(%#x, %d) = %#x", b.p, n, q)
		}
		owned(op, b.h, q, fmt.Sprintf("realloc(%#x, %d)", b.p, n))
		keep := min(b.n, uintptr(n))
		if msg := checkPattern(q, b.id, 0, keep); msg != "" {
			fail(op, "realloc %#x (%d) -> %#x (%d) lost the contents: %s", b.p, b.n, q, n, msg)
		}
		fillPattern(q, b.id, keep, uintptr(n))
		live = append(live, fuzzBlock{block{p: q, n: uintptr(n), id: b.id}, b.h})
		liveBytes += uintptr(n)
	}
	// heapOp runs private heap operation hop (1-7) with variant v; see
	// fuzzOps.
	heapOp := func(op int, hop byte, v int) {
		t.Helper()
		if hop == 1 {
			if len(heaps) < maxFuzzHeaps {
				heaps = append(heaps, alloc.NewHeap())
			}
			return
		}
		h := heaps[v%len(heaps)]
		switch hop {
		case 2:
			k := int(next()) % len(heaps)
			h = heaps[k]
			var gone []fuzzBlock
			for i := 0; i < len(live); {
				if live[i].h == h {
					verify(op, live[i], "before its heap is destroyed")
					gone = append(gone, remove(i))
					continue
				}
				i++
			}
			h.Destroy()
			heaps = append(heaps[:k], heaps[k+1:]...)
			if v == 0 && len(gone) > 0 {
				// Nothing was allocated since: the address is no heap's.
				b := gone[int(next())%len(gone)]
				if bad := corruptionOp(func() { alloc.Free(b.ptr()) }); bad != "free(): invalid pointer" {
					fail(op, "alloc.Free of block %#x of destroyed heap %d: panic %q, want free(): invalid pointer", b.p, h.ID(), bad)
				}
			}
		case 3:
			n := sized(fuzzSize(next(), next()))
			adoptIn(op, h, uintptr(h.Malloc(n)), n, 0, fmt.Sprintf("heap %d: Malloc", h.ID()))
		case 4:
			k := int(next())%8 + 1
			size := sized(fuzzSize(next(), next())) / k
			p := h.Calloc(k, size)
			if i := firstNonZero(uintptr(p), uintptr(k*size)); p != nil && i >= 0 {
				fail(op, "heap %d: Calloc(%d, %d) byte %d is not zero", h.ID(), k, size, i)
			}
			adoptIn(op, h, uintptr(p), k*size, 0, fmt.Sprintf("heap %d: Calloc", h.ID()))
		case 5:
			k := pickIn(h)
			n := sized(fuzzSize(next(), next()))
			if k < 0 {
				adoptIn(op, h, uintptr(h.Realloc(nil, n)), n, 0, fmt.Sprintf("heap %d: Realloc(nil)", h.ID()))
				return
			}
			b := remove(k)
			verify(op, b, "before realloc")
			reallocIn(op, b, n, h.Realloc)
		case 6:
			if k := pickIn(h); k >= 0 {
				b := remove(k)
				verify(op, b, "before free")
				h.Free(b.ptr())
			}
		case 7:
			switch v {
			case 0:
				checkHeap(op, heaps[int(next())%len(heaps)])
			case 1, 3:
				// Another heap's block (or the process heap's), refused
				// and left as it was.
				k := pickOther(h)
				if k < 0 {
					return
				}
				b := live[k]
				call, want := func() { h.Free(b.ptr()) }, "free(): invalid pointer"
				if v == 3 {
					call, want = func() { h.Realloc(b.ptr(), int(b.n)+1) }, "realloc(): invalid pointer"
				}
				if bad := corruptionOp(call); bad != want {
					fail(op, "heap %d given block %#x of another heap: panic %q, want %q", h.ID(), b.p, bad, want)
				}
				verify(op, b, "after another heap refused it")
			case 2:
				if len(live) > 0 {
					b := live[pick()]
					owned(op, b.h, b.p, "a live block")
				}
			}
		}
	}
	for op := 0; op < maxOps && rd < len(data); op++ {
		code := next()
		kind := code & 7
		if liveBytes > maxLive && len(live) > 0 {
			kind = 5 // free something first
		}
		switch {
		case kind <= 1 || (kind >= 3 && len(live) == 0 && kind != 4 && kind != 7):
			n := sized(fuzzSize(next(), next()))
			adopt(op, uintptr(alloc.Malloc(n)), n, 0, "malloc")
		case kind == 2:
			k := int(code>>3)%8 + 1
			size := sized(fuzzSize(next(), next())) / k
			p := alloc.Calloc(k, size)
			if i := firstNonZero(uintptr(p), uintptr(k*size)); p != nil && i >= 0 {
				fail(op, "calloc(%d, %d) byte %d is not zero", k, size, i)
			}
			adopt(op, uintptr(p), k*size, 0, "calloc")
		case kind == 3:
			b := remove(pick())
			verify(op, b, "before realloc")
			n := sized(fuzzSize(next(), next()))
			reallocIn(op, b, n, alloc.Realloc)
		case kind == 4:
			al := 1 << (int(code>>3) % 21)
			n := sized(fuzzSize(next(), next()))
			adopt(op, uintptr(alloc.AlignedAlloc(al, n)), n, al, fmt.Sprintf("aligned_alloc(%d)", al))
		case kind == 5 || kind == 6:
			b := remove(pick())
			verify(op, b, "before free")
			alloc.Free(b.ptr())
		case code>>5 != 0 && (len(heaps) > 0 || code>>5 == 1): // 7: private heaps
			heapOp(op, code>>5, int(code>>3&3))
		default: // 7: the odd ones
			switch code >> 3 & 3 {
			case 0:
				alloc.Trim(int(next()) << 12)
			case 1:
				adopt(op, uintptr(alloc.Malloc(0)), 0, 0, "malloc(0)")
			case 2:
				n := sized(fuzzSize(next(), next()))
				adopt(op, uintptr(alloc.Realloc(nil, n)), n, 0, "realloc(nil)")
			case 3:
				alloc.FlushCaches()
			}
		}
	}
	for _, b := range live {
		verify(-1, b, "at the end")
		alloc.Free(b.ptr())
	}
	live = nil
	for _, h := range heaps {
		checkHeap(-1, h)
		if mi := h.Mallinfo2(); mi.Hblks != 0 || mi.Hblkhd != 0 {
			t.Fatalf("heap %d: every block freed, Mallinfo2 %+v", h.ID(), mi)
		}
		h.Destroy()
	}
	if err := alloc.Check(); err != nil {
		t.Fatalf("Check after %d input bytes: %v", rd, err)
	}
}

// FuzzOps decodes bytes into a sequence of Malloc, Calloc, Realloc,
// AlignedAlloc, Free, Trim and FlushCaches calls, and of private heaps
// created, used and destroyed (see fuzzOps), and checks every block's
// contents and the heaps' invariants. Its seeds are in
// testdata/fuzz/FuzzOps; run it with go test -fuzz=FuzzOps ./alloc/.
func FuzzOps(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 10, 0, 0, 20, 5, 0, 3, 0, 0, 60, 6, 1})
	f.Add([]byte{0, 0xe1, 0, 0, 0xc0, 4, 3, 0, 0xe2, 0, 5, 0, 5, 0})          // 256 KiB, 256 B, grow the first to 512 KiB
	f.Add([]byte{0x7c, 0x40, 0, 0x94, 0x20, 0xc0, 0x1f, 0xff, 0x07, 0x0f, 0}) // aligned 4096, ..., Trim
	// Private heaps: two made; 256 B and 256 KiB in heap 0, 3 KiB in heap
	// 1, 64 B in the process heap; a block of heap 0 grown to 1 KiB by its
	// Realloc; another heap's block refused by heap 1's Free; a block freed
	// by alloc.Free; heap 1 checked; heap 0 destroyed, one of its blocks
	// then refused by alloc.Free; heap 1's block freed by its Free.
	f.Add([]byte{0x27, 0x27, 0x67, 0x20, 0x00, 0x67, 0xe2, 0x00, 0x6f, 0x8c, 0x00, 0x00, 0x00, 0x40,
		0xa7, 0x00, 0x84, 0x00, 0xef, 0x00, 0x05, 0x01, 0xe7, 0x01, 0x47, 0x00, 0x00, 0xc7, 0x00})
	// A heap made; Calloc(4, 64) and 272 B in it; a block resized to 256 B
	// by alloc.Realloc; Trim(0); the heap destroyed; two more made; 8 KiB in
	// heap 1, 64 B in the process heap; heap 1's Realloc refuses the
	// process heap's block; UsableSize of a block through its heap; heap 1
	// checked and destroyed; a third heap made, 256 B in it, freed by its
	// Free.
	f.Add([]byte{0x27, 0x87, 0x03, 0x20, 0x00, 0x67, 0x21, 0x10, 0x03, 0x00, 0x81, 0x00, 0x07, 0x00,
		0x47, 0x00, 0x00, 0x27, 0x27, 0x6f, 0xe0, 0x10, 0x00, 0x00, 0x40, 0xff, 0x00, 0xf7, 0x00,
		0xe7, 0x01, 0x4f, 0x01, 0x27, 0x6f, 0x20, 0x00, 0xcf, 0x00})
	f.Fuzz(fuzzOps)
}
