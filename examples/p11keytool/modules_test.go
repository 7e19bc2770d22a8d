//go:build cgo

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
)

// moduleConfig writes a SunPKCS11 configuration for tok with PingIDM's secret-key template.
func moduleConfig(t *testing.T, tok *p11test.Token) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name = %s\nlibrary = %s\nslot = %d\n", strings.ReplaceAll(tok.Module.Name, "-", ""), tok.Module.Path, tok.SlotID)
	if tok.Module.InitArgs != "" {
		fmt.Fprintf(&b, "nssArgs = %q\n", tok.Module.InitArgs)
	}
	b.WriteString("attributes(*, CKO_SECRET_KEY, *) = {\n  CKA_EXTRACTABLE = true\n  CKA_SENSITIVE = false\n}\n")
	p := filepath.Join(t.TempDir(), "p.cfg")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestIDMDefaultsModules: idm-defaults makes IDM's five entries on opencryptoki (as on
// SoftHSM, TestIDMDefaults); on tpm2-pkcs11 (no C_GenerateKey) and NSS softokn (secret keys
// always sensitive, so IDM could not export the two it must) it fails before writing
// anything — no object on the token, no file — naming what the token lacks.
func TestIDMDefaultsModules(t *testing.T) {
	for _, tc := range []struct {
		module string
		tok    func(t testing.TB) *p11test.Token
		want   string // "" = success; else in the error
	}{
		{p11test.OpenCryptoki, p11test.OpenCryptokiToken, ""},
		{p11test.TPM2, func(t testing.TB) *p11test.Token { return p11test.NewTPM2Token(t, "idm") }, "C_GenerateKey CKM_GENERIC_SECRET_KEY_GEN"},
		{p11test.NSS, p11test.NSSToken, "cannot make extractable secret keys"},
	} {
		t.Run(tc.module, func(t *testing.T) {
			tok := tc.tok(t)
			t.Setenv("P11KEYTOOL_TEST_PIN", tok.PIN)
			conf := moduleConfig(t, tok)
			out := filepath.Join(t.TempDir(), "idm-hsm")
			stdout, stderr, code := p11(t, "idm-defaults", "-out", out, "-providerArg", conf, "-pin-env", "P11KEYTOOL_TEST_PIN")
			if tc.want == "" {
				if code != 0 {
					t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
				}
				listing := mustRun(t, "list", "-providerArg", conf, "-pin-env", "P11KEYTOOL_TEST_PIN")
				if !strings.Contains(listing, "Your keystore contains 5 entries") {
					t.Fatalf("list:\n%s", listing)
				}
				return
			}
			if code != 1 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "nothing was written") {
				t.Fatalf("exit %d, want 1 and an error naming %q:\n%s\n%s", code, tc.want, stdout, stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s was created: %v", out, err)
			}
			st, err := hsmstore.Open(context.Background(), hsmstore.Config{Library: tok.Module.Path, InitArgs: tok.Module.InitArgs, TokenLabel: tok.Label, PIN: tok.PIN})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if al, err := st.Aliases(context.Background()); err != nil || len(al) != 0 {
				t.Errorf("the token holds %v (%v) after a refused idm-defaults", al, err)
			}
		})
	}
}
