package jsoncrypto

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

func TestMain(m *testing.M) { softhsmtest.Main(m) }

// roundTrips encrypts and decrypts with both schemes and checks a rotation over st.
func roundTrips(t *testing.T, st secrets.Store, simpleAlias, gcmAlias, newAlias string) {
	t.Helper()
	ctx := context.Background()
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		mapping(idConfig, simpleAlias), mapping("gcm", gcmAlias)}, secrets.ProviderOptions{})

	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, tc := range []struct {
		id string
		o  *Options
	}{{idConfig, nil}, {idConfig, &Options{Format: Format2016, DefaultSecretID: idConfig}}, {"gcm", &Options{Scheme: SchemeGCM}}} {
		c := codec(t, p, tc.o)
		v, err := c.Encrypt(ctx, tc.id, map[string]any{"password": "Passw0rd"})
		if err != nil {
			t.Fatalf("%s %+v: %v", st.Name(), tc.o, err)
		}
		got, err := c.Decrypt(ctx, v)
		if err != nil || string(got) != `{"password":"Passw0rd"}` {
			t.Fatalf("%s %+v: %s %v", st.Name(), tc.o, got, err)
		}
		if _, err := c.Decrypt(ctx, flip(t, v, "data", 5)); !errors.Is(err, secrets.ErrVerification) {
			t.Fatalf("%s: tampered: %v", st.Name(), err)
		}
	}
	// Rotation: made under the old alias, decrypted with the mapping [new, old]; new data
	// uses new; Reencrypt moves the document to new.
	old, err := Encrypt(ctx, mustProvider(t, st, mapping(idConfig, simpleAlias)), idConfig, "old")
	if err != nil {
		t.Fatal(err)
	}
	rotated := codec(t, mustProvider(t, st, mapping(idConfig, newAlias, simpleAlias)), nil)
	if got, err := rotated.DecryptString(ctx, old); err != nil || got != "old" {
		t.Fatalf("%s: old data with [new, old]: %q %v", st.Name(), got, err)
	}
	if fresh, _ := rotated.Encrypt(ctx, idConfig, "new"); mustInspect(t, fresh).Alias != newAlias {
		t.Fatalf("%s: new data does not use %s", st.Name(), newAlias)
	}
	doc := []byte(`{"a":` + string(old) + `}`)
	re, changes, err := rotated.Reencrypt(ctx, doc)
	if err != nil || len(changes) != 1 || CheckRetire(simpleAlias, map[string][]byte{"doc": re}) != nil {
		t.Fatalf("%s: Reencrypt: %v %+v", st.Name(), err, changes)
	}
}

func mustProvider(t *testing.T, st secrets.Store, m ...secrets.Mapping) *secrets.Provider {
	p, err := secrets.NewProvider([]secrets.Store{st}, m, secrets.ProviderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func mustInspect(t *testing.T, v []byte) Info {
	info, err := Inspect(v)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestFilestore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keystore.p12")
	st, err := filestore.Open(ctx, path, filestore.Config{Password: "changeit", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Import(ctx, aliasA, secrets.KeyMaterial{Kind: secrets.KindAES, Secret: keyA, Algorithm: "AES", Extractable: true}, false); err != nil {
		t.Fatal(err)
	}
	for alias, spec := range map[string]secrets.KeySpec{
		"aes-gcm": {Kind: secrets.KindAES, Bits: 256}, aliasB: {Kind: secrets.KindAES, Bits: 128}} {
		if _, err := st.Generate(ctx, alias, spec, false); err != nil {
			t.Fatal(err)
		}
	}
	roundTrips(t, st, aliasA, "aes-gcm", aliasB)

	// A value made now decrypts after the keystore is reopened from disk.
	p := mustProvider(t, st, mapping(idConfig, aliasA))
	v, err := Encrypt(ctx, p, idConfig, "persisted")
	if err != nil {
		t.Fatal(err)
	}
	st2, err := filestore.Open(ctx, path, filestore.Config{Password: "changeit"})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	c := codec(t, mustProvider(t, st2, mapping(idConfig, aliasA)), nil)
	if got, err := c.DecryptString(ctx, v); err != nil || got != "persisted" {
		t.Fatalf("after reopening: %q %v", got, err)
	}
}

func TestHSMStore(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "jsoncrypto")
	st, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for alias, spec := range map[string]secrets.KeySpec{
		// The $crypto key: a generic secret, extractable, as IDM needs it.
		aliasA: {Kind: secrets.KindSecret, Bits: 256, Extractable: true},
		aliasB: {Kind: secrets.KindSecret, Bits: 256, Extractable: true},
		// The GCM key never leaves the token.
		"aes-gcm":  {Kind: secrets.KindAES, Bits: 256},
		"locked":   {Kind: secrets.KindSecret, Bits: 256},
		"aes-only": {Kind: secrets.KindAES, Bits: 256},
	} {
		if _, err := st.Generate(ctx, alias, spec, false); err != nil {
			t.Fatal(alias, err)
		}
	}
	roundTrips(t, st, aliasA, "aes-gcm", aliasB)

	p := mustProvider(t, st, mapping("locked", "locked"), mapping("gcm-on-secret", aliasA))
	if _, err := Encrypt(ctx, p, "locked", "x"); !errors.Is(err, secrets.ErrNotExtractable) {
		t.Errorf("x-simple-encryption with a non-extractable key: %v", err)
	}
	if _, err := codec(t, p, &Options{Scheme: SchemeGCM}).Encrypt(ctx, "gcm-on-secret", "x"); !errors.Is(err, secrets.ErrWrongKind) {
		t.Errorf("GCM with a generic secret: %v", err)
	}
}
