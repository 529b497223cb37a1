package mmapper

import (
	"fmt"
	"syscall"
)

// Argument validation and error wording. An invalid argument is refused
// before any system call, with an error that wraps syscall.EINVAL as the
// kernel's own refusal would; it is not counted, since no call was made.

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

// checkRange requires addr page aligned, n valid for checkSize, and
// [addr, addr+n) not wrapping around the address space.
func checkRange(fn string, addr, n uintptr) error {
	if addr&(pageSize-1) != 0 {
		return invalid(fn, "address %#x is not page aligned", addr)
	}
	if err := checkSize(fn, n); err != nil {
		return err
	}
	if addr+n < addr {
		return invalid(fn, "range %#x + %d bytes wraps around", addr, n)
	}
	return nil
}

// checkAlign requires align to be a power of two no smaller than a page.
func checkAlign(fn string, align uintptr) error {
	if align < pageSize || align&(align-1) != 0 {
		return invalid(fn, "alignment %#x is not a power of two >= the page size %d", align, pageSize)
	}
	return nil
}

func invalid(fn, format string, args ...any) error {
	return fmt.Errorf("mmapper: %s: %s: %w", fn, fmt.Sprintf(format, args...), syscall.EINVAL)
}

// callError says which call failed on what; err wraps the syscall.Errno.
func callError(err error, format string, args ...any) error {
	return fmt.Errorf("mmapper: %s: %w", fmt.Sprintf(format, args...), err)
}
