package bench

import (
	"math"
	"sort"
)

// slowerP is the one-sided p-value of the Mann-Whitney U test that the
// samples a come from a distribution slower (larger) than b's: the
// probability, were both drawn from one distribution, of a U statistic
// (pairs with a's sample the larger, ties counting half) at least as large
// as the one observed. Small samples without ties get the exact
// distribution; the others the normal approximation with the tie and
// continuity corrections, as benchstat does. It is NaN when either sample
// is empty.
func slowerP(a, b []float64) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return math.NaN()
	}
	// Ranks of the pooled samples, ties sharing their mean rank.
	type obs struct {
		v   float64
		inA bool
	}
	all := make([]obs, 0, n+m)
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var rankA, tieTerm float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		mid := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			if all[k].inA {
				rankA += mid
			}
		}
		i = j
	}
	u := rankA - float64(n*(n+1))/2
	if !ties && n*m <= 2500 {
		return exactUTail(n, m, int(math.Round(u)))
	}
	N := float64(n + m)
	mean := float64(n*m) / 2
	sd := math.Sqrt(float64(n*m) / 12 * (N + 1 - tieTerm/(N*(N-1))))
	if sd == 0 {
		return 1
	}
	z := (u - 0.5 - mean) / sd
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// exactUTail is P(U >= u) for samples of n and m without ties: the share
// of the C(n+m, n) orderings whose U is at least u, counted by the
// recurrence f(n, m, u) = f(n-1, m, u-m) + f(n, m-1, u).
func exactUTail(n, m, u int) float64 {
	// f[i][j][k]: orderings of i a's and j b's with U = k, row by row.
	maxU := n * m
	prev := make([][]float64, m+1) // i-1
	cur := make([][]float64, m+1)
	for j := 0; j <= m; j++ {
		prev[j] = make([]float64, maxU+1)
		cur[j] = make([]float64, maxU+1)
		prev[j][0] = 1 // no a's: one ordering, U = 0
	}
	for i := 1; i <= n; i++ {
		for j := 0; j <= m; j++ {
			row := cur[j]
			clear(row)
			for k := 0; k <= i*j; k++ {
				// The largest value is an a (it beats all j b's) or a b.
				if k >= j {
					row[k] += prev[j][k-j]
				}
				if j > 0 {
					row[k] += cur[j-1][k]
				}
			}
		}
		prev, cur = cur, prev
	}
	var tail, total float64
	for k, c := range prev[m] {
		total += c
		if k >= u {
			tail += c
		}
	}
	return tail / total
}
