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

// fuzzOps decodes data into operations on the allocator and runs them:
// each operation is one byte (the low three bits say which) and its
// arguments. Every block carries its pattern, checked before it is freed,
// after each realloc and at the end; Check must pass after everything is
// freed.
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
	var live []block
	liveBytes := uintptr(0)
	var id uint64
	fail := func(op int, format string, args ...any) {
		t.Helper()
		t.Fatalf("op %d (input byte %d): %s", op, rd, fmt.Sprintf(format, args...))
	}
	adopt := func(op int, p uintptr, n, al int, what string) {
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
		id++
		fillPattern(p, id, 0, uintptr(n))
		live = append(live, block{p: p, n: uintptr(n), id: id})
		liveBytes += uintptr(n)
	}
	pick := func() int { return int(next()) % len(live) }
	remove := func(k int) block {
		b := live[k]
		live[k] = live[len(live)-1]
		live = live[:len(live)-1]
		liveBytes -= b.n
		return b
	}
	verify := func(op int, b block, when string) {
		t.Helper()
		if msg := checkPattern(b.p, b.id, 0, b.n); msg != "" {
			fail(op, "block %d at %#x %s: %s", b.id, b.p, when, msg)
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
			q := uintptr(alloc.Realloc(b.ptr(), n))
			if n == 0 {
				if q != 0 {
					fail(op, "realloc(p, 0) = %#x, want nil", q)
				}
				continue
			}
			if q == 0 || q%16 != 0 {
				fail(op, "realloc(%#x, %d) = %#x", b.p, n, q)
			}
			keep := min(b.n, uintptr(n))
			if msg := checkPattern(q, b.id, 0, keep); msg != "" {
				fail(op, "realloc %#x (%d) -> %#x (%d) lost the contents: %s", b.p, b.n, q, n, msg)
			}
			fillPattern(q, b.id, keep, uintptr(n))
			live = append(live, block{p: q, n: uintptr(n), id: b.id})
			liveBytes += uintptr(n)
		case kind == 4:
			al := 1 << (int(code>>3) % 21)
			n := sized(fuzzSize(next(), next()))
			adopt(op, uintptr(alloc.AlignedAlloc(al, n)), n, al, fmt.Sprintf("aligned_alloc(%d)", al))
		case kind == 5 || kind == 6:
			b := remove(pick())
			verify(op, b, "before free")
			alloc.Free(b.ptr())
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
	if err := alloc.Check(); err != nil {
		t.Fatalf("Check after %d input bytes: %v", rd, err)
	}
}

// FuzzOps decodes bytes into a sequence of Malloc, Calloc, Realloc,
// AlignedAlloc, Free, Trim and FlushCaches calls (see fuzzOps) and checks
// every block's contents and the heap's invariants. Its seeds are in
// testdata/fuzz/FuzzOps; run it with go test -fuzz=FuzzOps ./alloc/.
func FuzzOps(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 10, 0, 0, 20, 5, 0, 3, 0, 0, 60, 6, 1})
	f.Add([]byte{0, 0xe1, 0, 0, 0xc0, 4, 3, 0, 0xe2, 0, 5, 0, 5, 0})          // 256 KiB, 256 B, grow the first to 512 KiB
	f.Add([]byte{0x7c, 0x40, 0, 0x94, 0x20, 0xc0, 0x1f, 0xff, 0x07, 0x0f, 0}) // aligned 4096, ..., Trim
	f.Fuzz(fuzzOps)
}
