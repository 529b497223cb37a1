package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offheap/offheap/fileheap"
)

// stdout runs f and returns what it wrote to os.Stdout.
func stdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	err = f()
	os.Stdout = old
	w.Close()
	return string(<-done), err
}

func TestFileHeapCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap")
	h, err := fileheap.Open(path, fileheap.Options{Size: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var offs []fileheap.Offset
	for i := 0; i < 10; i++ {
		off, err := h.Alloc(1000 * i)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	h.Free(offs[3])
	h.Close()

	out, err := stdout(t, func() error { return runFileHeap([]string{"check", path}) })
	if err != nil || !strings.Contains(out, ": ok: 9 blocks in use") {
		t.Errorf("check: %q, %v", out, err)
	}
	out, err = stdout(t, func() error { return runFileHeap([]string{"stat", path}) })
	for _, want := range []string{"in use      9 blocks", "the most it may grow to: 8388608", "mallinfo2", "(this command)", "check       ok"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("stat: %v; output lacks %q:\n%s", err, want, out)
		}
	}
	out, err = stdout(t, func() error { return runFileHeap([]string{"stat", "-json", path}) })
	var st struct {
		fileheap.Stats
		Check string `json:"check"`
	}
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Blocks != 9 || st.Check != "ok" {
		t.Errorf("stat -json: %v, %+v from %s", err, st, out)
	}

	// A damaged chunk: both fail, naming it.
	b, _ := os.ReadFile(path)
	b[int(offs[5])-8+3] ^= 0x10
	os.WriteFile(path, b, 0o600)
	if _, err := stdout(t, func() error { return runFileHeap([]string{"check", path}) }); err == nil || !strings.Contains(err.Error(), "Check(): ") {
		t.Errorf("check of a damaged heap: %v", err)
	}
	out, err = stdout(t, func() error { return runFileHeap([]string{"stat", path}) })
	if err == nil || !strings.Contains(out, "check       fileheap: Stats(): ") {
		t.Errorf("stat of a damaged heap: %v\n%s", err, out)
	}

	// Not a heap, missing, empty: errors, and no file is made.
	other := filepath.Join(t.TempDir(), "text")
	os.WriteFile(other, bytes.Repeat([]byte("text\n"), 10), 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	missing := filepath.Join(t.TempDir(), "missing")
	for _, p := range []string{other, empty, missing} {
		if _, err := stdout(t, func() error { return runFileHeap([]string{"check", p}) }); err == nil {
			t.Errorf("check %s: no error", p)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("check of a missing file created it")
	}
	if fi, _ := os.Stat(empty); fi.Size() != 0 {
		t.Error("check of an empty file made it a heap")
	}
	if err := runFileHeap([]string{"frobnicate", path}); err == nil {
		t.Error("an unknown subcommand was accepted")
	}
}
