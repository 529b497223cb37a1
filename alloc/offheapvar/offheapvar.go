// Package offheapvar publishes offheap's statistics as the expvar variable
// "offheap", so that /debug/vars shows them. Import it for that effect:
//
//	import _ "github.com/offheap/offheap/alloc/offheapvar"
//
// The value is alloc.StatsVar: the JSON form of alloc.ReadStats, read each
// time the variable is shown. It is a package of its own because expvar
// brings net/http and, with it, C code into a program; package alloc
// stays free of both.
package offheapvar

import (
	"expvar"

	"github.com/offheap/offheap/alloc"
)

// Name is the name of the published variable.
const Name = "offheap"

func init() {
	expvar.Publish(Name, alloc.StatsVar{})
}
