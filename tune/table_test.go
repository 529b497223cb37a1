package tune_test

import (
	"bytes"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/offheap/offheap/tune"
)

// glibcMallopt is glibc 2.36's malloc.h: the mallopt number of each constant.
var glibcMallopt = map[string]tune.Param{
	"M_MXFAST": 1, "M_TRIM_THRESHOLD": -1, "M_TOP_PAD": -2, "M_MMAP_THRESHOLD": -3,
	"M_MMAP_MAX": -4, "M_CHECK_ACTION": -5, "M_PERTURB": -6, "M_ARENA_TEST": -7, "M_ARENA_MAX": -8,
}

// glibcTunables is glibc 2.36's elf/dl-tunables.list, namespace glibc.malloc:
// each tunable and its environment alias. offheap implements all but
// tcache_unsorted_limit.
var glibcTunables = map[string]string{
	"check": "MALLOC_CHECK_", "top_pad": "MALLOC_TOP_PAD_", "perturb": "MALLOC_PERTURB_",
	"mmap_threshold": "MALLOC_MMAP_THRESHOLD_", "trim_threshold": "MALLOC_TRIM_THRESHOLD_",
	"mmap_max": "MALLOC_MMAP_MAX_", "arena_max": "MALLOC_ARENA_MAX", "arena_test": "MALLOC_ARENA_TEST",
	"tcache_max": "", "tcache_count": "", "mxfast": "", "hugetlb": "",
}

// TestTable checks the table's own consistency and its agreement with glibc.
func TestTable(t *testing.T) {
	specs := tune.Specs()
	var params []tune.Param
	names := map[string]bool{"trace": true}
	aliases := map[string]bool{}
	for _, sp := range specs {
		params = append(params, sp.Param)
		if sp.Name == "" || sp.Doc == "" || sp.Unit == 0 || sp.Unit.String() == "" {
			t.Errorf("%v: incomplete spec %+v", sp.Param, sp)
		}
		if names[sp.Name] {
			t.Errorf("%v: name %q used twice (trace is reserved)", sp.Param, sp.Name)
		}
		names[sp.Name] = true
		if !(sp.Min <= sp.Default && sp.Default <= sp.Max) {
			t.Errorf("%s: default %d outside %d..%d", sp.Name, sp.Default, sp.Min, sp.Max)
		}
		if sp.Min < 0 {
			t.Errorf("%s: negative minimum %d; the grammar of sizes has no sign", sp.Name, sp.Min)
		}
		if strings.ContainsAny(sp.Name, "=,: ") || strings.ToLower(sp.Name) != sp.Name {
			t.Errorf("%s: a name must be lower case without separators", sp.Name)
		}
		switch sp.Unit {
		case tune.Byte:
			if sp.Max > 255 {
				t.Errorf("%s: unit byte with maximum %d", sp.Name, sp.Max)
			}
		case tune.Enum:
			if int64(len(sp.Values)) != sp.Max-sp.Min+1 {
				t.Errorf("%s: %d words for %d..%d", sp.Name, len(sp.Values), sp.Min, sp.Max)
			}
		}
		if sp.Unit != tune.Enum && sp.Values != nil {
			t.Errorf("%s: words for unit %v", sp.Name, sp.Unit)
		}

		// glibc agreement.
		if sp.Mallopt != "" {
			check(t, sp.Name+": Param of "+sp.Mallopt, glibcMallopt[sp.Mallopt], sp.Param)
		} else if sp.Param < 100 {
			t.Errorf("%s: offheap's own parameters number from 100, not %d", sp.Name, sp.Param)
		}
		alias, isTunable := glibcTunables[sp.Name]
		check(t, sp.Name+": Tunable", isTunable, sp.Tunable)
		var wantEnv []string
		if alias != "" {
			wantEnv = []string{alias}
		}
		if !slices.Equal(wantEnv, sp.Env) {
			t.Errorf("%s: Env = %q; want %q", sp.Name, sp.Env, wantEnv)
		}
		for _, a := range sp.Env {
			if aliases[a] {
				t.Errorf("%s: alias %s used twice", sp.Name, a)
			}
			aliases[a] = true
		}
	}
	check(t, "len(Specs())", len(allParams), len(specs))
	if !slices.Equal(params, allParams) {
		t.Errorf("Specs() order = %v; want %v", params, allParams)
	}
	if len(glibcMallopt) != 9 {
		t.Fatal("glibcMallopt changed")
	}
	for m := range glibcMallopt {
		if !slices.ContainsFunc(specs, func(sp tune.Spec) bool { return sp.Mallopt == m }) {
			t.Errorf("no spec for %s", m)
		}
	}
}

func TestLookups(t *testing.T) {
	for _, p := range allParams {
		sp, ok := tune.SpecOf(p)
		check(t, "SpecOf ok", true, ok)
		check(t, "SpecOf(p).Param", p, sp.Param)
		check(t, "p.String()", sp.Name, p.String())
		byName, ok := tune.ByName(sp.Name)
		check(t, "ByName ok", true, ok)
		check(t, "ByName(name).Param", p, byName.Param)
	}
	for _, tt := range []struct {
		p    tune.Param
		name string
	}{
		{tune.MXFast, "mxfast"}, {tune.MmapThreshold, "mmap_threshold"}, {tune.CheckAction, "check"},
		{tune.GoMemLimit, "gomemlimit"}, {42, "Param(42)"}, {0, "Param(0)"}, {-9, "Param(-9)"},
	} {
		check(t, "String", tt.name, tt.p.String())
	}
	for _, name := range []string{"", "trace", "MMAP_THRESHOLD", "mmap-threshold", "check_action", "M_MXFAST", "Param(42)"} {
		if sp, ok := tune.ByName(name); ok {
			t.Errorf("ByName(%q) = %v, true", name, sp.Param)
		}
	}
	if _, ok := tune.SpecOf(42); ok {
		t.Error("SpecOf(42) found")
	}
}

// TestSpecsAreCopies checks that a caller cannot change the table through
// what Specs, SpecOf, ByName or an Error return.
func TestSpecsAreCopies(t *testing.T) {
	specs := tune.Specs()
	specs[0].Default = 7
	specs[1].Env[0] = "CHANGED"
	sp, _ := tune.SpecOf(tune.GoMemLimit)
	sp.Values[0] = "CHANGED"
	sp, _ = tune.ByName("top_pad")
	sp.Env[0] = "CHANGED"
	var s tune.Settings
	var e *tune.Error
	if err := s.Set(tune.GoMemLimit, 5); err != nil && errors.As(err, &e) {
		e.Values[1] = "CHANGED"
	}

	fresh := tune.Specs()
	check(t, "Default", 128, fresh[0].Default)
	check(t, "Env", "MALLOC_TRIM_THRESHOLD_", fresh[1].Env[0])
	sp, _ = tune.SpecOf(tune.GoMemLimit)
	check(t, "Values", "off,auto", strings.Join(sp.Values, ","))
	sp, _ = tune.SpecOf(tune.TopPad)
	check(t, "Env", "MALLOC_TOP_PAD_", sp.Env[0])
	s, errs := tune.FromEnv(mapEnv{"OFFHEAP": "gomemlimit=auto"}.lookup)
	check(t, "errors", 0, len(errs))
	check(t, "gomemlimit=auto", 1, s.Get(tune.GoMemLimit))
}

// TestDocTable checks that the table in the package documentation agrees with
// the table. On failure it prints the block to paste into doc.go.
func TestDocTable(t *testing.T) {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "Name\tMallopt\tEnvironment alias\tTunable\tDefault\tRange\tUnit")
	for _, sp := range tune.Specs() {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%v\n", sp.Name, dash(sp.Mallopt), dash(strings.Join(sp.Env, " ")),
			yesNo(sp.Tunable), docValue(sp, sp.Default), docRange(sp), sp.Unit)
	}
	w.Flush()
	var want strings.Builder
	for line := range strings.Lines(buf.String()) {
		want.WriteString("//\t" + strings.TrimRight(line, " \n") + "\n")
	}

	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(want.String())) {
		t.Errorf("doc.go does not hold the table; want:\n%s", want.String())
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func docValue(sp tune.Spec, v int64) string {
	switch {
	case v == math.MaxInt64:
		return "MaxInt64"
	case v == math.MaxInt32:
		return "MaxInt32"
	case sp.Unit == tune.Bytes:
		return tune.FormatSize(v)
	case sp.Unit == tune.Enum:
		return sp.Values[v-sp.Min]
	case sp.Unit == tune.Duration:
		return tune.FormatDuration(v)
	}
	return strconv.FormatInt(v, 10)
}

func docRange(sp tune.Spec) string {
	if sp.Unit == tune.Enum {
		return strings.Join(sp.Values, ", ")
	}
	return docValue(sp, sp.Min) + ".." + docValue(sp, sp.Max)
}

// TestImports states the package's dependency policy: the standard library
// only, and nothing that reads the environment or prints (no os, syscall,
// log or fmt). Adding a package to the list is a decision, not a fix.
func TestImports(t *testing.T) {
	allowed := []string{"errors", "math", "slices", "strconv", "strings"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !slices.Contains(allowed, path) {
				t.Errorf("%s imports %q; tune may import only %q", name, path, allowed)
			}
		}
	}
}
