package brk_test

import (
	"go/build"
	"strings"
	"testing"
)

// The OS boundary stays thin: brk imports only the standard library and
// golang.org/x/sys/unix (tests may use what they like).
func TestImportPolicy(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range p.Imports {
		first, _, _ := strings.Cut(path, "/")
		if strings.Contains(first, ".") && path != "golang.org/x/sys/unix" {
			t.Errorf("brk imports %q: only the standard library and golang.org/x/sys/unix are allowed", path)
		}
	}
}
