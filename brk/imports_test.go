package brk_test

import (
	"go/build"
	"strings"
	"testing"
)

// The OS boundary stays thin: brk imports only the standard library,
// golang.org/x/sys/unix and internal/oscall, the counting and fault
// injection it shares with the other package that makes memory system calls
// (a leaf: the module-wide deps_test.go checks that it imports nothing of
// ours). Tests may use what they like.
func TestImportPolicy(t *testing.T) {
	const oscall = "github.com/offheap/offheap/internal/oscall"
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range p.Imports {
		first, _, _ := strings.Cut(path, "/")
		if strings.Contains(first, ".") && path != "golang.org/x/sys/unix" && path != oscall {
			t.Errorf("brk imports %q: only the standard library, golang.org/x/sys/unix and %s are allowed", path, oscall)
		}
	}
}
