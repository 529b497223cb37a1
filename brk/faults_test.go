package brk_test

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/offheap/offheap/brk"
)

// growOp is the call that raises a break of kind k.
func growOp(k brk.Kind) brk.Op {
	if k == brk.Real {
		return brk.OpBrk
	}
	return brk.OpMprotect
}

// An injected failure of the call behind Grow fails Grow once, exactly like
// the kernel refusing: ENOMEM, counted, break unchanged; the next Grow works.
func TestGrowFault(t *testing.T) {
	t.Cleanup(brk.ClearFaults)
	reserved, err := brk.NewReserved(1 << 30)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*brk.Break{"Default": brk.Default(), "NewReserved": reserved} {
		t.Run(name, func(t *testing.T) {
			const n = 1 << 20
			op := growOp(b.Kind())
			cur := b.Current()
			brk.FailAfter(op, 1, syscall.ENOMEM)
			var err error
			got := counting(func() { _, err = b.Grow(n) })
			if !errors.Is(err, syscall.ENOMEM) {
				t.Fatalf("Grow with %s failing = %v, want ENOMEM", op, err)
			}
			if !strings.Contains(err.Error(), op.String()+" ") {
				t.Errorf("error %q does not name %s", err, op)
			}
			want := brk.Counters{Brk: brk.OpStats{Calls: 1, Errors: 1}}
			if b.Kind() == brk.Reserved {
				want = brk.Counters{Mprotect: brk.OpStats{Calls: 1, Errors: 1}}
			}
			check(t, "failed Grow", want, got)
			checkBreak(t, b, cur)
			if b.Kind() == brk.Reserved && !faultsOn(t, cur) {
				t.Error("failed Grow opened the pages anyway")
			}

			old := mustGrow(t, b, n) // once only
			if old != cur {
				t.Errorf("Grow after the fault returned %#x, want %#x", old, cur)
			}
			checkBreak(t, b, cur+n)
			mustShrink(t, b, n)
			checkBreak(t, b, cur)
		})
	}
}

// A failed Shrink leaves the break where it was. If the first call fails the
// contents are kept; for Reserved, if the closing mprotect fails, the pages
// are discarded but stay accessible.
func TestShrinkFault(t *testing.T) {
	t.Cleanup(brk.ClearFaults)
	reserved, err := brk.NewReserved(1 << 30)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*brk.Break{"Default": brk.Default(), "NewReserved": reserved} {
		t.Run(name, func(t *testing.T) {
			n := 4 * page
			old := mustGrow(t, b, n)
			fill(mem(old, n), 3)

			first := brk.OpBrk
			if b.Kind() == brk.Reserved {
				first = brk.OpMadvise
			}
			brk.FailAfter(first, 1, syscall.EAGAIN)
			if err := b.Shrink(n); !errors.Is(err, syscall.EAGAIN) {
				t.Fatalf("Shrink with %s failing = %v, want EAGAIN", first, err)
			}
			checkBreak(t, b, old+n)
			if !hasPattern(mem(old, n), 3) {
				t.Error("failed Shrink lost the contents")
			}

			if b.Kind() == brk.Reserved {
				brk.FailAfter(brk.OpMprotect, 1, syscall.EAGAIN)
				var err error
				got := counting(func() { err = b.Shrink(n) })
				if !errors.Is(err, syscall.EAGAIN) {
					t.Fatalf("Shrink with mprotect failing = %v, want EAGAIN", err)
				}
				check(t, "half-failed Shrink", brk.Counters{
					Madvise:  brk.OpStats{Calls: 1, Bytes: uint64(n)},
					Mprotect: brk.OpStats{Calls: 1, Errors: 1},
				}, got)
				checkBreak(t, b, old+n)
				if m := mem(old, n); !allZero(m) {
					t.Error("pages not discarded by the madvise that succeeded")
				}
			}
			mustShrink(t, b, n)
			checkBreak(t, b, old)
		})
	}
}

func TestNewReservedFault(t *testing.T) {
	t.Cleanup(brk.ClearFaults)
	brk.FailAlways(brk.OpMmap, syscall.ENOMEM)
	for range 2 {
		var err error
		got := counting(func() { _, err = brk.NewReserved(1 << 30) })
		if !errors.Is(err, syscall.ENOMEM) {
			t.Errorf("NewReserved with mmap failing = %v, want ENOMEM", err)
		}
		if want := "brk: mmap 1073741824 bytes (reservation): cannot allocate memory"; err != nil && err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
		check(t, "failed NewReserved", brk.Counters{Mmap: brk.OpStats{Calls: 1, Errors: 1}}, got)
	}
	brk.ClearFaults()
	if _, err := brk.NewReserved(1 << 30); err != nil {
		t.Errorf("NewReserved after ClearFaults: %v", err)
	}
}

// FailAfter counts calls of its op only; n <= 0 clears.
func TestFailAfterCountsCalls(t *testing.T) {
	t.Cleanup(brk.ClearFaults)
	brk.FailAfter(brk.OpMadvise, 3, syscall.EIO)
	brk.FailAfter(brk.OpBrk, 1, syscall.EIO)
	brk.FailAfter(brk.OpBrk, 0, 0) // clears OpBrk only
	if got := brk.Injected(brk.OpBrk); got != 0 {
		t.Errorf("cleared OpBrk still fails with %v", got)
	}
	for i, want := range []syscall.Errno{0, 0, syscall.EIO, 0} {
		if got := brk.Injected(brk.OpMprotect); got != 0 {
			t.Errorf("OpMprotect fails with %v, armed was OpMadvise", got)
		}
		if got := brk.Injected(brk.OpMadvise); got != want {
			t.Errorf("madvise call %d: injected %v, want %v", i+1, got, want)
		}
	}
	if brk.FaultsArmed() {
		t.Error("fast-path flag still set after the one-shot fault fired")
	}
	brk.FailAlways(brk.OpMmap, syscall.EIO)
	for range 3 {
		if got := brk.Injected(brk.OpMmap); got != syscall.EIO {
			t.Errorf("FailAlways: injected %v, want EIO", got)
		}
	}
	brk.ClearFaults()
	if brk.FaultsArmed() || brk.Injected(brk.OpMmap) != 0 {
		t.Error("ClearFaults left a fault armed")
	}
}

func TestFaultArgumentsPanic(t *testing.T) {
	t.Cleanup(brk.ClearFaults)
	for name, f := range map[string]func(){
		"unknown op":         func() { brk.FailAfter(brk.Op(4), 1, syscall.EIO) },
		"negative op":        func() { brk.FailAlways(brk.Op(-1), syscall.EIO) },
		"errno 0, FailAfter": func() { brk.FailAfter(brk.OpBrk, 1, 0) },
		"errno 0, Always":    func() { brk.FailAlways(brk.OpBrk, 0) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				} else if s, _ := r.(string); !strings.HasPrefix(s, "brk.Fail") {
					t.Errorf("%s: panic %v does not name the function", name, r)
				}
			}()
			f()
		}()
	}
	if brk.FaultsArmed() {
		t.Error("a refused fault was armed")
	}
}

func TestFaultFastPathAllocs(t *testing.T) {
	if a := testing.AllocsPerRun(100, func() { brk.Injected(brk.OpBrk) }); a != 0 {
		t.Errorf("fault check allocates %v times", a)
	}
}

func BenchmarkGrowShrink(b *testing.B) {
	for _, n := range []uintptr{64 << 10, 1 << 20} {
		b.Run(sizeName(n), func(b *testing.B) {
			br := brk.Default()
			for b.Loop() {
				old, err := br.Grow(n)
				if err != nil {
					b.Fatal(err)
				}
				mem(old, 1)[0] = 1
				if err := br.Shrink(n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func sizeName(n uintptr) string {
	return strconv.FormatUint(uint64(n>>10), 10) + "KiB"
}
