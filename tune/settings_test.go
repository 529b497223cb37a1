package tune_test

import (
	"errors"
	"math"
	"testing"

	"github.com/offheap/offheap/tune"
)

// check reports a difference between a wanted and a got value.
func check[T comparable](t *testing.T, what string, want, got T) {
	t.Helper()
	if want != got {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
}

// allParams lists every parameter constant, written out by hand so that a
// table that lost or renumbered one fails the tests.
var allParams = []tune.Param{
	tune.MXFast, tune.TrimThreshold, tune.TopPad, tune.MmapThreshold, tune.MmapMax,
	tune.CheckAction, tune.Perturb, tune.ArenaTest, tune.ArenaMax,
	tune.TcacheCount, tune.TcacheMax, tune.Limit, tune.ProfileRate, tune.Debug, tune.GoMemLimit,
	tune.Harden,
	tune.Decay, tune.HugeTLB, tune.HeapCache, tune.Populate, tune.TcacheGrow,
}

func TestDefaults(t *testing.T) {
	want := map[tune.Param]int64{
		tune.MXFast:        128,
		tune.TrimThreshold: 128 << 10,
		tune.TopPad:        128 << 10,
		tune.MmapThreshold: 128 << 10,
		tune.MmapMax:       65536,
		tune.CheckAction:   3,
		tune.Perturb:       0,
		tune.ArenaTest:     8,
		tune.ArenaMax:      0,
		tune.TcacheCount:   64,
		tune.TcacheMax:     65536,
		tune.Limit:         0,
		tune.ProfileRate:   512 << 10,
		tune.Debug:         0,
		tune.GoMemLimit:    0,
		tune.Harden:        0,
		tune.HeapCache:     64 << 20,
		tune.Populate:      1,
		tune.TcacheGrow:    2 << 20,
	}
	d := tune.Defaults()
	check(t, "Defaults() == Settings{}", true, d == tune.Settings{})
	for _, p := range allParams {
		check(t, "Defaults().Get("+p.String()+")", want[p], d.Get(p))
		check(t, "Defaults().IsSet("+p.String()+")", false, d.IsSet(p))
	}
	check(t, "Defaults().Trace", "", d.Trace)
}

func TestSet(t *testing.T) {
	type op struct {
		p   tune.Param
		v   int64
		err error // nil, tune.ErrRange or tune.ErrUnknown
	}
	for _, tt := range []struct {
		name  string
		ops   []op
		after map[tune.Param]int64 // params not listed keep their default and are not set
	}{
		{"nothing", nil, nil},
		{"one", []op{{tune.MmapThreshold, 1 << 20, nil}}, map[tune.Param]int64{tune.MmapThreshold: 1 << 20}},
		{"last wins", []op{{tune.TopPad, 1, nil}, {tune.TopPad, 2, nil}}, map[tune.Param]int64{tune.TopPad: 2}},
		{"the default is set too", []op{{tune.MmapMax, 65536, nil}}, map[tune.Param]int64{tune.MmapMax: 65536}},
		{"bounds", []op{
			{tune.MXFast, 0, nil}, {tune.MXFast, 160, nil},
			{tune.Perturb, 255, nil}, {tune.CheckAction, 0, nil},
			{tune.ArenaTest, 1, nil}, {tune.ArenaMax, math.MaxInt32, nil},
			{tune.TcacheCount, 65535, nil}, {tune.TcacheMax, 65536, nil},
			{tune.Limit, math.MaxInt64, nil}, {tune.GoMemLimit, 1, nil},
		}, map[tune.Param]int64{
			tune.MXFast: 160, tune.Perturb: 255, tune.CheckAction: 0, tune.ArenaTest: 1,
			tune.ArenaMax: math.MaxInt32, tune.TcacheCount: 65535, tune.TcacheMax: 65536,
			tune.Limit: math.MaxInt64, tune.GoMemLimit: 1,
		}},
		{"out of range leaves the default", []op{
			{tune.MmapThreshold, -5, tune.ErrRange},
			{tune.MXFast, 161, tune.ErrRange},
			{tune.MXFast, -1, tune.ErrRange},
			{tune.Perturb, 256, tune.ErrRange},
			{tune.CheckAction, 4, tune.ErrRange},
			{tune.ArenaTest, 0, tune.ErrRange},
			{tune.MmapMax, math.MaxInt32 + 1, tune.ErrRange},
			{tune.TcacheCount, 65536, tune.ErrRange},
			{tune.TcacheMax, 65537, tune.ErrRange},
			{tune.GoMemLimit, 2, tune.ErrRange},
			{tune.Debug, math.MinInt64, tune.ErrRange},
		}, nil},
		{"out of range leaves the value set before", []op{
			{tune.MXFast, 64, nil}, {tune.MXFast, 200, tune.ErrRange},
			{tune.ArenaTest, 2, nil}, {tune.ArenaTest, 0, tune.ErrRange},
		}, map[tune.Param]int64{tune.MXFast: 64, tune.ArenaTest: 2}},
		{"unknown parameters", []op{
			{0, 1, tune.ErrUnknown}, {2, 1, tune.ErrUnknown}, {-9, 1, tune.ErrUnknown},
			{99, 1, tune.ErrUnknown}, {199, 1, tune.ErrUnknown},
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s tune.Settings
			for _, op := range tt.ops {
				err := s.Set(op.p, op.v)
				if op.err == nil {
					if err != nil {
						t.Errorf("Set(%v, %d) = %v", op.p, op.v, err)
					}
					continue
				}
				var e *tune.Error
				if !errors.As(err, &e) || !errors.Is(err, op.err) {
					t.Errorf("Set(%v, %d) = %v; want an *Error wrapping %v", op.p, op.v, err, op.err)
					continue
				}
				check(t, "Error.Param", op.p, e.Param)
				check(t, "Error.Var", "", e.Var)
			}
			for _, p := range allParams {
				want, set := tt.after[p]
				if !set {
					sp, _ := tune.SpecOf(p)
					want = sp.Default
				}
				check(t, "Get("+p.String()+")", want, s.Get(p))
				check(t, "IsSet("+p.String()+")", set, s.IsSet(p))
			}
			check(t, "Get(unknown)", 0, s.Get(42))
			check(t, "IsSet(unknown)", false, s.IsSet(42))
		})
	}
}

// TestSettingsIsValue checks that a copy of Settings does not share state.
func TestSettingsIsValue(t *testing.T) {
	var a tune.Settings
	if err := a.Set(tune.TopPad, 1); err != nil {
		t.Fatal(err)
	}
	b := a
	if err := b.Set(tune.TopPad, 2); err != nil {
		t.Fatal(err)
	}
	check(t, "a.Get(TopPad)", 1, a.Get(tune.TopPad))
	check(t, "b.Get(TopPad)", 2, b.Get(tune.TopPad))
	check(t, "a == b", false, a == b)
	if err := b.Set(tune.TopPad, 1); err != nil {
		t.Fatal(err)
	}
	check(t, "a == b after setting the same value", true, a == b)
}

func TestSetErrorMessages(t *testing.T) {
	for _, tt := range []struct {
		p    tune.Param
		v    int64
		want string
	}{
		{tune.MmapThreshold, -5, "tune: mmap_threshold = -5: out of range; accepted 0 to 9223372036854775807 bytes"},
		{tune.MXFast, 161, "tune: mxfast = 161: out of range; accepted 0 to 160 bytes"},
		{tune.ArenaTest, 0, "tune: arena_test = 0: out of range; accepted 1 to 2147483647"},
		{tune.CheckAction, 7, "tune: check = 7: out of range; accepted 0 to 3"},
		{tune.GoMemLimit, 2, `tune: gomemlimit = 2: out of range; accepted "off" (0) or "auto" (1)`},
		{42, 1, "tune: unknown parameter Param(42)"},
	} {
		var s tune.Settings
		err := s.Set(tt.p, tt.v)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Set(%v, %d):\n got %v\nwant %s", tt.p, tt.v, err, tt.want)
		}
	}
}
