package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
)

// -softhsm initialises its token through PKCS#11: no PIN is passed to softhsm2-util (or any
// command) where ps and /proc would show it. A softhsm2-util first on PATH records every
// call and runs the real one; before, it was called with --so-pin and --pin.
func TestSecurity11NoPINOnCommandLine(t *testing.T) {
	if _, err := softhsmtest.Module(); err != nil {
		testenv.Missing(t, testenv.SoftHSM, err.Error())
	}
	real := testenv.LookPath(t, testenv.SoftHSM, "softhsm2-util")
	bin := t.TempDir()
	record := filepath.Join(t.TempDir(), "calls")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + record + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "softhsm2-util"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, errs, code := quick(t, "-softhsm", "-data", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	wantSteps(t, out, `PKCS#11 token "quickstart"`)
	calls, err := os.ReadFile(record)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if strings.Contains(string(calls), "pin") {
		t.Fatalf("softhsm2-util was given PINs on its command line:\n%s", calls)
	}
}

// The user and SO PINs are drawn separately: 128 random bits each, neither a prefix of the
// other (before, the SO PIN was the first half of the user PIN).
func TestSecurity11PINsUnrelated(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		user, so, err := newPINs()
		if err != nil {
			t.Fatal(err)
		}
		if len(user) != 32 || len(so) != 32 {
			t.Fatalf("PIN lengths %d and %d, want 32 hex digits (128 bits)", len(user), len(so))
		}
		if strings.HasPrefix(user, so[:8]) || strings.HasPrefix(so, user[:8]) || strings.Contains(user, so[:8]) {
			t.Fatal("the SO PIN and the user PIN share a prefix")
		}
		if seen[user] || seen[so] {
			t.Fatal("a PIN repeats")
		}
		seen[user], seen[so] = true, true
	}
}
