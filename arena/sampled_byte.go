//go:build (amd64 || arm64) && !race

package arena

import "unsafe"

// setSampled sets or clears the S bit with an ordinary read and write of
// the one byte of the header that holds it (bits 40-47: the top size bits,
// always 0 in a chunk below 1 TiB, S and A; little-endian). Nothing else
// writes that byte of an in-use chunk: A changes only when the chunk enters
// or leaves a bin, its size and tag only under its owner. The arena's P bit
// lives in the lowest byte of the same word and changes by a locked
// read-modify-write of the whole word (setPrevInuse, clearPrevInuse). On
// amd64 and arm64 a locked read-modify-write (or a load-exclusive /
// store-exclusive pair, which a store to its line makes retry) is atomic
// with respect to every other store: a byte store lands before it, and it
// keeps the byte, or after it, and changes only that byte; no update of
// either is lost. Two locked instructions per sample, set and cleared,
// were a tenth of a sampled 64 KiB pair. Under the race detector
// (sampled_atomic.go) the update is atomic, as the detector's model of
// memory wants.
func setSampled(c uintptr, on bool) {
	b := (*byte)(unsafe.Add(nil, c+sizeSz+flagSByte))
	if on {
		*b |= flagSInByte
	} else {
		*b &^= flagSInByte
	}
}
