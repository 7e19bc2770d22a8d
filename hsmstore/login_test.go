//go:build cgo

package hsmstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// requireSpy returns OpenSC's pkcs11-spy.so, or ends the test through testenv.Missing.
func requireSpy(t *testing.T) string {
	t.Helper()
	spy := spyModule()
	if spy == "" {
		testenv.Missing(t, testenv.OpenSC, "OpenSC's pkcs11-spy.so not installed (package opensc-pkcs11)")
	}
	return spy
}

// spyModule returns OpenSC's pkcs11-spy, a real PKCS#11 module that logs every call to the
// module it wraps (not a mock: the calls reach SoftHSM), or "".
func spyModule() string {
	for _, p := range []string{
		"/usr/lib/x86_64-linux-gnu/pkcs11-spy.so", "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so",
		"/usr/lib/aarch64-linux-gnu/pkcs11-spy.so", "/usr/lib64/pkcs11-spy.so", "/usr/lib/pkcs11-spy.so",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

var loginRE = regexp.MustCompile(`(?m)C_Login\b`)

// TestWrongPINLoginCount counts C_Login calls through pkcs11-spy: a wrong PIN on the first
// open costs exactly one C_Login; a second open with another PIN while the token is open costs
// none (crypto11 alone would swallow CKR_USER_ALREADY_LOGGED_IN and succeed).
func TestWrongPINLoginCount(t *testing.T) {
	spy := requireSpy(t)
	tok := softhsmtest.New(t, "spy")
	log := filepath.Join(t.TempDir(), "spy.log")
	t.Setenv("PKCS11SPY", tok.Module)
	t.Setenv("PKCS11SPY_OUTPUT", log)
	logins := func() int {
		b, _ := os.ReadFile(log)
		return len(loginRE.FindAll(b, -1))
	}
	ctx := context.Background()
	cfg := hsmstore.Config{Library: spy, TokenLabel: tok.Label, PIN: "4321"}
	if _, err := hsmstore.Open(ctx, cfg); !errors.Is(err, secrets.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if n := logins(); n != 1 {
		t.Fatalf("%d C_Login calls for one open with a wrong PIN, want 1", n)
	}
	cfg.PIN = tok.PIN
	s, err := hsmstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := logins()
	cfg.PIN = "4321"
	if _, err := hsmstore.Open(ctx, cfg); !errors.Is(err, secrets.ErrWrongPIN) {
		t.Fatalf("second open with another PIN: %v", err)
	}
	if n := logins(); n != before {
		t.Fatalf("the second open with another PIN called C_Login (%d -> %d)", before, n)
	}
	cfg.PIN = tok.PIN
	s2, err := hsmstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if n := logins(); n != before {
		t.Fatalf("a shared open called C_Login (%d -> %d)", before, n)
	}
}
