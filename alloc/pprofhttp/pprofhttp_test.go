package pprofhttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/pprof/profile"

	"github.com/offheap/offheap/alloc"
	"github.com/offheap/offheap/alloc/pprofhttp"
)

//go:noinline
func leakySite(n int) []unsafe.Pointer {
	var out []unsafe.Pointer
	for i := 0; i < n; i++ {
		out = append(out, alloc.Malloc(64<<10))
	}
	return out
}

// TestHandler is issue 6's acceptance 3: the handler serves a profile that
// go tool pprof reads from an httptest server, and that names the
// allocating function.
func TestHandler(t *testing.T) {
	old := alloc.ProfileRate()
	alloc.SetProfileRate(64 << 10) // every 64 KiB block is likely sampled
	defer alloc.SetProfileRate(old)
	blocks := leakySite(256)
	defer func() {
		for _, p := range blocks {
			alloc.Free(p)
		}
	}()

	mux := http.NewServeMux()
	mux.Handle(pprofhttp.Path, pprofhttp.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + pprofhttp.Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", pprofhttp.Path, resp.Status)
	}
	p, err := profile.ParseData(body)
	if err != nil {
		t.Fatalf("the served profile does not parse: %v", err)
	}
	if p.DefaultSampleType != "inuse_space" || len(p.SampleType) != 4 {
		t.Errorf("served profile: default %q, %d sample types", p.DefaultSampleType, len(p.SampleType))
	}

	resp, err = http.Get(srv.URL + pprofhttp.Path + "?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(text), "leakySite") {
		t.Errorf("?debug=1 does not name leakySite:\n%.2000s", text)
	}

	if resp, err := http.Post(srv.URL+pprofhttp.Path, "text/plain", nil); err == nil {
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: %s, want 405", resp.Status)
		}
		resp.Body.Close()
	}

	g := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(g); err != nil {
		if g, err = exec.LookPath("go"); err != nil {
			t.Skip("the go command is not available: skipping go tool pprof")
		}
	}
	cmd := exec.Command(g, "tool", "pprof", "-top", srv.URL+pprofhttp.Path)
	cmd.Env = append(os.Environ(), "PPROF_TMPDIR="+t.TempDir()) // where pprof saves the fetched profile
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -top %s: %v\n%s", srv.URL+pprofhttp.Path, err, out)
	}
	if !strings.Contains(string(out), "leakySite") || !strings.Contains(string(out), "inuse_space") {
		t.Errorf("go tool pprof -top over HTTP does not show leakySite's inuse_space:\n%s", out)
	}
}
