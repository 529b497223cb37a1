package brk_test

import (
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/offheap/offheap/brk"
)

func TestKindString(t *testing.T) {
	for k, want := range map[brk.Kind]string{brk.Real: "brk", brk.Reserved: "reserved", brk.Kind(2): "Kind(2)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func TestOpString(t *testing.T) {
	for op, want := range map[brk.Op]string{
		brk.OpBrk: "brk", brk.OpMmap: "mmap", brk.OpMprotect: "mprotect", brk.OpMadvise: "madvise",
		brk.Op(4): "Op(4)", brk.Op(-1): "Op(-1)",
	} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", int(op), got, want)
		}
	}
}

// Default is Real exactly when no C code shares the process: in this pure Go
// test binary, unless it was built with -race (which links C).
func TestDefault(t *testing.T) {
	b := brk.Default()
	if b != brk.Default() {
		t.Fatal("Default() is not a singleton")
	}
	if b.Base()%page != 0 {
		t.Errorf("Base() = %#x, not page aligned", b.Base())
	}
	if cur := b.Current(); cur < b.Base() || cur > b.Limit() {
		t.Errorf("Current() = %#x outside [Base, Limit] = [%#x, %#x]", cur, b.Base(), b.Limit())
	}
	if brk.IsCgo() {
		if b.Kind() != brk.Reserved {
			t.Fatalf("with C in the process, Default().Kind() = %v, want reserved", b.Kind())
		}
		size := b.Limit() - b.Base()
		if size < brk.MinDefaultReserve || size > brk.DefaultReserve || size&(size-1) != 0 {
			t.Errorf("reservation of %d bytes, want a power of two in [1 GiB, 64 GiB]", size)
		}
		return
	}
	if b.Kind() != brk.Real {
		t.Fatalf("in a pure Go process, Default().Kind() = %v, want brk", b.Kind())
	}
	if b.Limit() != ^uintptr(0) {
		t.Errorf("Real Limit() = %#x, want ^uintptr(0)", b.Limit())
	}
	// Nobody else moves the break: ours is the kernel's.
	checkBreak(t, b, b.Current())
}

// exercise grows b by 1 MiB, uses the memory, shrinks it back, and checks
// that a regrown break reads zeros, with the counters moving call by call.
func exercise(t *testing.T, b *brk.Break) {
	const n = 1 << 20
	cur0 := b.Current()
	var old uintptr
	got := counting(func() { old = mustGrow(t, b, n) })
	check(t, "Grow", growCounters(b.Kind(), n), got)
	if old != cur0 {
		t.Errorf("Grow returned %#x, want the old break %#x", old, cur0)
	}
	checkBreak(t, b, cur0+n)
	m := mem(old, n)
	if !allZero(m) {
		t.Error("new memory is not zeroed")
	}
	fill(m, 1)
	if !hasPattern(m, 1) {
		t.Error("new memory does not keep what was written")
	}

	got = counting(func() { mustShrink(t, b, n) })
	check(t, "Shrink", shrinkCounters(b.Kind(), n), got)
	checkBreak(t, b, cur0)
	if !faultsOn(t, old) || !faultsOn(t, old+n-1) {
		t.Error("memory above the lowered break is still readable")
	}

	if again := mustGrow(t, b, n); again != old {
		t.Errorf("regrow returned %#x, want %#x", again, old)
	}
	if !allZero(mem(old, n)) {
		t.Error("shrunk-then-regrown memory is not zeroed")
	}
	mustShrink(t, b, n)
	checkBreak(t, b, cur0)
}

func TestDefaultGrowShrink(t *testing.T) { exercise(t, brk.Default()) }

func TestReservedGrowShrink(t *testing.T) {
	const size = 1 << 30
	var b *brk.Break
	got := counting(func() {
		var err error
		if b, err = brk.NewReserved(size); err != nil {
			t.Fatal(err)
		}
	})
	check(t, "NewReserved", brk.Counters{Mmap: brk.OpStats{Calls: 1, Bytes: size}}, got)
	if b.Kind() != brk.Reserved {
		t.Errorf("Kind() = %v, want reserved", b.Kind())
	}
	if b.Base()%page != 0 || b.Limit()-b.Base() != size || b.Current() != b.Base() {
		t.Errorf("Base %#x, Current %#x, Limit %#x: want page-aligned Base = Current, Limit = Base + %d",
			b.Base(), b.Current(), b.Limit(), size)
	}
	if !faultsOn(t, b.Base()) {
		t.Error("reservation readable before Grow")
	}
	exercise(t, b)
}

// A reservation fills up: growing to the limit works, one page more fails
// with ENOMEM without a call, and nothing changes.
func TestReservedFull(t *testing.T) {
	const size = 1 << 30
	b, err := brk.NewReserved(size)
	if err != nil {
		t.Fatal(err)
	}
	mustGrow(t, b, size-page)
	for _, n := range []uintptr{2 * page, size, 1 << 40} {
		var err error
		got := counting(func() { _, err = b.Grow(n) })
		if !errors.Is(err, syscall.ENOMEM) {
			t.Errorf("Grow(%d) past the limit: %v, want ENOMEM", n, err)
		}
		check(t, "Grow past the limit", brk.Counters{}, got)
		checkBreak(t, b, b.Limit()-page)
	}
	mustGrow(t, b, page)
	checkBreak(t, b, b.Limit())
	last := mem(b.Limit()-page, page)
	fill(last, 2)
	if !hasPattern(last, 2) {
		t.Error("last page of the reservation unusable")
	}
	if _, err := b.Grow(page); !errors.Is(err, syscall.ENOMEM) {
		t.Errorf("Grow on a full reservation: %v, want ENOMEM", err)
	}
	mustShrink(t, b, size)
	checkBreak(t, b, b.Base())
}

// The kernel refuses a real break of 32 TiB (the mmap area is in the way,
// and overcommit refuses it): ENOMEM, counted, and the break unchanged.
func TestRealKernelRefuses(t *testing.T) {
	b := brk.Default()
	if b.Kind() != brk.Real {
		t.Skipf("Default is %v in this process", b.Kind())
	}
	const huge = 1 << 45
	cur := b.Current()
	var err error
	got := counting(func() { _, err = b.Grow(huge) })
	if !errors.Is(err, syscall.ENOMEM) {
		t.Fatalf("Grow(32 TiB) = %v, want ENOMEM", err)
	}
	if !strings.HasPrefix(err.Error(), "brk: brk grow 35184372088832 bytes from ") {
		t.Errorf("error %q does not say what was asked", err)
	}
	check(t, "refused Grow", brk.Counters{Brk: brk.OpStats{Calls: 1, Errors: 1}}, got)
	checkBreak(t, b, cur)
}

// A Break that could reserve nothing refuses every Grow.
func TestEmptyBreak(t *testing.T) {
	b := brk.EmptyBreak()
	if b.Kind() != brk.Reserved || b.Base() != b.Limit() {
		t.Fatalf("empty break: kind %v, [%#x, %#x)", b.Kind(), b.Base(), b.Limit())
	}
	var err error
	got := counting(func() { _, err = b.Grow(page) })
	if !errors.Is(err, syscall.ENOMEM) {
		t.Errorf("Grow on an empty break: %v, want ENOMEM", err)
	}
	check(t, "Grow on an empty break", brk.Counters{}, got)
}

// Concurrent Grow calls hand out disjoint ranges that tile [Base, Current).
func TestConcurrentGrow(t *testing.T) {
	b, err := brk.NewReserved(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, rounds = 4, 32
	olds := make([][]uintptr, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range rounds {
				old, err := b.Grow(page)
				if err != nil {
					t.Error(err)
					return
				}
				m := mem(old, page)
				fill(m, byte(g))
				olds[g] = append(olds[g], old)
			}
		})
	}
	wg.Wait()
	seen := map[uintptr]bool{}
	for g, list := range olds {
		for _, old := range list {
			if seen[old] {
				t.Errorf("page %#x handed out twice", old)
			}
			seen[old] = true
			if old < b.Base() || old >= b.Current() || (old-b.Base())%page != 0 {
				t.Errorf("page %#x outside [Base, Current) or unaligned", old)
			}
			if !hasPattern(mem(old, page), byte(g)) {
				t.Errorf("page %#x overwritten by another goroutine", old)
			}
		}
	}
	if total := uintptr(len(seen)) * page; b.Current()-b.Base() != total {
		t.Errorf("break rose by %d bytes, pages handed out %d", b.Current()-b.Base(), total)
	}
	for g := range goroutines {
		wg.Go(func() {
			for range len(olds[g]) {
				if err := b.Shrink(page); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkBreak(t, b, b.Base())
}

// Invalid arguments are refused with EINVAL before any system call.
func TestArgumentValidation(t *testing.T) {
	b, err := brk.NewReserved(16 * page)
	if err != nil {
		t.Fatal(err)
	}
	mustGrow(t, b, 2*page)
	drop := func(_ any, err error) error { return err }
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Grow zero", func() error { return drop(b.Grow(0)) }},
		{"Grow unaligned", func() error { return drop(b.Grow(page + 1)) }},
		{"Shrink zero", func() error { return b.Shrink(0) }},
		{"Shrink unaligned", func() error { return b.Shrink(page / 2) }},
		{"Shrink below Base", func() error { return b.Shrink(3 * page) }},
		{"NewReserved zero", func() error { return drop(brk.NewReserved(0)) }},
		{"NewReserved unaligned", func() error { return drop(brk.NewReserved(page + 8)) }},
	} {
		var err error
		got := counting(func() { err = tc.call() })
		if !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%s: err = %v, want EINVAL", tc.name, err)
			continue
		}
		fn, _, _ := strings.Cut(tc.name, " ")
		if !strings.HasPrefix(err.Error(), "brk: "+fn+": ") {
			t.Errorf("%s: error %q does not name %s", tc.name, err, fn)
		}
		check(t, tc.name, brk.Counters{}, got)
	}
	checkBreak(t, b, b.Base()+2*page)
}
