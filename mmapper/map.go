package mmapper

import "golang.org/x/sys/unix"

// PageSize returns the kernel's page size in bytes, the unit of every
// address and size this package takes.
func PageSize() uintptr { return pageSize }

const protRW = unix.PROT_READ | unix.PROT_WRITE

// Map maps n bytes (n > 0, a multiple of PageSize) of zeroed, private,
// anonymous read-write memory and returns its address.
func Map(n uintptr) (uintptr, error) {
	if err := checkSize("Map", n); err != nil {
		return 0, err
	}
	addr, err := mmap(n, protRW, 0)
	if err != nil {
		return 0, callError(err, "mmap %d bytes", n)
	}
	return addr, nil
}

// MapAligned is Map with the start aligned to align, a power of two no
// smaller than PageSize. It over-maps n+align-PageSize bytes, which always
// holds an aligned range of n bytes, then unmaps the slack on both sides
// (those munmaps are counted too).
func MapAligned(n, align uintptr) (uintptr, error) {
	if err := checkSize("MapAligned", n); err != nil {
		return 0, err
	}
	if err := checkAlign("MapAligned", align); err != nil {
		return 0, err
	}
	return mapAligned("MapAligned", n, align, protRW, 0)
}

// mapAligned maps n bytes with prot and flags at an address aligned to align
// (already validated as a power of two >= pageSize).
func mapAligned(fn string, n, align uintptr, prot, flags int) (uintptr, error) {
	if align == pageSize {
		addr, err := mmap(n, prot, flags)
		if err != nil {
			return 0, callError(err, "mmap %d bytes", n)
		}
		return addr, nil
	}
	over := n + align - pageSize
	if over < n {
		return 0, invalid(fn, "size %d + alignment %#x overflows", n, align)
	}
	start, err := mmap(over, prot, flags)
	if err != nil {
		return 0, callError(err, "mmap %d bytes to align %d bytes to %#x", over, n, align)
	}
	addr := (start + align - 1) &^ (align - 1)
	end, overEnd := addr+n, start+over
	if head := addr - start; head > 0 {
		if err := munmap(start, head); err != nil {
			// Unreachable in practice; give everything back rather than leak.
			_ = munmap(start, over)
			return 0, callError(err, "munmap %#x %d bytes (alignment slack)", start, head)
		}
	}
	if tail := overEnd - end; tail > 0 {
		if err := munmap(end, tail); err != nil {
			_ = munmap(addr, n+tail)
			return 0, callError(err, "munmap %#x %d bytes (alignment slack)", end, tail)
		}
	}
	return addr, nil
}

// Unmap unmaps [addr, addr+n). Afterwards any access to the range faults.
func Unmap(addr, n uintptr) error {
	if err := checkRange("Unmap", addr, n); err != nil {
		return err
	}
	if err := munmap(addr, n); err != nil {
		return callError(err, "munmap %#x %d bytes", addr, n)
	}
	return nil
}

// Remap resizes the mapping at addr from oldN to newN bytes (mremap), letting
// the kernel move it when mayMove, and returns the (possibly new) address.
// Contents up to min(oldN, newN) are kept; pages added at the end read as
// zeros. Without mayMove, growing fails with ENOMEM when the pages after the
// mapping are taken.
func Remap(addr, oldN, newN uintptr, mayMove bool) (uintptr, error) {
	if err := checkRange("Remap", addr, oldN); err != nil {
		return 0, err
	}
	if err := checkSize("Remap", newN); err != nil {
		return 0, err
	}
	flags := 0
	if mayMove {
		flags = unix.MREMAP_MAYMOVE
	}
	newAddr, err := mremap(addr, oldN, newN, flags)
	if err != nil {
		return 0, callError(err, "mremap %#x from %d to %d bytes", addr, oldN, newN)
	}
	return newAddr, nil
}
