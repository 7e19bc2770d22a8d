// Package readme checks that README.md's program builds and runs against this module.
package readme

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sample returns the Go program that follows "<!-- readme-sample -->" in README.md.
func sample(t *testing.T, readme string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- readme-sample -->\n```go\n")
	if !ok {
		t.Fatal("README.md has no <!-- readme-sample --> Go block")
	}
	code, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatal("the README sample is not closed")
	}
	return code + "\n"
}

func TestREADMESample(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	// A module of its own that uses this one, as a user's would; offline, from the module
	// cache the repository's own build filled.
	dir := t.TempDir()
	mod := "module readmesample\n\ngo 1.25\n\nrequire github.com/secretstores/secretstores v0.0.0\n\nreplace github.com/secretstores/secretstores => " + root + "\n"
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": gosum, "main.go": []byte(sample(t, string(readme)))} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README sample failed: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{`$crypto round trip: "Passw0rd"`, "session for bjensen, signed with openidm-jwtsessionhmac-key"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
