package filestore

import (
	"bytes"
	"context"
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

// TestPBMAC1Named: a file whose MAC is PBMAC1 (RFC 9579) is refused with an error that says
// PBMAC1 and wraps errors.ErrUnsupported, not "digest 1.2.840.113549.1.5.14".
func TestPBMAC1Named(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus/files/ossl-default.p12")
	if err != nil {
		t.Fatal(err)
	}
	sha256OID := []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}
	pbmac1OID := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0e}
	i := bytes.LastIndex(data, sha256OID)
	if i < 0 {
		t.Fatal("no SHA-256 MAC OID")
	}
	copy(data[i:], pbmac1OID)
	path := filepath.Join(t.TempDir(), "pbmac1.p12")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), path, Config{Password: "changeit"})
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "PBMAC1") {
		t.Fatalf("%v, want ErrUnsupported naming PBMAC1", err)
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

// TestPerEntryIsolationMessages: an entry that cannot be served fails alone with an error
// naming the algorithm or curve and never blaming the password.
func TestPerEntryIsolationMessages(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ file, alias, want string }{
		{"keytool-dsa-k1.jks", "dsa", "DSA"},
		{"keytool-dsa-k1.jceks", "k1-trusted", "secp256k1"},
		{"keytool-dsa-k1.p12", "dsa", "DSA"},
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
	if _, err := s.Generate(ctx, "new-aes", secrets.KeySpec{Kind: secrets.KindAES}); err != nil {
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
		if _, err := s.Entry(ctx, a); !errors.Is(err, errors.ErrUnsupported) {
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
