package offheap_test

// The import policy (as go/build's deps_test.go states the standard
// library's): brk and mmapper, the only packages making memory system
// calls, use nothing but the standard library, golang.org/x/sys and leaf
// packages under internal/ that import only the standard library (the
// counting and fault injection they share, internal/oscall); arena
// takes its memory through interfaces of its own and imports none of brk,
// mmapper, tune or alloc, nor x/sys; tune uses the standard library alone;
// alloc wires arena, tune, brk and mmapper together; fileheap (a heap in a
// file) uses mmapper, the standard library and golang.org/x/sys, and only
// the bench and the command import it; nothing imports bench or cmd from
// outside them, but the command runs the bench suite.

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/offheap/offheap"

// pkgInfo is what the test knows of one package of the module.
type pkgInfo struct {
	imports     []string // non-test imports, under every build configuration tried
	testImports []string // imports of its _test.go files
}

// contexts are the build configurations whose imports count: the default
// one (linux/amd64, cgo on), the race detector's, and cgo off.
func contexts() []build.Context {
	def := build.Default
	def.GOOS, def.GOARCH = "linux", "amd64"
	race := def
	race.BuildTags = append(slices.Clone(race.BuildTags), "race")
	nocgo := def
	nocgo.CgoEnabled = false
	arm := nocgo
	arm.GOARCH = "arm64"
	return []build.Context{def, race, nocgo, arm}
}

// modulePackages reads the imports of every package of the module.
func modulePackages(t *testing.T) map[string]*pkgInfo {
	t.Helper()
	pkgs := map[string]*pkgInfo{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		importPath := module
		if path != "." {
			importPath += "/" + filepath.ToSlash(path)
		}
		info := &pkgInfo{}
		found := false
		for _, ctx := range contexts() {
			p, err := ctx.ImportDir(path, 0)
			if err != nil {
				if _, ok := err.(*build.NoGoError); ok {
					continue
				}
				return err
			}
			found = true
			info.imports = append(info.imports, p.Imports...)
			info.testImports = append(info.testImports, p.TestImports...)
			info.testImports = append(info.testImports, p.XTestImports...)
		}
		if found {
			sort.Strings(info.imports)
			info.imports = slices.Compact(info.imports)
			sort.Strings(info.testImports)
			info.testImports = slices.Compact(info.testImports)
			pkgs[importPath] = info
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && path != "C"
}

func inModule(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// deps returns every package that pkg imports, directly or through other
// packages of the module (the standard library and other modules are
// leaves: their own imports are not followed).
func deps(pkgs map[string]*pkgInfo, pkg string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(p string) {
		info := pkgs[p]
		if info == nil {
			return
		}
		for _, imp := range info.imports {
			if !seen[imp] {
				seen[imp] = true
				if inModule(imp) {
					visit(imp)
				}
			}
		}
	}
	visit(pkg)
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func TestImportPolicy(t *testing.T) {
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatalf("run from the module root: %v", err)
	}
	pkgs := modulePackages(t)
	for _, p := range []string{"brk", "mmapper", "arena", "tune", "alloc", "fileheap"} {
		if pkgs[module+"/"+p] == nil {
			t.Fatalf("package %s not found", p)
		}
	}
	const xsys = "golang.org/x/sys/"
	// leaf reports whether d is a package of the module under internal/
	// that imports nothing but the standard library.
	leaf := func(d string) bool {
		info := pkgs[d]
		if info == nil || !strings.HasPrefix(d, module+"/internal/") {
			return false
		}
		for _, imp := range info.imports {
			if !isStd(imp) {
				return false
			}
		}
		return true
	}
	osBoundary := func(d string) bool { return isStd(d) || strings.HasPrefix(d, xsys) || leaf(d) }
	rules := []struct {
		pkg     string
		allowed func(dep string) bool
		says    string
	}{
		{"brk", osBoundary, "imports only the standard library, golang.org/x/sys and leaf packages under internal/"},
		{"mmapper", osBoundary, "imports only the standard library, golang.org/x/sys and leaf packages under internal/"},
		{"arena", func(d string) bool {
			return !strings.HasPrefix(d, xsys) && !slices.Contains([]string{"brk", "mmapper", "tune", "alloc"}, strings.TrimPrefix(d, module+"/"))
		}, "imports none of brk, mmapper, tune, alloc and not golang.org/x/sys"},
		{"tune", isStd, "imports only the standard library"},
		{"alloc/tracefmt", isStd, "imports only the standard library"},
		{"alloc", func(d string) bool {
			if !inModule(d) {
				return true
			}
			return leaf(d) || slices.Contains([]string{"arena", "tune", "brk", "mmapper", "alloc/tracefmt"}, strings.TrimPrefix(d, module+"/"))
		}, "imports no package of the module but arena, tune, brk, mmapper, alloc/tracefmt (the trace format) and leaf packages under internal/"},
		{"fileheap", func(d string) bool {
			return isStd(d) || strings.HasPrefix(d, xsys) || d == module+"/mmapper" || leaf(d)
		}, "imports only the standard library, golang.org/x/sys, mmapper and leaf packages under internal/ (mmapper's)"},
	}
	for _, r := range rules {
		full := module + "/" + r.pkg
		for _, d := range deps(pkgs, full) {
			if !r.allowed(d) {
				t.Errorf("%s %s, but it depends on %s", r.pkg, r.says, d)
			}
		}
	}
	// The two packages at the OS boundary share one copy of their counting
	// and fault injection.
	for _, p := range []string{"brk", "mmapper"} {
		if !slices.Contains(pkgs[module+"/"+p].imports, module+"/internal/oscall") {
			t.Errorf("%s does not import internal/oscall: its calls are no longer counted in the shared code", p)
		}
	}
	direct := pkgs[module+"/alloc"].imports
	for _, p := range []string{"arena", "tune", "brk", "mmapper"} {
		if !slices.Contains(direct, module+"/"+p) {
			t.Errorf("alloc does not import %s: the layering has changed", p)
		}
	}

	// Only bench/ and cmd/ import fileheap (its tests aside).
	for pkg, info := range pkgs {
		if pkg == module+"/fileheap" || strings.HasPrefix(pkg, module+"/bench") || strings.HasPrefix(pkg, module+"/cmd/") {
			continue
		}
		for _, imp := range append(slices.Clone(info.imports), info.testImports...) {
			if imp == module+"/fileheap" {
				t.Errorf("%s imports fileheap: only bench/ and cmd/ may", pkg)
			}
		}
	}

	// Nothing outside bench/ and cmd/ imports them, in tests either; the
	// command (cmd/) may import bench/, whose suite it runs.
	for pkg, info := range pkgs {
		for _, top := range []string{"bench", "cmd"} {
			root := module + "/" + top
			if pkg == root || strings.HasPrefix(pkg, root+"/") {
				continue
			}
			if top == "bench" && strings.HasPrefix(pkg, module+"/cmd/") {
				continue
			}
			for _, imp := range append(slices.Clone(info.imports), info.testImports...) {
				if imp == root || strings.HasPrefix(imp, root+"/") {
					t.Errorf("%s imports %s: nothing may import %s/", pkg, imp, top)
				}
			}
		}
	}
	// The walk follows the module's packages: alloc reaches x/sys through
	// brk and mmapper (a check that the rules above see indirect imports).
	if !slices.Contains(deps(pkgs, module+"/alloc"), "golang.org/x/sys/unix") {
		t.Errorf("alloc's dependencies, as found here, miss golang.org/x/sys/unix (via brk): the walk is broken")
	}
	t.Logf("%d packages checked", len(pkgs))
}
