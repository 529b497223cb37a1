//go:build go1.26 && !go1.27

package alloc

// labelLayoutKnown says that runtime/pprof's labelMap has the layout that
// labels.go mirrors (read from Go 1.26's sources).
const labelLayoutKnown = true
