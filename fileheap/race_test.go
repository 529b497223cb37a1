//go:build race

package fileheap_test

// raceEnabled: the race detector slows every test down; the multi-process
// tests do less work under it.
const raceEnabled = true
