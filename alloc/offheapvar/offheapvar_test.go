package offheapvar_test

import (
	"encoding/json"
	"expvar"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/alloc/offheapvar"
)

// TestPublished: importing the package publishes "offheap", and a running
// program's /debug/vars (expvar's handler, served over HTTP) shows
// ReadStats's figures under it.
func TestPublished(t *testing.T) {
	p, q := alloc.Malloc(1<<20), alloc.Malloc(100)
	defer alloc.Free(p)
	defer alloc.Free(q)
	v := expvar.Get(offheapvar.Name)
	if v == nil {
		t.Fatalf("expvar %q is not published", offheapvar.Name)
	}
	var s alloc.Stats
	if err := json.Unmarshal([]byte(v.String()), &s); err != nil || s.Sys == 0 {
		t.Fatalf("expvar %q = %s: %v", offheapvar.Name, v.String(), err)
	}

	srv := httptest.NewServer(expvar.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var vars map[string]json.RawMessage
	if err := json.Unmarshal(body, &vars); err != nil {
		t.Fatalf("/debug/vars: %v\n%s", err, body)
	}
	var shown alloc.Stats
	if err := json.Unmarshal(vars[offheapvar.Name], &shown); err != nil {
		t.Fatalf("/debug/vars %q: %v\n%s", offheapvar.Name, err, vars[offheapvar.Name])
	}
	if shown.HeapSys == 0 || shown.Mapped.Count == 0 || shown.Sys != shown.HeapSys+shown.Mapped.Bytes+shown.MetaSys ||
		len(shown.Arenas) == 0 || shown.Break == "" {
		t.Errorf("/debug/vars shows %s", vars[offheapvar.Name])
	}
	t.Logf("/debug/vars offheap: %.300s...", vars[offheapvar.Name])
}
