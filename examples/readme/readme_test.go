// Package readme checks that README.md's program builds and runs against this module.
package readme

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// block returns the Go code that follows "<!-- marker -->" in README.md.
func block(t *testing.T, readme, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- "+marker+" -->\n```go\n")
	if !ok {
		t.Fatalf("README.md has no <!-- %s --> Go block", marker)
	}
	code, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatalf("the README's %s block is not closed", marker)
	}
	return code + "\n"
}

// snippetMain wraps the README's ten-line snippet into a program: must, ctx, and a working
// directory holding conf/secrets.json as IDM ships it but with PKCS#12 keystores.
const snippetMain = `package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/jsoncrypto"
)

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

func main() {
	ctx := context.Background()
	if err := os.Chdir(os.Args[1]); err != nil {
		log.Fatal(err)
	}
	%s
}
`

const snippetSecretsJSON = `{"stores": [
  {"name": "mainKeyStore", "class": "org.forgerock.openidm.secrets.config.KeyStoreSecretStore",
   "config": {"file": "&{openidm.keystore.location|security/keystore.p12}", "storetype": "PKCS12",
              "storePassword": "&{openidm.keystore.password|changeit}",
              "mappings": [{"secretId": "idm.password.encryption", "types": ["ENCRYPT", "DECRYPT"], "aliases": ["&{openidm.config.crypto.alias|openidm-sym-default}"]},
                           {"secretId": "idm.jwt.session.module.signing", "types": ["SIGN", "VERIFY"], "aliases": ["openidm-jwtsessionhmac-key"]},
                           {"secretId": "idm.jwt.session.module.encryption", "types": ["ENCRYPT", "DECRYPT"], "aliases": ["openidm-localhost"]}]}},
  {"name": "mainTrustStore", "class": "org.forgerock.openidm.secrets.config.KeyStoreSecretStore",
   "config": {"file": "security/truststore.p12", "storetype": "PKCS12", "storePassword": "changeit", "mappings": []}}],
 "populateDefaults": true}
`

func TestREADMESnippet(t *testing.T) {
	root, readme, gosum := readRepo(t)
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "conf"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(work, "conf", "security"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "conf", "secrets.json"), []byte(snippetSecretsJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	code := strings.ReplaceAll(strings.TrimSpace(block(t, readme, "readme-snippet")), "\n", "\n\t")
	out := runModule(t, root, gosum, fmt.Sprintf(snippetMain, code), work)
	if !strings.Contains(out, `"Passw0rd" bjensen`) {
		t.Errorf("output %q lacks the decrypted value and the principal", out)
	}
}

func readRepo(t *testing.T) (root, readme string, gosum []byte) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, err = os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	return root, string(b), gosum
}

// runModule builds main.go as a module of its own that uses this one, as a user's would
// (offline, from the module cache the repository's own build filled), runs it with args and
// returns its output.
func runModule(t *testing.T, root string, gosum []byte, main string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	mod := "module readmesample\n\ngo 1.25\n\nrequire github.com/secretstores/secretstores v0.0.0\n\nreplace github.com/secretstores/secretstores => " + root + "\n"
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": gosum, "main.go": []byte(main)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", append([]string{"run", "."}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README code failed: %v\n%s%s", err, out.String(), errOut.String())
	}
	return out.String()
}

func TestREADMESample(t *testing.T) {
	root, readme, gosum := readRepo(t)
	out := runModule(t, root, gosum, block(t, readme, "readme-sample"))
	for _, want := range []string{`$crypto round trip: "Passw0rd"`, "session for bjensen, signed with openidm-jwtsessionhmac-key"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// libraryPackages are the packages a user's program imports; examples/ and internal/ are not
// among them.
var libraryPackages = []string{"secrets", "secrets/storekit", "secrets/jsoncrypto", "secrets/secretstest", "pkcs11conf", "hsmstore", "filestore", "jwtsession"}

// TestModuleGraphHasNoBrowserTooling checks the README's claim that a program importing the
// library requires no tooling of the examples' tests: go mod graph of a module that imports
// every library package names no chromedp or cdproto (they live in the nested module
// examples/websession/browsertest).
func TestModuleGraphHasNoBrowserTooling(t *testing.T) {
	root, _, gosum := readRepo(t)
	dir := t.TempDir()
	var imports strings.Builder
	for _, p := range libraryPackages {
		fmt.Fprintf(&imports, "\t_ %q\n", "github.com/secretstores/secretstores/"+p)
	}
	mod := "module graphcheck\n\ngo 1.25\n\nrequire github.com/secretstores/secretstores v0.0.0\n\nreplace github.com/secretstores/secretstores => " + root + "\n"
	main := "package main\n\nimport (\n" + imports.String() + ")\n\nfunc main() {}\n"
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": gosum, "main.go": []byte(main)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("go %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return out.String()
	}
	goCmd("mod", "tidy")
	graph := goCmd("mod", "graph")
	if !strings.Contains(graph, "github.com/secretstores/secretstores@v0.0.0 github.com/miekg/pkcs11@") {
		t.Fatalf("go mod graph does not show the library's own requirements; is the check looking at the right graph?\n%s", graph)
	}
	for _, line := range strings.Split(graph, "\n") {
		for _, bad := range []string{"github.com/chromedp/"} {
			if strings.Contains(line, bad) {
				t.Errorf("a program importing only the library requires browser tooling: %s", line)
			}
		}
	}
}

// TestLibraryPackagesHaveDocsAndExamples checks the README's claim that every library package
// opens its go doc with a package comment and has a runnable Example (one with an Output
// comment, which go test runs and checks).
func TestLibraryPackagesHaveDocsAndExamples(t *testing.T) {
	root, _, _ := readRepo(t)
	for _, p := range libraryPackages {
		dir := filepath.Join(root, filepath.FromSlash(p))
		fset := token.NewFileSet()
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		var files []*ast.File
		for _, name := range names {
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name.Name == "main" { // a //go:build ignore generator
				continue
			}
			files = append(files, f)
		}
		pkg, err := doc.NewFromFiles(fset, files, "github.com/secretstores/secretstores/"+p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if want := "Package " + pkg.Name + " "; !strings.HasPrefix(pkg.Doc, want) {
			t.Errorf("%s: the package comment does not start with %q: %.60q", p, want, pkg.Doc)
		}
		examples := pkg.Examples
		for _, f := range pkg.Funcs {
			examples = append(examples, f.Examples...)
		}
		for _, ty := range pkg.Types {
			examples = append(examples, ty.Examples...)
			for _, f := range ty.Funcs {
				examples = append(examples, f.Examples...)
			}
			for _, m := range ty.Methods {
				examples = append(examples, m.Examples...)
			}
		}
		var runnable []string
		for _, ex := range examples {
			if ex.Output != "" || ex.EmptyOutput {
				runnable = append(runnable, "Example"+ex.Name)
			}
		}
		if len(runnable) == 0 {
			t.Errorf("%s: no runnable Example (an Example function with an // Output: comment)", p)
		} else {
			t.Logf("%s: %s", p, strings.Join(runnable, ", "))
		}
	}
}
