package mmapper

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// Resident is a measurement, not a fast path: it costs one mincore call per
// residentChunkPages pages plus a pass over the kernel's answer.

// residentChunkPages is how many pages one mincore call asks about: with
// 4 KiB pages, 256 MiB of address space per call and a 64 KiB vector.
const residentChunkPages = 64 << 10

// residentVectors pools the vectors mincore fills, so that Resident on a
// large range neither allocates per call nor needs a vector as big as the
// range.
var residentVectors = sync.Pool{New: func() any { return new([residentChunkPages]byte) }}

// Resident returns how many bytes of [addr, addr+n) are resident in memory
// (mincore). The whole range must be mapped (a reservation counts), or the
// call fails with ENOMEM. It is not cheap: one system call per 256 MiB of a
// 4 KiB-page range, and a pass over one byte per page.
func Resident(addr, n uintptr) (uintptr, error) {
	if err := checkRange("Resident", addr, n); err != nil {
		return 0, err
	}
	vec := residentVectors.Get().(*[residentChunkPages]byte)
	defer residentVectors.Put(vec)

	var pages uintptr
	for off := uintptr(0); off < n; {
		size := min(n-off, residentChunkPages*pageSize)
		v := vec[:size/pageSize]
		if err := mincore(addr+off, size, v); err != nil {
			return 0, callError(err, "mincore %#x %d bytes", addr+off, size)
		}
		pages += countResident(v)
		off += size
	}
	return pages * pageSize, nil
}

// countResident counts the entries of a mincore vector with bit 0 set (the
// other bits are reserved), eight entries at a time.
func countResident(v []byte) uintptr {
	const lowBits = 0x0101010101010101
	count := 0
	for len(v) >= 8 {
		count += bits.OnesCount64(binary.LittleEndian.Uint64(v) & lowBits)
		v = v[8:]
	}
	for _, b := range v {
		count += int(b & 1)
	}
	return uintptr(count)
}
