//go:build race

package cgotest_test

// raceEnabled: the race detector slows everything down; runs are shorter.
const raceEnabled = true
