//go:build !go1.26 || go1.27

package alloc

// labelLayoutKnown is false for Go releases whose runtime/pprof labelMap
// layout labels.go has not been checked against: samples carry no labels.
const labelLayoutKnown = false
