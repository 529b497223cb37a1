// Command grains measures what a parallel run's work sharing costs on this
// machine, with no allocator in the loop: each worker does read-modify-write
// operations on random lines of a private array, and two workers in one
// process take their operations from a shared count a grain at a time, as
// the bench's runWorkers does. It prints, for each of ten rounds, the
// two-goroutine throughput against the one-goroutine throughput measured
// just before and after (2.00 is two CPUs' worth).
//
//	go run ./bench/cmd/grains -grain 1024        # the bench's old grain
//	go run ./bench/cmd/grains -grain 16384
//	GOMAXPROCS=1 go run ./bench/cmd/grains -solo # one worker alone: ns/op
//
// Two -solo processes at once against one alone give the scaling with
// nothing shared but the machine (bench/README.md, "2026-12-07, third
// session").
package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

type worker struct {
	_    [128]byte // keep the workers' words off each other's lines
	data []uint64
	x    uint64
	_    [128]byte
}

func (w *worker) run(n int64) {
	d := w.data
	mask := uint64(len(d)/8 - 1)
	x := w.x
	for i := int64(0); i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		j := (x >> 33) & mask
		d[j*8]++
		d[j*8+1] += x
	}
	w.x = x
}

func runWorkers(ws []*worker, n, grain int64) {
	if len(ws) == 1 {
		ws[0].run(n)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			for {
				s := next.Add(grain) - grain
				if s >= n {
					return
				}
				w.run(min(grain, n-s))
			}
		})
	}
	wg.Wait()
}

// measure returns the nanoseconds an operation takes in a run of about d.
func measure(ws []*worker, d time.Duration, grain int64) float64 {
	n := int64(1 << 16)
	for {
		t := time.Now()
		runWorkers(ws, n, grain)
		if el := time.Since(t); el > d/4 {
			n = int64(float64(n) * float64(d) / float64(el))
			break
		}
		n *= 4
	}
	t := time.Now()
	runWorkers(ws, n, grain)
	return float64(time.Since(t).Nanoseconds()) / float64(n)
}

func main() {
	grain := flag.Int64("grain", 1024, "operations a worker takes from the shared count at a time")
	size := flag.Int("size", 512<<10, "bytes of each worker's array (a power of two, at least 64)")
	solo := flag.Bool("solo", false, "time one worker alone for 300 ms and print its ns/op")
	flag.Parse()
	seed := uint64(time.Now().UnixNano())
	mk := func() *worker { seed++; return &worker{data: make([]uint64, *size/8), x: seed} }
	if *solo {
		fmt.Printf("%.3f\n", measure([]*worker{mk()}, 300*time.Millisecond, *grain))
		return
	}
	one, two := []*worker{mk()}, []*worker{mk(), mk()}
	for range 10 {
		a := measure(one, 200*time.Millisecond, *grain)
		b := measure(two, 200*time.Millisecond, *grain)
		c := measure(one, 200*time.Millisecond, *grain)
		fmt.Printf("%.2f ", (a+c)/2/b)
	}
	fmt.Println()
}
