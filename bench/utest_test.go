package bench

import (
	"math"
	"testing"
)

// TestSlowerP checks the U test against values worked out by hand and
// against its normal approximation on a large sample.
func TestSlowerP(t *testing.T) {
	for _, c := range []struct {
		a, b []float64
		want float64
	}{
		// Every a above every b: one ordering of C(6,3) = 20 has U = 9.
		{[]float64{4, 5, 6}, []float64{1, 2, 3}, 1.0 / 20},
		// Every a below: all 20 orderings have U >= 0.
		{[]float64{1, 2, 3}, []float64{4, 5, 6}, 1},
		// U = 8 (one pair reversed): the orderings with U 8 or 9.
		{[]float64{3.5, 5, 6}, []float64{1, 2, 4}, 2.0 / 20},
		// Five against five, all above: 1 / C(10,5).
		{[]float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, 1.0 / 252},
	} {
		if got := slowerP(c.a, c.b); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("slowerP(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	// Identical samples (all ties): no evidence either way.
	if p := slowerP([]float64{1, 1, 1}, []float64{1, 1, 1}); p < 0.5 {
		t.Errorf("identical samples: p = %v, want at least 0.5", p)
	}
	// Interleaved samples of 60: U is half of n*m, p near a half.
	var a, b []float64
	for i := 0; i < 60; i++ {
		a = append(a, float64(2*i))
		b = append(b, float64(2*i+1))
	}
	if p := slowerP(a, b); p < 0.4 || p > 0.6 {
		t.Errorf("interleaved samples of 60: p = %v, want about 0.5", p)
	}
	// A third of the spread slower: clearly slower, and not the other way.
	var c []float64
	for _, v := range a {
		c = append(c, v+41)
	}
	if p := slowerP(c, a); p > 0.01 {
		t.Errorf("samples shifted up: p = %v, want below 0.01", p)
	}
	if p := slowerP(a, c); p < 0.99 {
		t.Errorf("samples shifted down: p = %v, want above 0.99", p)
	}
	if p := slowerP(nil, a); !math.IsNaN(p) {
		t.Errorf("empty sample: p = %v, want NaN", p)
	}
}
