package mmapper

import "golang.org/x/sys/unix"

// Guard makes [addr, addr+n) inaccessible (mprotect PROT_NONE) and keeps its
// contents: any access faults until Commit opens the pages again. Debugging
// allocators put such a page right after a block, so that an overflow faults
// at the first byte instead of corrupting the next block (offheap's debug
// mode does it after mapped chunks). Unlike Decommit, nothing is discarded
// and no madvise is made. Unmap releases guarded pages like any others.
func Guard(addr, n uintptr) error {
	if err := checkRange("Guard", addr, n); err != nil {
		return err
	}
	if err := mprotect(addr, n, unix.PROT_NONE); err != nil {
		return callError(err, "mprotect %#x %d bytes PROT_NONE (guard)", addr, n)
	}
	return nil
}
