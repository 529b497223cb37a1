package mmapper

import (
	"errors"
	"math/bits"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Advice about pages that stay mapped: give their memory back at once
// (DontNeed), lazily (Free), or ask for transparent huge pages (Hugepage);
// and mappings from the system's pool of huge pages (MapHugeTLB).

// freeUsesDontNeed is set for good once the kernel refuses MADV_FREE.
var freeUsesDontNeed atomic.Bool

// DontNeed discards the contents of whole pages (MADV_DONTNEED): RSS falls
// at once, the range reads as zeros afterwards and stays usable.
func DontNeed(addr, n uintptr) error {
	if err := checkRange("DontNeed", addr, n); err != nil {
		return err
	}
	if err := madvise(addr, n, unix.MADV_DONTNEED); err != nil {
		return callError(err, "madvise %#x %d bytes MADV_DONTNEED", addr, n)
	}
	return nil
}

// Free tells the kernel it may reclaim the pages lazily (MADV_FREE): RSS
// falls only under memory pressure, and until then the old contents may still
// be read. The range stays usable; a write cancels the reclaim of its page.
// If the kernel answers EINVAL (no MADV_FREE), Free retries with MADV_DONTNEED
// and uses it from then on (a sticky fallback, like runtime/mem_linux.go);
// FreeUsesDontNeed reports whether that happened. Because the arguments are
// validated first, an EINVAL can only mean the advice is unknown.
func Free(addr, n uintptr) error {
	if err := checkRange("Free", addr, n); err != nil {
		return err
	}
	if !freeUsesDontNeed.Load() {
		err := madvise(addr, n, unix.MADV_FREE)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EINVAL) {
			return callError(err, "madvise %#x %d bytes MADV_FREE", addr, n)
		}
		freeUsesDontNeed.Store(true)
	}
	if err := madvise(addr, n, unix.MADV_DONTNEED); err != nil {
		return callError(err, "madvise %#x %d bytes MADV_DONTNEED (for MADV_FREE)", addr, n)
	}
	return nil
}

// FreeUsesDontNeed reports whether Free has switched to MADV_DONTNEED because
// the kernel refused MADV_FREE.
func FreeUsesDontNeed() bool { return freeUsesDontNeed.Load() }

// Hugepage advises MADV_HUGEPAGE for [addr, addr+n). It is best effort: the
// error (EINVAL on a kernel without transparent huge pages) may be ignored.
func Hugepage(addr, n uintptr) error {
	if err := checkRange("Hugepage", addr, n); err != nil {
		return err
	}
	if err := madvise(addr, n, unix.MADV_HUGEPAGE); err != nil {
		return callError(err, "madvise %#x %d bytes MADV_HUGEPAGE", addr, n)
	}
	return nil
}

// MapHugeTLB maps n bytes (n > 0, a multiple of the huge page size
// pageSize, a power of two) of zeroed, private memory from the system's
// pool of huge pages of that size (MAP_HUGETLB), aligned to it. The pages
// are reserved at once: when the pool has too few free pages, the call
// fails (ENOMEM) rather than a later fault killing the process. Unmap
// releases it, in whole huge pages.
func MapHugeTLB(n, hugePageSize uintptr) (uintptr, error) {
	if err := checkSize("MapHugeTLB", n); err != nil {
		return 0, err
	}
	if err := checkAlign("MapHugeTLB", hugePageSize); err != nil {
		return 0, err
	}
	if n&(hugePageSize-1) != 0 {
		return 0, invalid("MapHugeTLB", "size %d is not a multiple of the huge page size %d", n, hugePageSize)
	}
	flags := unix.MAP_HUGETLB | bits.TrailingZeros64(uint64(hugePageSize))<<unix.MAP_HUGE_SHIFT
	addr, err := mmap(n, protRW, flags)
	if err != nil {
		return 0, callError(err, "mmap %d bytes MAP_HUGETLB (%d-byte pages)", n, hugePageSize)
	}
	return addr, nil
}

// populateRefused is set for good once the kernel refuses
// MADV_POPULATE_WRITE (before Linux 5.14): Populate then does nothing.
var populateRefused atomic.Bool

// Populate makes [addr, addr+n) resident and writable in one call
// (MADV_POPULATE_WRITE, Linux 5.14): the kernel does the work of a page
// fault for each page without the faults. On a kernel that does not know
// the advice (EINVAL) it reports the error once and from then on returns
// nil without a call; PopulateRefused reports whether that happened.
func Populate(addr, n uintptr) error {
	if err := checkRange("Populate", addr, n); err != nil {
		return err
	}
	if populateRefused.Load() {
		return nil
	}
	if err := madvise(addr, n, unix.MADV_POPULATE_WRITE); err != nil {
		if errors.Is(err, syscall.EINVAL) {
			populateRefused.Store(true)
		}
		return callError(err, "madvise %#x %d bytes MADV_POPULATE_WRITE", addr, n)
	}
	return nil
}

// PopulateRefused reports whether the kernel refused MADV_POPULATE_WRITE,
// which Populate no longer asks for.
func PopulateRefused() bool { return populateRefused.Load() }
