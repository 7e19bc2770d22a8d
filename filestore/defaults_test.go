package filestore

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secretstores/secretstores/secrets"
)

func TestPopulateDefaults(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keystore.p12")
	s := storeOpen(t, path, Config{Password: "changeit", Create: true, Iterations: 1000})
	// One default exists already: it must be kept.
	keep := make([]byte, 16)
	keep[0] = 7
	if _, err := s.Import(ctx, AliasSymDefault, secrets.KeyMaterial{Kind: secrets.KindAES, Secret: keep}, false); err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_700_000_000_123)
	created, err := s.PopulateDefaults(ctx, DefaultsOptions{AESBits: 128, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(created, DefaultAliases[1:]) {
		t.Fatalf("created %v", created)
	}
	wantKinds := map[string]secrets.Kind{AliasSymDefault: secrets.KindAES, AliasSelfServiceKey: secrets.KindAES,
		AliasJWTSessionHMAC: secrets.KindSecret, AliasLocalhost: secrets.KindRSA, AliasSelfServiceCert: secrets.KindRSA}
	s2 := storeOpen(t, path, Config{Password: "changeit"})
	for alias, k := range wantKinds {
		e, err := s2.Entry(ctx, alias)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind() != k {
			t.Errorf("%s: kind %v", alias, e.Kind())
		}
		km := storeEntryMaterial(t, s2, alias)
		switch alias {
		case AliasSymDefault:
			if string(km.Secret) != string(keep) {
				t.Error("an existing default was replaced")
			}
		case AliasSelfServiceKey:
			if len(km.Secret) != 16 || km.Algorithm != "AES" {
				t.Errorf("%s: %d bytes %s", alias, len(km.Secret), km.Algorithm)
			}
		case AliasJWTSessionHMAC:
			if len(km.Secret) != 32 || km.Algorithm != "HmacSHA256" {
				t.Errorf("%s: %d bytes %s", alias, len(km.Secret), km.Algorithm)
			}
		default:
			c := e.Chain()[0]
			cn := map[string]string{AliasLocalhost: "CN=localhost,O=OpenIDM Self-Signed Certificate,OU=None,L=None,ST=None,C=None",
				AliasSelfServiceCert: "CN=selfservice,O=OpenIDM Self Service Certificate,OU=None,L=None,ST=None,C=None"}[alias]
			var subj, iss pkix.RDNSequence
			asn1.Unmarshal(c.RawSubject, &subj)
			asn1.Unmarshal(c.RawIssuer, &iss)
			if subj.String() != cn || iss.String() != cn {
				t.Errorf("%s: subject %q", alias, subj)
			}
			if c.SignatureAlgorithm != x509.SHA512WithRSA || c.SerialNumber.Int64() != now.UnixMilli() ||
				!c.NotBefore.Equal(now.Add(-30*24*time.Hour).Truncate(time.Second)) || !c.NotAfter.Equal(now.AddDate(10, 0, 0).Truncate(time.Second)) {
				t.Errorf("%s: cert %v serial %v %v..%v", alias, c.SignatureAlgorithm, c.SerialNumber, c.NotBefore, c.NotAfter)
			}
			if c.CheckSignatureFrom(c) != nil && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
				t.Errorf("%s: not self-signed", alias)
			}
			if e.Public().(interface{ Size() int }).Size() != 256 {
				t.Errorf("%s: not RSA 2048", alias)
			}
		}
	}
	// Nothing missing: nothing written, even on a read-only store.
	if created, err := s2.PopulateDefaults(ctx, DefaultsOptions{}); err != nil || created != nil {
		t.Fatal(created, err)
	}
	j := storeOpen(t, storeCopy(t, "keystore.jceks"), Config{Password: "changeit"})
	if created, err := j.PopulateDefaults(ctx, DefaultsOptions{}); err != nil || created != nil {
		t.Fatalf("JCEKS with every default: %v %v", created, err)
	}
	jks := storeOpen(t, storeCopy(t, "keystore.jks"), Config{Password: "changeit"})
	if _, err := jks.PopulateDefaults(ctx, DefaultsOptions{}); !errors.Is(err, secrets.ErrReadOnly) || !strings.Contains(err.Error(), "keytool -importkeystore") {
		t.Fatalf("JKS missing defaults: %v", err)
	}
}

func TestOpener(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data, _ := os.ReadFile("testdata/keystore.jceks")
	os.MkdirAll(filepath.Join(dir, "security"), 0o700)
	os.WriteFile(filepath.Join(dir, "security", "keystore.jceks"), data, 0o600)
	op := Openers(OpenerOptions{})[secrets.ClassKeyStore]
	sc := &secrets.StoreConfig{Name: "mainKeyStore", Class: secrets.ClassKeyStore, Dir: dir, PopulateDefaults: true,
		Settings: map[string]any{"file": "security/keystore.jceks", "storetype": "JCEKS", "providerName": "SunJCE", "storePassword": "changeit"}}
	s, err := op(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Name() != "mainKeyStore" {
		t.Error(s.Name())
	}
	if _, err := s.Entry(ctx, AliasJWTSessionHMAC); err != nil {
		t.Fatal(err)
	}
	// A new PKCS12 keystore with populateDefaults is created and filled.
	sc.Settings = map[string]any{"file": "security/new.p12", "storetype": "PKCS12", "storePassword": "changeit"}
	s2, err := op(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if a, _ := s2.Aliases(ctx); len(a) != 5 {
		t.Fatalf("aliases %v", a)
	}
	// A missing JCEKS is not created as PKCS#12.
	sc.Settings = map[string]any{"file": "security/missing.jceks", "storetype": "JCEKS", "storePassword": "changeit"}
	if _, err := op(ctx, sc); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing JCEKS: %v", err)
	}
	for settings, want := range map[string]map[string]any{
		"PKCS11":  {"file": "x", "storetype": "PKCS11"},
		"missing": {"storetype": "PKCS12"},
		"a bool":  {"file": true},
	} {
		sc.Settings = want
		if _, err := op(ctx, sc); err == nil {
			t.Errorf("%s: no error", settings)
		}
	}
}
