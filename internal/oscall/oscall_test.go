package oscall_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/offheap/offheap/internal/oscall"
)

func check[T comparable](t *testing.T, what string, want, got T) {
	t.Helper()
	if want != got {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// A table counts calls and bytes per op, and an armed fault fails exactly
// the calls it names, counted as failed calls.
func TestTable(t *testing.T) {
	tb := oscall.New("pkg", "open", "shut")
	check(t, "Name(1)", "shut", tb.Name(1))
	check(t, "Name(7)", "Op(7)", tb.Name(7))
	check(t, "Armed at start", false, tb.Armed())

	// One call of each kind, one failed.
	check(t, "Count ok", nil, tb.Count(0, 4096, 0))
	err := tb.Count(1, 8192, syscall.ENOMEM)
	check(t, "Count failed", true, errors.Is(err, syscall.ENOMEM))
	check(t, "open", oscall.Stats{Calls: 1, Bytes: 4096}, tb.Read(0))
	check(t, "shut", oscall.Stats{Calls: 1, Errors: 1}, tb.Read(1))

	// FailAfter(2): the first call goes through, the second fails, the
	// third goes through again.
	tb.FailAfter(0, 2, syscall.EIO)
	check(t, "Armed", true, tb.Armed())
	for _, want := range []syscall.Errno{0, syscall.EIO, 0} {
		check(t, "FailAfter(2) call", want, tb.Injected(0))
	}
	check(t, "Armed after the one-shot fault", false, tb.Armed())

	// FailAlways until Clear; the other op is untouched.
	tb.FailAlways(1, syscall.EAGAIN)
	for range 3 {
		check(t, "FailAlways", syscall.EAGAIN, tb.Injected(1))
		check(t, "other op", syscall.Errno(0), tb.Injected(0))
	}
	tb.Clear()
	check(t, "after Clear", syscall.Errno(0), tb.Injected(1))
	check(t, "Armed after Clear", false, tb.Armed())

	// FailAfter(0) disarms; bad arguments panic with the package's name.
	tb.FailAlways(0, syscall.EIO)
	tb.FailAfter(0, 0, 0)
	check(t, "FailAfter(0) disarms", false, tb.Armed())
	for _, tt := range []struct {
		f    func()
		want string
	}{
		{func() { tb.FailAfter(2, 1, syscall.EIO) }, "pkg.FailAfter(): unknown op Op(2)"},
		{func() { tb.FailAlways(0, 0) }, "pkg.FailAlways(): errno 0 cannot fail a call"},
	} {
		func() {
			defer func() { check(t, "panic", any(tt.want), recover()) }()
			tt.f()
		}()
	}
}
