package mmapper

import "golang.org/x/sys/unix"

// Reserving address space and committing it in pieces, the shape of a
// growable region: Reserve takes the range PROT_NONE and MAP_NORESERVE (no
// commit charge, no memory), Commit opens pages for reading and writing,
// Decommit gives them back and closes them again.

// Reserve reserves n bytes of address space (n > 0, a multiple of PageSize)
// with PROT_NONE and MAP_NORESERVE, aligned to align (0 or PageSize for no
// extra alignment, otherwise a power of two). Touching the range faults until
// Commit. Unmap releases it.
func Reserve(n, align uintptr) (uintptr, error) {
	if err := checkSize("Reserve", n); err != nil {
		return 0, err
	}
	if align == 0 {
		align = pageSize
	}
	if err := checkAlign("Reserve", align); err != nil {
		return 0, err
	}
	return mapAligned("Reserve", n, align, unix.PROT_NONE, unix.MAP_NORESERVE)
}

// Commit makes [addr, addr+n) of a reservation readable and writable
// (mprotect). Pages never touched, or last released by Decommit, read as
// zeros.
func Commit(addr, n uintptr) error {
	if err := checkRange("Commit", addr, n); err != nil {
		return err
	}
	if err := mprotect(addr, n, protRW); err != nil {
		return callError(err, "mprotect %#x %d bytes read-write", addr, n)
	}
	return nil
}

// Decommit discards the contents of [addr, addr+n) (MADV_DONTNEED) and makes
// the pages PROT_NONE again. If the madvise fails nothing has changed; if the
// mprotect fails the contents are gone but the pages stay accessible.
func Decommit(addr, n uintptr) error {
	if err := checkRange("Decommit", addr, n); err != nil {
		return err
	}
	if err := madvise(addr, n, unix.MADV_DONTNEED); err != nil {
		return callError(err, "madvise %#x %d bytes MADV_DONTNEED", addr, n)
	}
	if err := mprotect(addr, n, unix.PROT_NONE); err != nil {
		return callError(err, "mprotect %#x %d bytes PROT_NONE", addr, n)
	}
	return nil
}
