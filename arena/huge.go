package arena

// HugeMemory is what a Memory offers besides for huge pages
// (Params.HugePage, glibc.malloc.hugetlb). A Memory without it gets the
// rounding of heaps to huge pages but no advice and no huge mappings.
type HugeMemory interface {
	// AdviseHuge asks for transparent huge pages on [addr, addr+n), page
	// aligned (MADV_HUGEPAGE). It is best effort: the arenas ignore its
	// error.
	AdviseHuge(addr, n uintptr) error
	// MapHuge maps n bytes, a multiple of the huge page size, at an address
	// aligned to the huge page size, zeroed, backed by huge pages as far as
	// the system allows (from its pool of huge pages, or advised for
	// transparent ones). Unmap and Remap take the mapping as any other.
	MapHuge(n uintptr) (uintptr, error)
}
