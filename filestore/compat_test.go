package filestore

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
)

// TestNoMACNeedsAllowNoMAC: a PKCS#12 file without a MAC (openssl pkcs12 -nomac) is refused
// with an error naming Config.AllowNoMAC; with it the file opens, and a wrong password still
// fails with ErrWrongPIN when the key is decrypted.
func TestNoMACNeedsAllowNoMAC(t *testing.T) {
	ctx := context.Background()
	path := "testdata/corpus/files/ossl-nomac.p12"
	_, err := Open(ctx, path, Config{Password: "changeit"})
	if err == nil || !strings.Contains(err.Error(), "Config.AllowNoMAC") {
		t.Fatalf("without AllowNoMAC: %v, want an error naming Config.AllowNoMAC", err)
	}
	s, err := Open(ctx, path, Config{Password: "changeit", AllowNoMAC: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Entry(ctx, "rsa-key"); err != nil {
		t.Fatal(err)
	}
	// Nothing checks the password before a key is decrypted (the certificates of this file
	// are not encrypted): the key then fails with ErrWrongPIN.
	w, err := Open(ctx, path, Config{Password: "wrong", AllowNoMAC: true})
	if err == nil {
		_, err = w.Entry(ctx, "rsa-key")
		w.Close()
	}
	if !errors.Is(err, secrets.ErrWrongPIN) {
		t.Fatalf("wrong password with AllowNoMAC: %v, want ErrWrongPIN", err)
	}
	// The empty password gets no special treatment any more: still AllowNoMAC.
	if _, err := Open(ctx, "testdata/corpus/files/ossl-empty-pass-nomac.p12", Config{}); err == nil || !strings.Contains(err.Error(), "AllowNoMAC") {
		t.Fatalf("empty password, no MAC: %v", err)
	}
}

// TestPBMAC1RFC9579 reads the PKCS#12 files of RFC 9579 Appendix A (PBMAC1, password
// "1234"): A.1 opens and its key and certificate are served; A.2 (HMAC-SHA-256, PRF
// HMAC-SHA-512) and A.3 (HMAC-SHA-512 and PRF) open and serve the same key and certificate;
// a wrong password fails all three with ErrWrongPIN; A.4 (wrong iteration count) and A.5 (wrong salt) do not verify; A.6 (no PBKDF2
// key length, the short-key bypass) is refused under the right and a wrong password alike.
func TestPBMAC1RFC9579(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := func(section string) string {
		der, err := base64.StdEncoding.DecodeString(rfc9579(section))
		if err != nil {
			t.Fatalf("%s: %v", section, err)
		}
		p := filepath.Join(dir, strings.ReplaceAll(section, ".", "")+".p12")
		if err := os.WriteFile(p, der, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func(section string) secrets.KeyMaterial {
		s, err := Open(ctx, file(section), Config{Password: "1234"})
		if err != nil {
			t.Fatalf("%s: %v", section, err)
		}
		defer s.Close()
		aliases, _ := s.Aliases(ctx)
		if len(aliases) != 1 {
			t.Fatalf("%s: aliases %q, want one key entry", section, aliases)
		}
		km, err := s.KeyMaterial(ctx, aliases[0])
		if err != nil || !km.Kind.Private() || len(km.Chain) != 1 {
			t.Fatalf("%s: %v %v chain %d", section, err, km.Kind, len(km.Chain))
		}
		return km
	}
	a1 := key("A.1")
	for _, sec := range []string{"A.2", "A.3"} {
		km := key(sec)
		if priv, ok := km.Private.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !priv.Equal(a1.Private) {
			t.Errorf("%s: the private key is not A.1's", sec)
		}
		if !bytes.Equal(km.Chain[0].Raw, a1.Chain[0].Raw) {
			t.Errorf("%s: the certificate is not A.1's", sec)
		}
	}
	for _, sec := range []string{"A.1", "A.2", "A.3"} {
		if _, err := Open(ctx, file(sec), Config{Password: "12345"}); !errors.Is(err, secrets.ErrWrongPIN) || !strings.Contains(err.Error(), "PBMAC1") {
			t.Errorf("%s, wrong password: %v, want ErrWrongPIN naming PBMAC1", sec, err)
		}
	}
	for _, sec := range []string{"A.4", "A.5"} {
		if _, err := Open(ctx, file(sec), Config{Password: "1234"}); !errors.Is(err, secrets.ErrWrongPIN) {
			t.Errorf("%s: %v, want the MAC not to verify", sec, err)
		}
	}
	for _, pw := range []string{"1234", "wrong"} {
		_, err := Open(ctx, file("A.6"), Config{Password: pw})
		if err == nil || !strings.Contains(err.Error(), "key length") {
			t.Errorf("A.6 under %q: %v, want a refusal naming the missing key length", pw, err)
		}
	}
}

// TestForeignFormatsNamed: Bouncy Castle keystores and PEM files are named in the error,
// with the command that converts them.
func TestForeignFormatsNamed(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "key.pem")
	os.WriteFile(pem, []byte("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"), 0o600)
	for path, want := range map[string]string{
		"testdata/corpus/files/bc.bks":   "Bouncy Castle BKS",
		"testdata/corpus/files/bc.uber":  "Bouncy Castle UBER",
		"testdata/corpus/files/bc.bcfks": "Bouncy Castle BCFKS",
		pem:                              "PEM file",
	} {
		_, err := Open(context.Background(), path, Config{Password: "changeit"})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "keytool -importkeystore") {
			t.Errorf("%s: %v, want an error naming %q and keytool -importkeystore", filepath.Base(path), err, want)
		}
	}
}

// TestPerEntryIsolationMessages: a DSA key entry serves its certificate and public key and
// refuses to sign (ErrUnsupported); an entry Go cannot use fails alone with an error naming
// the algorithm or curve and never blaming the password.
func TestPerEntryIsolationMessages(t *testing.T) {
	ctx := context.Background()
	for _, f := range []string{"keytool-dsa-k1.jks", "keytool-dsa-k1.jceks", "keytool-dsa-k1.p12", "pyjks-dsa.jks", "ossl-dsa.p12"} {
		s, err := Open(ctx, "testdata/corpus/files/"+f, Config{Password: "changeit"})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		checkDSAEntry(t, s, "dsa")
		if _, err := s.KeyMaterial(ctx, "dsa"); !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "DSA") {
			t.Errorf("%s: KeyMaterial of a DSA key: %v, want ErrUnsupported naming DSA", f, err)
		}
		s.Close()
	}
	for _, c := range []struct{ file, alias, want string }{
		{"keytool-dsa-k1.jceks", "k1-trusted", "secp256k1"},
		{"keytool-trust-b193.p12", "b193", "sect193r1"},
		{"ossl-secp256k1.p12", "k1", "secp256k1"},
	} {
		s, err := Open(ctx, "testdata/corpus/files/"+c.file, Config{Password: "changeit"})
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		_, err = s.Entry(ctx, c.alias)
		var ke *secrets.KeyError
		if !errors.As(err, &ke) || !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), c.want) ||
			strings.Contains(err.Error(), "password") {
			t.Errorf("%s %s: %v, want a KeyError wrapping ErrUnsupported naming %s, not the password", c.file, c.alias, err, c.want)
		}
		s.Close()
	}
}

// TestUnparsedCertificateCopiedOnWrite: a certificate Go cannot parse (sect193r1) survives a
// write byte for byte, its entry still failing alone (and TestMain has Java load the result).
func TestUnparsedCertificateCopiedOnWrite(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile("testdata/corpus/files/keytool-dsa-k1.p12")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ks.p12")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, Config{Password: "changeit"})
	if err != nil {
		t.Fatal(err)
	}
	before := s.st
	if _, err := s.Generate(ctx, "new-aes", secrets.KeySpec{Kind: secrets.KindAES}, false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path, Config{Password: "changeit"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, a := range []string{"k1-trusted", "dsa"} {
		_, old := before.lookup(a)
		_, now := s.st.lookup(a)
		if now == nil {
			t.Fatalf("%s gone after the write", a)
		}
		if a == "dsa" {
			checkDSAEntry(t, s, a)
		} else if _, err := s.Entry(ctx, a); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s after the write: %v, want ErrUnsupported", a, err)
		}
		if !bytes.Equal(old.d.Material.Chain[0].Raw, now.d.Material.Chain[0].Raw) {
			t.Errorf("%s: certificate changed on write", a)
		}
	}
	for _, a := range []string{"rsa", "ec", "ca-trusted", "new-aes"} {
		if _, err := s.Entry(ctx, a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
}
