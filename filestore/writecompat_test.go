package filestore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// TestGenerateEmptySubjectDefaultsToAlias: a key pair generated without a subject gets
// CN=<alias> (an empty DN makes JDK 17 refuse the whole keystore; TestMain has Java load the
// file written here).
func TestGenerateEmptySubjectDefaultsToAlias(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "ks.p12"), Config{Password: "changeit", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := s.Generate(ctx, "no-subject", secrets.KeySpec{Kind: secrets.KindEC}, false)
	if err != nil {
		t.Fatal(err)
	}
	c := e.Chain()[0]
	if c.Subject.CommonName != "no-subject" || c.Issuer.CommonName != "no-subject" {
		t.Errorf("subject %q issuer %q, want CN=no-subject", c.Subject, c.Issuer)
	}
}

// TestImportRefusesCertificatesJavaRejects: a key pair whose self-signed certificate has an
// empty name (what storekit.GenerateKeyMaterial makes from a KeySpec without Subject) is
// imported with its certificate issued again as CN=<alias>; a trusted certificate with an
// empty issuer DN is refused, naming the problem, and nothing is written. (TestMain has Java
// load the file.)
func TestImportRefusesCertificatesJavaRejects(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ks.p12")
	s, err := Open(ctx, path, Config{Password: "changeit", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, err := storekit.SelfSignedCertificate(k, secrets.KeySpec{Kind: secrets.KindEC})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Import(ctx, "empty-dn", secrets.KeyMaterial{Kind: secrets.KindEC, Private: k, Chain: []*x509.Certificate{c}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Chain()[0]; got.Subject.CommonName != "empty-dn" || got.Issuer.CommonName != "empty-dn" || !k.PublicKey.Equal(got.PublicKey) {
		t.Errorf("imported certificate %q issued by %q, want CN=empty-dn for the same key", got.Subject, got.Issuer)
	}
	_, err = s.Import(ctx, "empty-trusted", secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{c}}, false)
	var ke *secrets.KeyError
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), "empty issuer DN") {
		t.Fatalf("Import trusted: %v, want a KeyError naming the empty issuer DN", err)
	}
	// A key pair whose empty-DN certificate is not its own self-signed one is refused too.
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err = s.Import(ctx, "other-key", secrets.KeyMaterial{Kind: secrets.KindEC, Private: k2, Chain: []*x509.Certificate{c}}, false)
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), "empty issuer DN") {
		t.Fatalf("Import with another key's empty-DN certificate: %v", err)
	}
	if a, _ := s.Aliases(ctx); len(a) != 1 {
		t.Errorf("aliases %q, want only empty-dn", a)
	}
}
