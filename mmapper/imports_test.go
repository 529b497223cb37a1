package mmapper_test

import (
	"go/build"
	"strings"
	"testing"
)

// The OS boundary stays thin: mmapper imports only the standard library and
// golang.org/x/sys/unix (tests may use what they like).
func TestImportPolicy(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range p.Imports {
		first, _, _ := strings.Cut(path, "/")
		if strings.Contains(first, ".") && path != "golang.org/x/sys/unix" {
			t.Errorf("mmapper imports %q: only the standard library and golang.org/x/sys/unix are allowed", path)
		}
	}
}
