// Package pprofhttp serves offheap's heap profile over HTTP, next to
// net/http/pprof's, so that
//
//	go tool pprof http://host:port/debug/pprof/offheap
//	go tool pprof -base old.pb.gz http://host:port/debug/pprof/offheap
//
// work as they do for the Go heap. It is a package of its own so that a
// program (or test binary) using package alloc does not link net/http,
// which links C through the net package's resolver: in a binary that
// links C, offheap leaves the program break to glibc.
//
//	import _ "github.com/offheap/offheap/alloc/pprofhttp" // on http.DefaultServeMux
//
// or, for a mux of one's own,
//
//	mux.Handle(pprofhttp.Path, pprofhttp.Handler())
package pprofhttp

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"

	"github.com/google/pprof/profile"

	"github.com/offheap/offheap/alloc"
)

// Path is where the package serves the profile on http.DefaultServeMux.
const Path = "/debug/pprof/offheap"

func init() {
	http.Handle(Path, Handler())
}

// Handler returns a handler serving alloc.WriteHeapProfile's gzipped
// protocol buffer (with ?debug=1, the profile as text instead). It serves
// GET and HEAD only.
func Handler() http.Handler { return http.HandlerFunc(serve) }

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var buf bytes.Buffer
	if err := alloc.WriteHeapProfile(&buf); err != nil {
		http.Error(w, "offheap: writing the heap profile: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if debug, _ := strconv.Atoi(r.FormValue("debug")); debug > 0 {
		p, err := profile.ParseData(buf.Bytes())
		if err != nil {
			http.Error(w, "offheap: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, p.String())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="offheap"`)
	w.Write(buf.Bytes())
}
