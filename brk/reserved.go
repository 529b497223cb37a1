package brk

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// The Reserved backend: a break over a reservation of address space. The
// reservation is PROT_NONE and MAP_NORESERVE, so it costs neither memory nor
// commit charge; pages below the break are read-write, pages above it
// PROT_NONE. Shrinking discards the pages first, so they read as zeros when
// the break rises again, as a real break's would.

// NewReserved returns a Break over a fresh reservation of size bytes (size
// > 0, a multiple of the page size). Pages are committed with mprotect as the
// break rises; on shrink they are discarded with MADV_DONTNEED and made
// PROT_NONE again. The reservation is never unmapped. Default uses it in cgo
// processes; tests may make as many as they like.
func NewReserved(size uintptr) (*Break, error) {
	if err := checkSize("NewReserved", size); err != nil {
		return nil, err
	}
	addr, err := mmap(size, unix.PROT_NONE, unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("brk: mmap %d bytes (reservation): %w", size, err)
	}
	return &Break{kind: Reserved, base: addr, cur: addr, limit: addr + size}, nil
}

// growReserved opens [cur, cur+n) for reading and writing.
func growReserved(cur, n uintptr) error {
	if err := mprotect(cur, n, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		return fmt.Errorf("brk: mprotect %#x %d bytes read-write: %w", cur, n, err)
	}
	return nil
}

// shrinkReserved discards [cur-n, cur) and closes it.
func shrinkReserved(cur, n uintptr) error {
	start := cur - n
	if err := madvise(start, n, unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("brk: madvise %#x %d bytes MADV_DONTNEED: %w", start, n, err)
	}
	if err := mprotect(start, n, unix.PROT_NONE); err != nil {
		return fmt.Errorf("brk: mprotect %#x %d bytes PROT_NONE: %w", start, n, err)
	}
	return nil
}
