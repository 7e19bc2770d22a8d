package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const root = "../.."

const regenerate = "if the change is meant, regenerate the record with\n\tgo run ./internal/apirecord -w\n(or SECRETSTORES_UPDATE_API=1 go test ./internal/apirecord), review git diff api/, and note the change in CHANGELOG.md"

// TestAPIRecord fails when the exported API of a library package differs from its record in
// api/, as the Go project's api/ files catch an API change nobody meant to make.
func TestAPIRecord(t *testing.T) {
	pkgs, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 || !slices.ContainsFunc(pkgs, func(p Package) bool { return p.Path == Module+"/secrets" }) {
		t.Fatalf("Load found no library packages (or not secrets): %v", pkgs)
	}
	if os.Getenv("SECRETSTORES_UPDATE_API") == "1" {
		if err := WriteRecord(root, pkgs); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s/", RecordDir)
	}
	want := map[string]bool{}
	for _, p := range pkgs {
		file := RecordFile(p.Path)
		want[filepath.Base(file)] = true
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Errorf("%s has no API record (%v);\n%s", p.Path, err, regenerate)
			continue
		}
		if diff := lineDiff(string(data), p.Text()); diff != "" {
			t.Errorf("the exported API of %s differs from %s:\n%s\n%s", p.Path, file, diff, regenerate)
		}
	}
	files, _ := filepath.Glob(filepath.Join(root, RecordDir, "*.txt"))
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s records a package that is no longer a library package;\n%s", f, regenerate)
		}
	}
}

// cgoOnly is the API that exists only with cgo, with the reason.
var cgoOnly = map[string]string{
	// Conversions to github.com/miekg/pkcs11's type, a cgo package.
	"pkg " + Module + "/pkcs11conf, func PKCS11Attributes([]Attribute) []*pkcs11.Attribute": "miekg/pkcs11 needs cgo",
	"pkg " + Module + "/pkcs11conf, method (Attribute) PKCS11() *pkcs11.Attribute":          "miekg/pkcs11 needs cgo",
}

// TestAPIWithoutCgo: a program built with CGO_ENABLED=0 sees the same API (hsmstore's !cgo
// variant keeps every exported name, and fails at run time instead), except cgoOnly.
func TestAPIWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the library a second time, without cgo")
	}
	withCgo, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	noCgo, err := Load(root, "CGO_ENABLED=0")
	if err != nil {
		t.Fatal(err)
	}
	if len(withCgo) != len(noCgo) {
		t.Fatalf("%d library packages with cgo, %d without", len(withCgo), len(noCgo))
	}
	for i := range withCgo {
		var diff []string
		for _, l := range strings.Split(lineDiff(withCgo[i].Text(), noCgo[i].Text()), "\n") {
			if l != "" && cgoOnly[strings.TrimPrefix(l, "-")] == "" {
				diff = append(diff, l)
			}
		}
		if len(diff) > 0 {
			t.Errorf("%s: the API without cgo differs (- with cgo, + without):\n%s", withCgo[i].Path, strings.Join(diff, "\n"))
		}
	}
}

// lineDiff lists the lines only in want (-) and only in got (+), or "".
func lineDiff(want, got string) string {
	w := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	g := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("-" + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+" + l + "\n")
		}
	}
	return b.String()
}

func TestIsLibrary(t *testing.T) {
	for path, want := range map[string]bool{
		Module + "/secrets":              true,
		Module + "/secrets/storekit":     true,
		Module + "/internal/strictjson":  false,
		Module + "/examples/quickstart":  false,
		Module + "/secrets/internal/x":   false,
		Module + "x/secrets":             false,
		"github.com/other/secretstores":  false,
		Module + "/hsmstore/testdata/go": false,
	} {
		if got := IsLibrary(path); got != want {
			t.Errorf("IsLibrary(%q) = %v, want %v", path, got, want)
		}
	}
}
