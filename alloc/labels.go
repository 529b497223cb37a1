package alloc

import (
	"context"
	"runtime/pprof"
	"slices"
	"sync"
	"unsafe"
)

// Goroutine labels for heap-profile samples.
//
// runtime/pprof keeps a goroutine's label set (pprof.Do,
// pprof.SetGoroutineLabels) as a pointer in the goroutine, which it reads
// back with runtime_getProfLabel. offheap reads the same pointer when it
// records a sample (the cost of one call) and decodes it only when a profile
// is written. The pointee is runtime/pprof's unexported labelMap, which in
// Go 1.26 is
//
//	type labelMap struct{ label.Set }             // runtime/pprof/label.go
//	type Set struct{ List []Label }               // internal/runtime/pprof/label
//	type Label struct{ Key, Value string }
//
// so a *labelMap is a pointer to a []Label. That layout is private to the
// standard library: labelLayoutKnown (labels_go126.go) admits it only for the
// Go release it was read from, and labelsWork checks it once at run time by
// setting a label set of its own and reading it back. When either fails,
// samples carry no labels and everything else works.

// profLabelMap mirrors runtime/pprof.labelMap.
type profLabelMap struct {
	List []profLabel
}

// profLabel mirrors internal/runtime/pprof/label.Label.
type profLabel struct {
	Key, Value string
}

// goroutineLabels returns the calling goroutine's pprof label set (as set
// by pprof.Do / SetGoroutineLabels), or nil. The runtime keeps it for
// runtime/pprof; offheap reads the same pointer to attribute samples.
func goroutineLabels() unsafe.Pointer { return runtime_getProfLabel() }

//go:linkname runtime_getProfLabel runtime/pprof.runtime_getProfLabel
func runtime_getProfLabel() unsafe.Pointer

var (
	labelCheckOnce sync.Once
	labelCheckOK   bool
)

// labelsWork reports whether label sets can be decoded in this build: the
// layout is the one this file knows and a label set read back through the
// runtime's pointer decodes to what was set.
func labelsWork() bool {
	labelCheckOnce.Do(func() {
		if !labelLayoutKnown {
			return
		}
		done := make(chan bool)
		go func() {
			ctx := pprof.WithLabels(context.Background(), pprof.Labels("offheap.check.a", "1", "offheap.check.b", "two"))
			pprof.SetGoroutineLabels(ctx)
			p := runtime_getProfLabel()
			ok := p != nil
			if ok {
				l := (*profLabelMap)(p).List
				ok = len(l) == 2 &&
					l[0] == profLabel{"offheap.check.a", "1"} &&
					l[1] == profLabel{"offheap.check.b", "two"}
			}
			done <- ok
		}()
		labelCheckOK = <-done
	})
	return labelCheckOK
}

// decodeLabels returns the labels of a label set recorded by
// goroutineLabels, sorted by key, or nil when there are none or they cannot
// be decoded.
func decodeLabels(p unsafe.Pointer) []profLabel {
	if p == nil || !labelsWork() {
		return nil
	}
	l := slices.Clone((*profLabelMap)(p).List)
	slices.SortFunc(l, func(a, b profLabel) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return l
}
