package arena

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
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

// TestFirstArenaPagesAtInit: in a fresh process of this test binary, before
// any arena is made, the pages of firstArena and of binStore's first slot
// are resident (the package's initialization wrote them), so that a
// process's first allocation takes no page fault for them.
func TestFirstArenaPagesAtInit(t *testing.T) {
	const env = "OFFHEAP_ARENA_TEST_CHILD"
	if os.Getenv(env) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFirstArenaPagesAtInit$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), env+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestFirstArenaPagesAtInit") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	if firstArenaUsed.Load() || binNext != 0 {
		t.Fatal("an arena was made before the test: not a fresh process")
	}
	const page = 4096
	for _, s := range []struct {
		name   string
		addr   uintptr
		nbytes uintptr
	}{
		{"firstArena", uintptr(unsafe.Pointer(&firstArena)), unsafe.Sizeof(firstArena)},
		{"binStore's first slot", binSlot(0), binSlotBytes},
	} {
		lo, hi := s.addr&^(page-1), (s.addr+s.nbytes+page-1)&^(page-1)
		vec := make([]byte, (hi-lo)/page)
		if _, _, e := unix.Syscall(unix.SYS_MINCORE, lo, hi-lo, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			t.Fatalf("%s: mincore: %v", s.name, e)
		}
		for i, v := range vec {
			if v&1 == 0 {
				t.Errorf("%s (%#x, %d bytes): page %#x not resident before the first arena: it would fault there", s.name, s.addr, s.nbytes, lo+uintptr(i)*page)
			}
		}
	}
}
