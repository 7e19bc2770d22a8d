//go:build cgo

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/clilog"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// TestHTTPOnHSM runs the server with -pkcs11 on a SoftHSM token holding IDM's two session
// keys, the HMAC key not extractable (the server MACs inside the token).
func TestHTTPOnHSM(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "websession")
	conf := tok.WriteSunPKCS11Config(t, "softHSM")
	st, err := hsmstore.OpenSunPKCS11(ctx, conf, tok.PIN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Generate(ctx, "openidm-jwtsessionhmac-key", secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Generate(ctx, "openidm-localhost", secrets.KeySpec{Kind: secrets.KindRSA}, false); err != nil {
		t.Fatal(err)
	}
	st.Close()
	t.Setenv("WEBSESSION_TEST_PIN", tok.PIN)
	base, out := start(t, "-pkcs11", conf, "-pin-env", "WEBSESSION_TEST_PIN")
	if !strings.Contains(out.String(), "keys from the PKCS#11 token") {
		t.Fatalf("output: %s", out)
	}
	session(t, base)
}

// TestLogLinesOnlyWithV: the library's informational log lines ("hsmstore: logged in") are
// printed only with -v.
func TestLogLinesOnlyWithV(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "wslog")
	conf := tok.WriteSunPKCS11Config(t, "softHSM")
	st, err := hsmstore.OpenSunPKCS11(ctx, conf, tok.PIN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Generate(ctx, "openidm-jwtsessionhmac-key", secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Extractable: true}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Generate(ctx, "openidm-localhost", secrets.KeySpec{Kind: secrets.KindRSA}, false); err != nil {
		t.Fatal(err)
	}
	st.Close()
	t.Setenv("WEBSESSION_TEST_PIN", tok.PIN)
	logs := clilog.Capture(t)
	t.Run("quiet", func(t *testing.T) {
		start(t, "-pkcs11", conf, "-pin-env", "WEBSESSION_TEST_PIN")
	})
	if s := logs.String(); strings.Contains(s, "hsmstore: logged in") {
		t.Errorf("websession without -v printed the library's log lines:\n%s", s)
	}
	t.Run("verbose", func(t *testing.T) {
		start(t, "-pkcs11", conf, "-pin-env", "WEBSESSION_TEST_PIN", "-v")
	})
	if s := logs.String(); !strings.Contains(s, "INFO hsmstore: logged in token=wslog") {
		t.Errorf("websession -v did not print the library's log lines:\n%q", s)
	}
}
