//go:build !race

package fileheap_test

const raceEnabled = false
