package arena

import (
	"testing"
	"unsafe"
)

// Every slot of binStore lies inside it and within one page, so the first
// arena's bin heads cost one page fault, not two.
func TestBinSlotsWithinPages(t *testing.T) {
	lo := uintptr(unsafe.Pointer(&binStore))
	hi := lo + unsafe.Sizeof(binStore)
	for i := 0; i < binStoreSlots; i++ {
		s := binSlot(i)
		if s < lo || s+binSlotBytes > hi {
			t.Fatalf("slot %d at %#x..%#x outside binStore %#x..%#x", i, s, s+binSlotBytes, lo, hi)
		}
		if s/binSlotAlign != (s+binSlotBytes-1)/binSlotAlign {
			t.Fatalf("slot %d at %#x straddles a page boundary", i, s)
		}
		if i > 0 && s != binSlot(i-1)+binSlotBytes {
			t.Fatalf("slot %d at %#x does not follow slot %d at %#x", i, s, i-1, binSlot(i-1))
		}
	}
}
