package arena_test

import (
	"errors"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/offheap/offheap/arena"
)

// plainMemory implements arena.Memory and arena.Break on one plain block of
// address space taken once per test, with a bump allocator: the arena's
// logic is tested without brk or mmapper. Released and decommitted ranges
// are zeroed, as the kernel would.
type plainMemory struct {
	mu        sync.Mutex
	base, end uintptr
	next      uintptr // bump pointer for Map and Reserve (top down from end)
	brkBase   uintptr
	brkCur    uintptr
	brkLimit  uintptr
	block     []byte
	calls     map[string]int
	failMap   bool // Map and Reserve fail
}

const pageSize = 4096

func newPlainMemory(t testing.TB, brkLimit uintptr) *plainMemory {
	const size = 8 << 30
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(b) })
	base := uintptr(unsafe.Pointer(&b[0]))
	m := &plainMemory{block: b, base: base, end: base + size, calls: map[string]int{}}
	m.next = m.end
	m.brkBase = (base + pageSize - 1) &^ (pageSize - 1)
	m.brkCur = m.brkBase
	m.brkLimit = m.brkBase + brkLimit
	return m
}

func (m *plainMemory) count(op string) {
	m.mu.Lock()
	m.calls[op]++
	m.mu.Unlock()
}

func (m *plainMemory) Calls(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

func (m *plainMemory) bytes(addr, n uintptr) []byte {
	return m.block[addr-m.base : addr-m.base+n]
}

func (m *plainMemory) PageSize() uintptr { return pageSize }

func (m *plainMemory) alloc(n, align uintptr) (uintptr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failMap {
		return 0, syscall.ENOMEM
	}
	if align < pageSize {
		align = pageSize
	}
	a := (m.next - n) &^ (align - 1)
	if a < m.brkLimit || a > m.next {
		return 0, syscall.ENOMEM
	}
	m.next = a
	return a, nil
}

func (m *plainMemory) Map(n uintptr) (uintptr, error) {
	m.count("map")
	return m.alloc(n, pageSize)
}

func (m *plainMemory) Unmap(addr, n uintptr) error {
	m.count("unmap")
	clear(m.bytes(addr, n))
	return nil
}

func (m *plainMemory) Remap(addr, oldN, newN uintptr) (uintptr, error) {
	m.count("remap")
	a, err := m.alloc(newN, pageSize)
	if err != nil {
		return 0, err
	}
	copy(m.bytes(a, newN), m.bytes(addr, min(oldN, newN)))
	clear(m.bytes(addr, oldN))
	return a, nil
}

func (m *plainMemory) Reserve(n, align uintptr) (uintptr, error) {
	m.count("reserve")
	return m.alloc(n, align)
}

func (m *plainMemory) Commit(addr, n uintptr) error {
	m.count("commit")
	return nil
}

func (m *plainMemory) Decommit(addr, n uintptr) error {
	m.count("decommit")
	clear(m.bytes(addr, n))
	return nil
}

func (m *plainMemory) Release(addr, n uintptr) error {
	m.count("release")
	if addr&(pageSize-1) != 0 || n&(pageSize-1) != 0 {
		return errors.New("release: unaligned")
	}
	clear(m.bytes(addr, n))
	return nil
}

func (m *plainMemory) Base() uintptr    { return m.brkBase }
func (m *plainMemory) Current() uintptr { m.mu.Lock(); defer m.mu.Unlock(); return m.brkCur }

func (m *plainMemory) Grow(n uintptr) (uintptr, error) {
	m.count("brk")
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.brkCur+n > m.brkLimit {
		return 0, syscall.ENOMEM
	}
	old := m.brkCur
	m.brkCur += n
	return old, nil
}

func (m *plainMemory) Shrink(n uintptr) error {
	m.count("brk")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.brkCur -= n
	clear(m.bytes(m.brkCur, n))
	return nil
}

var _ arena.Memory = (*plainMemory)(nil)
var _ arena.Break = (*plainMemory)(nil)
