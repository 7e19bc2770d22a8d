//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// c11HMAC computes HMAC-SHA256 of msg with the crypto11 key labelled alias.
func c11HMAC(t *testing.T, c *crypto11.Context, alias string, msg []byte) []byte {
	t.Helper()
	keys, err := c.FindKeys(nil, []byte(alias))
	if err != nil || len(keys) != 1 {
		t.Fatalf("crypto11 FindKeys %s: %d keys, %v", alias, len(keys), err)
	}
	h, err := keys[0].NewHMAC(pkcs11.CKM_SHA256_HMAC, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(msg)
	return h.Sum(nil)
}

// moduleFinalised reports whether the library is not initialised in this process: a fresh
// C_Initialize succeeds (and is undone).
func moduleFinalised(t *testing.T, lib string) bool {
	t.Helper()
	p := pkcs11.New(lib)
	defer p.Destroy()
	err := p.Initialize()
	if err == nil {
		p.Finalize()
		return true
	}
	if !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	return false
}

func storeMAC(t *testing.T, s *hsmstore.Store, alias string, msg []byte) []byte {
	t.Helper()
	tag, err := secretOf(t, s, alias).MAC(context.Background(), crypto.SHA256, msg)
	if err != nil {
		t.Fatalf("hsmstore MAC: %v", err)
	}
	return tag
}

// TestCrypto11First: crypto11 configured first owns the module's initialisation. hsmstore
// opens the same token on it (CKR_CRYPTOKI_ALREADY_INITIALIZED is not an error), both compute
// the same HMAC, and closing the store leaves the module initialised for crypto11. When
// crypto11 then closes (and finalises the module under the open store), the store's next
// call recovers: it initialises the module itself, logs in again, and owns the module from
// then on (its Close finalises it).
func TestCrypto11First(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "c11first")
	msg := []byte("coexistence")
	c11, err := crypto11.Configure(&crypto11.Config{Path: tok.Module, TokenLabel: tok.Label, Pin: tok.PIN, MaxSessions: 4})
	if err != nil {
		t.Fatal(err)
	}
	c11Closed := false
	defer func() {
		if !c11Closed {
			c11.Close()
		}
	}()
	s, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if err != nil {
		t.Fatalf("hsmstore after crypto11: %v", err)
	}
	first := s
	defer first.Close()
	gen(t, s, "hmac", secrets.KeySpec{Kind: secrets.KindSecret, Extractable: true})
	want := storeMAC(t, s, "hmac", msg)
	if got := c11HMAC(t, c11, "hmac", msg); !hmac.Equal(got, want) {
		t.Fatal("crypto11 and hsmstore disagree")
	}
	key, _ := s.Entry(ctx, "hmac")
	raw, err := key.(secrets.EntryExporter).Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, raw)
	m.Write(msg)
	if !hmac.Equal(m.Sum(nil), want) {
		t.Fatal("hsmstore's HMAC differs from crypto/hmac's")
	}
	// Closing the store does not finalise a module crypto11 initialised.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c11HMAC(t, c11, "hmac", msg); !hmac.Equal(got, want) {
		t.Fatal("crypto11 broken after the store closed")
	}
	// crypto11 closes (its last Close finalises the module) under an open store.
	s, err = hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := c11.Close(); err != nil {
		t.Fatal(err)
	}
	c11Closed = true
	if !moduleFinalised(t, tok.Module) {
		t.Fatal("crypto11's Close did not finalise the module: the test shows nothing")
	}
	if got := storeMAC(t, s, "hmac", msg); !hmac.Equal(got, want) {
		t.Fatal("wrong HMAC after recovery")
	}
	if st := s.Stats(); st.Recoveries == 0 || st.Reinits == 0 {
		t.Errorf("no recovery counted: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !moduleFinalised(t, tok.Module) {
		t.Fatal("the store initialised the module in recovery but did not finalise it on Close")
	}
}

// TestCrypto11AfterHsmstore: hsmstore opened first initialises the module; crypto11 then
// refuses it with its own error (crypto11 v1.6.2 initialises the module itself and fails on
// CKR_CRYPTOKI_ALREADY_INITIALIZED), and the store keeps working.
func TestCrypto11AfterHsmstore(t *testing.T) {
	tok := softhsmtest.New(t, "c11after")
	s := open(t, tok)
	gen(t, s, "hmac", secrets.KeySpec{Kind: secrets.KindSecret})
	c11, err := crypto11.Configure(&crypto11.Config{Path: tok.Module, TokenLabel: tok.Label, Pin: tok.PIN, MaxSessions: 4})
	if err == nil {
		c11.Close()
		t.Fatal("crypto11 configured on a module hsmstore initialised")
	}
	if !strings.Contains(err.Error(), "CKR_CRYPTOKI_ALREADY_INITIALIZED") {
		t.Fatalf("crypto11's error: %v, want CKR_CRYPTOKI_ALREADY_INITIALIZED", err)
	}
	storeMAC(t, s, "hmac", []byte("still works"))
	if st := s.Stats(); st.Faults != 0 {
		t.Errorf("crypto11's failed Configure caused %d faults", st.Faults)
	}
}
