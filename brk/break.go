package brk

import (
	"fmt"
	"strconv"
	"sync"
	"syscall"
)

// Kind says what backs a Break.
type Kind int

// The kinds of Break.
const (
	Real     Kind = iota // the process's program break (SYS_BRK)
	Reserved             // a reserved address range standing in for it
)

// String returns "brk" or "reserved".
func (k Kind) String() string {
	switch k {
	case Real:
		return "brk"
	case Reserved:
		return "reserved"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Break is a contiguous region that grows and shrinks at its end, like the
// program break. Methods are safe for concurrent use (an internal mutex;
// calls are rare).
type Break struct {
	kind  Kind
	base  uintptr // fixed: where the region starts, page aligned
	limit uintptr // fixed: Reserved: end of the reservation; Real: ^uintptr(0)

	mu  sync.Mutex
	cur uintptr // the break: base <= cur <= limit
}

// Kind reports what backs the break.
func (b *Break) Kind() Kind { return b.kind }

// Base returns where the region starts: for Real, the initial break rounded
// up to a page; for Reserved, the start of the reservation.
func (b *Break) Base() uintptr { return b.base }

// Limit returns how far the break may rise at most: the end of the
// reservation for Reserved, ^uintptr(0) for Real (the kernel decides).
func (b *Break) Limit() uintptr { return b.limit }

// Current returns the current break: Base() plus the bytes grown minus the
// bytes shrunk.
func (b *Break) Current() uintptr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// Grow raises the break by n bytes (n > 0, a multiple of the page size) and
// returns the old break, the start of the new memory, which reads as zeros.
// It fails with an error wrapping ENOMEM when the kernel refuses
// (RLIMIT_DATA, a mapping in the way) or the reservation is full; then
// nothing has changed.
func (b *Break) Grow(n uintptr) (old uintptr, err error) {
	if err := checkSize("Grow", n); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old = b.cur
	if n > b.limit-old {
		return 0, fmt.Errorf("brk: grow %d bytes at %#x: %s: %w", n, old, b.fullReason(), syscall.ENOMEM)
	}
	switch b.kind {
	case Real:
		err = growReal(old, n)
	default:
		err = growReserved(old, n)
	}
	if err != nil {
		return 0, err
	}
	b.cur = old + n
	return old, nil
}

func (b *Break) fullReason() string {
	if b.kind == Real {
		return "beyond the end of the address space"
	}
	return fmt.Sprintf("reservation [%#x, %#x) full", b.base, b.limit)
}

// Shrink lowers the break by n bytes (n > 0, a multiple of the page size, at
// most Current()-Base()). The memory given back faults when touched and reads
// as zeros when the break rises over it again. On failure the break is
// unchanged; for Reserved, if only the final mprotect failed, the contents of
// those pages are already discarded (they read as zeros) but stay accessible.
func (b *Break) Shrink(n uintptr) error {
	if err := checkSize("Shrink", n); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if grown := b.cur - b.base; n > grown {
		return invalid("Shrink", "%d bytes is more than the %d grown", n, grown)
	}
	var err error
	switch b.kind {
	case Real:
		err = shrinkReal(b.cur, n)
	default:
		err = shrinkReserved(b.cur, n)
	}
	if err != nil {
		return err
	}
	b.cur -= n
	return nil
}

// checkSize requires n > 0 and a multiple of the page size.
func checkSize(fn string, n uintptr) error {
	switch {
	case n == 0:
		return invalid(fn, "size is zero")
	case n&(pageSize-1) != 0:
		return invalid(fn, "size %d is not a multiple of the page size %d", n, pageSize)
	}
	return nil
}

func invalid(fn, format string, args ...any) error {
	return fmt.Errorf("brk: %s: %s: %w", fn, fmt.Sprintf(format, args...), syscall.EINVAL)
}
