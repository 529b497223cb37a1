package mmapper_test

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/offheap/offheap/mmapper"
)

func statsOf(c mmapper.Counters, op mmapper.Op) mmapper.OpStats {
	return [...]mmapper.OpStats{c.Mmap, c.Munmap, c.Mremap, c.Madvise, c.Mprotect, c.Mincore, c.Msync}[op]
}

// faultCase makes one call of op. try returns the call's error and a cleanup
// to run once faults are cleared; on failure it also checks that the call had
// no effect, as an injected failure must not make the call.
type faultCase struct {
	op  mmapper.Op
	try func(t *testing.T) (err error, cleanup func())
}

var faultCases = []faultCase{
	{mmapper.OpMmap, func(t *testing.T) (error, func()) {
		addr, err := mmapper.Map(page)
		if err != nil {
			return err, nil
		}
		return nil, func() { mustUnmap(t, addr, page) }
	}},
	{mmapper.OpMunmap, func(t *testing.T) (error, func()) {
		addr := mustMap(t, page)
		err := mmapper.Unmap(addr, page)
		if err != nil {
			if faultsOn(t, addr) {
				t.Error("failed Unmap unmapped the page")
			}
			return err, func() { mustUnmap(t, addr, page) }
		}
		return nil, nil
	}},
	{mmapper.OpMremap, func(t *testing.T) (error, func()) {
		addr := mustMap(t, page)
		fill(mem(addr, page), 20)
		moved, err := mmapper.Remap(addr, page, 2*page, true)
		if err != nil {
			if !hasPattern(mem(addr, page), 20) {
				t.Error("failed Remap changed the mapping")
			}
			return err, func() { mustUnmap(t, addr, page) }
		}
		return nil, func() { mustUnmap(t, moved, 2*page) }
	}},
	{mmapper.OpMadvise, func(t *testing.T) (error, func()) {
		addr := mustMap(t, page)
		fill(mem(addr, page), 21)
		err := mmapper.DontNeed(addr, page)
		if err != nil && !hasPattern(mem(addr, page), 21) {
			t.Error("failed DontNeed discarded the page")
		}
		return err, func() { mustUnmap(t, addr, page) }
	}},
	{mmapper.OpMprotect, func(t *testing.T) (error, func()) {
		addr, err := mmapper.Reserve(page, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = mmapper.Commit(addr, page)
		if err != nil && !faultsOn(t, addr) {
			t.Error("failed Commit made the page readable")
		}
		return err, func() { mustUnmap(t, addr, page) }
	}},
	{mmapper.OpMincore, func(t *testing.T) (error, func()) {
		addr := mustMap(t, page)
		_, err := mmapper.Resident(addr, page)
		return err, func() { mustUnmap(t, addr, page) }
	}},
	{mmapper.OpMsync, func(t *testing.T) (error, func()) {
		f := tempFile(t, page)
		addr, err := mmapper.MapFile(int(f.Fd()), 0, page, true)
		if err != nil {
			t.Fatal(err)
		}
		err = mmapper.Msync(addr, page)
		return err, func() { mustUnmap(t, addr, page); f.Close() }
	}},
}

func TestFaultInjection(t *testing.T) {
	for _, fc := range faultCases {
		t.Run(fc.op.String(), func(t *testing.T) {
			t.Cleanup(mmapper.ClearFaults)
			var cleanups []func()
			defer func() {
				mmapper.ClearFaults()
				for _, f := range cleanups {
					if f != nil {
						f()
					}
				}
			}()
			errno := syscall.ENOMEM
			// call makes one call of op and checks whether it failed as armed.
			call := func(wantFail bool) {
				t.Helper()
				before := statsOf(mmapper.ReadCounters(), fc.op)
				err, cleanup := fc.try(t)
				cleanups = append(cleanups, cleanup)
				got := statsOf(mmapper.ReadCounters(), fc.op)
				got = mmapper.OpStats{Calls: got.Calls - before.Calls, Errors: got.Errors - before.Errors}
				switch {
				case wantFail && !errors.Is(err, errno):
					t.Fatalf("armed %s call: err = %v, want %v", fc.op, err, errno)
				case wantFail && !strings.Contains(err.Error(), "mmapper: "+fc.op.String()+" "):
					t.Errorf("error %q does not name %s", err, fc.op)
				case !wantFail && err != nil:
					t.Fatalf("unarmed %s call: %v", fc.op, err)
				}
				want := mmapper.OpStats{Calls: 1}
				if wantFail {
					want.Errors = 1
				}
				if got != want {
					t.Errorf("%s counters moved by %+v, want %+v", fc.op, got, want)
				}
			}

			mmapper.FailAfter(fc.op, 1, errno)
			call(true)
			call(false) // once only

			mmapper.FailAfter(fc.op, 3, errno)
			call(false)
			call(false)
			call(true)
			call(false)

			mmapper.FailAlways(fc.op, errno)
			call(true)
			call(true)
			call(true)
			mmapper.ClearFaults()
			call(false)

			mmapper.FailAfter(fc.op, 1, errno)
			mmapper.FailAfter(fc.op, 0, errno) // n <= 0 clears
			call(false)
			if mmapper.FaultsArmed() {
				t.Error("faults still armed after clearing")
			}
		})
	}
}

// A fault armed for one op leaves the others alone, and the fast-path flag
// follows what is armed.
func TestFaultArmedFlag(t *testing.T) {
	t.Cleanup(mmapper.ClearFaults)
	if mmapper.FaultsArmed() {
		t.Fatal("faults armed at start")
	}
	mmapper.FailAlways(mmapper.OpMincore, syscall.EIO)
	mmapper.FailAfter(mmapper.OpMunmap, 2, syscall.EIO)
	if !mmapper.FaultsArmed() {
		t.Fatal("FailAlways did not arm the fast-path flag")
	}
	for op := range mmapper.Op(7) {
		got, want := mmapper.Injected(op), syscall.Errno(0)
		if op == mmapper.OpMincore {
			want = syscall.EIO
		}
		if got != want {
			t.Errorf("injected(%s) = %v, want %v", op, got, want)
		}
	}
	if got := mmapper.Injected(mmapper.OpMunmap); got != syscall.EIO {
		t.Errorf("second munmap: injected %v, want EIO", got)
	}
	mmapper.FailAfter(mmapper.OpMincore, 0, 0)
	if mmapper.FaultsArmed() {
		t.Error("flag still set with nothing armed")
	}
}

func TestFaultInjectionMessage(t *testing.T) {
	t.Cleanup(mmapper.ClearFaults)
	mmapper.FailAfter(mmapper.OpMmap, 1, syscall.ENOMEM)
	_, err := mmapper.Map(1 << 20)
	if want := "mmapper: mmap 1048576 bytes: cannot allocate memory"; err == nil || err.Error() != want {
		t.Errorf("Map with mmap failing = %v, want %q", err, want)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.ENOMEM {
		t.Errorf("error does not wrap the Errno: %#v", err)
	}
}

func TestFaultArgumentsPanic(t *testing.T) {
	t.Cleanup(mmapper.ClearFaults)
	for name, f := range map[string]func(){
		"unknown op":         func() { mmapper.FailAfter(mmapper.Op(7), 1, syscall.EIO) },
		"negative op":        func() { mmapper.FailAlways(mmapper.Op(-1), syscall.EIO) },
		"errno 0, FailAfter": func() { mmapper.FailAfter(mmapper.OpMmap, 1, 0) },
		"errno 0, Always":    func() { mmapper.FailAlways(mmapper.OpMmap, 0) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				} else if s, _ := r.(string); !strings.HasPrefix(s, "mmapper.Fail") {
					t.Errorf("%s: panic %v does not name the function", name, r)
				}
			}()
			f()
		}()
	}
	if mmapper.FaultsArmed() {
		t.Error("a refused fault was armed")
	}
}

// With nothing armed, the fault check allocates nothing (and is one load).
func TestFaultFastPathAllocs(t *testing.T) {
	if a := testing.AllocsPerRun(100, func() { mmapper.Injected(mmapper.OpMmap) }); a != 0 {
		t.Errorf("fault check allocates %v times", a)
	}
}

func BenchmarkFaultCheck(b *testing.B) {
	for b.Loop() {
		mmapper.Injected(mmapper.OpMadvise)
	}
}

func BenchmarkMapUnmap(b *testing.B) {
	for _, n := range []uintptr{page, 64 << 10, 256 << 10} {
		b.Run(sizeName(n), func(b *testing.B) {
			for b.Loop() {
				addr, err := mmapper.Map(n)
				if err != nil {
					b.Fatal(err)
				}
				mem(addr, n)[0] = 1
				if err := mmapper.Unmap(addr, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func sizeName(n uintptr) string {
	if n%(1<<10) == 0 {
		return strconv.FormatUint(uint64(n>>10), 10) + "KiB"
	}
	return strconv.FormatUint(uint64(n), 10) + "B"
}
