//go:build !race

package cgotest_test

const raceEnabled = false
