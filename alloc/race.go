//go:build race

package alloc

// raceEnabled: under the race detector each per-P cache is also guarded by
// a mutex, so that the detector sees the hand-over between the owner and a
// goroutine that flushes the cache (which otherwise relies on a
// stop-the-world it cannot see).
const raceEnabled = true
