//go:build race

package main

// raceEnabled: the race detector's runtime keeps memory of its own (a
// record for every address used atomically or as a lock, never given
// back), so under it the process's RSS after Trim(0) says little about
// offheap; the check then reads offheap's own resident memory instead.
const raceEnabled = true
