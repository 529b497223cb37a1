package alloc

import "strings"

// StatsVar is an expvar.Var: its String method returns ReadStats's figures
// as one JSON object (the form WriteJSON writes, without indentation), so
//
//	expvar.Publish("offheap", alloc.StatsVar{})
//
// shows them at /debug/vars. Importing the package
// github.com/offheap/offheap/alloc/offheapvar does exactly that. Package
// alloc does not import expvar itself: expvar brings net/http, and with it
// C code (the cgo name resolver) into every program, which would make
// offheap leave the program break for its reserved stand-in.
type StatsVar struct{}

// String returns the statistics as JSON; each call costs a ReadStats.
func (StatsVar) String() string {
	var s Stats
	ReadStats(&s)
	var b strings.Builder
	if err := writeStatsJSON(&b, &s, ""); err != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}
