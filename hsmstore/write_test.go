//go:build cgo

package hsmstore_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
)

// objects lists (class, CKA_LABEL, CKA_ID) of every token object, through the injector's
// handle on the store's module (logged in while the store is).
func (in *injector) objects(t *testing.T) [][3]string {
	t.Helper()
	sh, err := in.p.OpenSession(in.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer in.p.CloseSession(sh)
	if err := in.p.FindObjectsInit(sh, nil); err != nil {
		t.Fatal(err)
	}
	hs, _, err := in.p.FindObjects(sh, 1000)
	in.p.FindObjectsFinal(sh)
	if err != nil {
		t.Fatal(err)
	}
	var out [][3]string
	for _, h := range hs {
		at, err := in.p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
		if err != nil {
			t.Fatal(err)
		}
		cls := map[uint]string{pkcs11.CKO_SECRET_KEY: "secret", pkcs11.CKO_PRIVATE_KEY: "private", pkcs11.CKO_PUBLIC_KEY: "public", pkcs11.CKO_CERTIFICATE: "cert"}[bytesUlong(at[0].Value)]
		out = append(out, [3]string{cls, string(at[1].Value), string(at[2].Value)})
	}
	return out
}

func bytesUlong(b []byte) uint {
	var v uint
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint(b[i])
	}
	return v
}

// named returns the objects whose label or ID is alias, and fails on any temporary one.
func named(t *testing.T, in *injector, alias string) [][3]string {
	t.Helper()
	var out [][3]string
	for _, o := range in.objects(t) {
		if strings.HasPrefix(o[1], hsmstore.TempPrefix) || strings.HasPrefix(o[2], hsmstore.TempPrefix) {
			t.Errorf("a temporary object is left: %q", o)
		}
		if o[1] == alias || o[2] == alias {
			out = append(out, o)
		}
	}
	return out
}

// lostReply makes the first write call named call do its work and then look as if its
// reply were lost: another component closes every session (C_CloseAllSessions) right after
// it, and the caller sees CKR_SESSION_HANDLE_INVALID.
func lostReply(in *injector, call string) (restore func()) {
	done := false
	return hsmstore.SetWriteHook(func(c string, err error) error {
		if c != call || done || err != nil {
			return err
		}
		done = true
		in.CloseAll()
		return pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)
	})
}

// TestWriteNotRetried: a write whose reply is lost (the object is on the token, the caller
// sees a dead session) is not run again after the recovery: before, Import and Generate
// wrote a second object under the alias (two keys named alias) and Delete answered "not
// found" for the key its first try had deleted. Now a failed create removes what it wrote
// (nothing stored; the error wraps ErrUnavailable) and a failed delete says it may or may
// not have happened.
func TestWriteNotRetried(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "writes")
	s := open(t, tok)
	in := newInjector(t, tok.Module, tok.Label)
	key := make([]byte, 32)
	rand.Read(key)
	km := secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: key, Extractable: true}

	for _, tc := range []struct {
		name, call string
		do         func() error
	}{
		{"import secret", "C_CreateObject", func() error { _, err := s.Import(ctx, "k1", km, false); return err }},
		{"generate secret", "C_GenerateKey", func() error {
			_, err := s.Generate(ctx, "k2", secrets.KeySpec{Kind: secrets.KindAES}, false)
			return err
		}},
		{"generate RSA", "C_GenerateKeyPair", func() error {
			_, err := s.Generate(ctx, "k3", secrets.KeySpec{Kind: secrets.KindRSA}, false)
			return err
		}},
		{"generate EC: certificate", "C_CreateObject", func() error {
			_, err := s.Generate(ctx, "k4", secrets.KeySpec{Kind: secrets.KindEC}, false)
			return err
		}},
	} {
		alias := map[string]string{"import secret": "k1", "generate secret": "k2", "generate RSA": "k3", "generate EC: certificate": "k4"}[tc.name]
		restore := lostReply(in, tc.call)
		err := tc.do()
		restore()
		if !errors.Is(err, hsmstore.ErrUnavailable) || errors.Is(err, secrets.ErrExists) || !strings.Contains(err.Error(), "nothing was stored") {
			t.Errorf("%s with a lost reply: %v; want ErrUnavailable, nothing stored", tc.name, err)
		}
		if _, err := s.Entry(ctx, alias); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("%s: after the failed write Entry says %v; want not found", tc.name, err)
		}
		if objs := named(t, in, alias); len(objs) != 0 {
			t.Errorf("%s: objects left for %q: %q", tc.name, alias, objs)
		}
		if err := tc.do(); err != nil {
			t.Errorf("%s again: %v", tc.name, err)
		}
		if _, err := s.Entry(ctx, alias); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}

	// Delete: the key is gone, and the caller is told the delete may have happened, not
	// that there was nothing to delete.
	restore := lostReply(in, "C_DestroyObject")
	err := s.Delete(ctx, "k1")
	restore()
	if !errors.Is(err, hsmstore.ErrUnavailable) || errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "may or may not have happened") {
		t.Errorf("delete with a lost reply: %v; want ErrUnavailable saying it may have happened", err)
	}
	if _, err := s.Entry(ctx, "k1"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("after the delete: %v", err)
	}
	if st := s.Stats(); st.Recoveries == 0 {
		t.Errorf("no recovery: %s", statsLine(st))
	}
}

// TestOverwriteSafe: Import with overwrite makes the new entry before it deletes the old
// one. An import the token refuses (a template with an attribute SoftHSM does not know, for
// a secret key; for the certificate of a key pair, after its private key was written)
// leaves the old key working and nothing else behind; a successful overwrite leaves exactly
// one set of objects for the alias, whatever the kinds.
func TestOverwriteSafe(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "overwrite")
	s := open(t, tok)
	bad := pkcs11conf.Attribute{Type: pkcs11.CKA_VENDOR_DEFINED | 0x5151, Kind: pkcs11conf.Bytes, Bytes: []byte{1}}
	refuse := func(cls uint) *hsmstore.Store {
		st, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN,
			Templates: []pkcs11conf.AttributeRule{{Operation: pkcs11conf.OpImport, Class: cls, KeyType: pkcs11conf.Any, Attributes: []pkcs11conf.Attribute{bad}}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	in := newInjector(t, tok.Module, tok.Label)
	key := make([]byte, 32)
	rand.Read(key)
	if _, err := s.Import(ctx, "k", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: key, Extractable: true}, false); err != nil {
		t.Fatal(err)
	}
	sec := secretOf(t, s, "k")
	want, err := sec.MAC(ctx, crypto.SHA256, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	stillOld := func(what string) {
		t.Helper()
		got, err := secretOf(t, s, "k").MAC(ctx, crypto.SHA256, []byte("m"))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: the old key is gone or changed: %v", what, err)
		}
		if objs := named(t, in, "k"); len(objs) != 1 || objs[0][0] != "secret" {
			t.Fatalf("%s: objects for k: %q", what, objs)
		}
	}

	// A secret key the token refuses.
	key2 := make([]byte, 32)
	rand.Read(key2)
	if _, err := refuse(pkcs11.CKO_SECRET_KEY).Import(ctx, "k", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: key2}, true); err == nil {
		t.Fatal("the token took a template with an unknown attribute")
	}
	stillOld("refused secret key")

	// A key pair whose certificate the token refuses, after the private key was written.
	kmRSA := rsaMaterial(t)
	if _, err := refuse(pkcs11.CKO_CERTIFICATE).Import(ctx, "k", kmRSA, true); err == nil {
		t.Fatal("the token took a certificate template with an unknown attribute")
	}
	stillOld("refused certificate")

	// Successful overwrites: secret -> RSA pair -> secret -> generated EC pair.
	if _, err := s.Import(ctx, "k", kmRSA, true); err != nil {
		t.Fatal(err)
	}
	if objs := named(t, in, "k"); len(objs) != 2 {
		t.Fatalf("after overwriting with a key pair: %q", objs)
	}
	if e, err := s.Entry(ctx, "k"); err != nil || e.Kind() != secrets.KindRSA {
		t.Fatalf("after overwriting with a key pair: %v", err)
	}
	if _, err := s.Import(ctx, "k", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: key2, Extractable: true}, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := secretOf(t, s, "k").Export(ctx); !bytes.Equal(got, key2) {
		t.Fatal("the new secret key is not the one imported")
	}
	if objs := named(t, in, "k"); len(objs) != 1 {
		t.Fatalf("after overwriting with a secret key: %q", objs)
	}
	e, err := s.Generate(ctx, "k", secrets.KeySpec{Kind: secrets.KindEC}, true)
	if err != nil || e.Kind() != secrets.KindEC {
		t.Fatalf("generate over: %v", err)
	}
	if objs := named(t, in, "k"); len(objs) != 2 {
		t.Fatalf("after generating over: %q", objs)
	}
	if as, err := s.Aliases(ctx); err != nil || len(as) != 1 || as[0] != "k" {
		t.Fatalf("aliases: %v %v", as, err)
	}
	// The old Secret does not use the new key.
	if _, err := sec.MAC(ctx, crypto.SHA256, []byte("m")); err == nil {
		t.Error("a Secret of the replaced key still works")
	}
	if _, err := s.Generate(ctx, "k", secrets.KeySpec{Kind: secrets.KindEC}, false); !errors.Is(err, secrets.ErrExists) {
		t.Errorf("Generate over an alias in use: %v", err)
	}
}

// rsaMaterial returns a fresh RSA key with a self-signed certificate.
func rsaMaterial(t *testing.T) secrets.KeyMaterial {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "k"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return secrets.KeyMaterial{Kind: secrets.KindRSA, Private: k, Chain: []*x509.Certificate{cert}}
}
