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
	e, err := s.Generate(ctx, "no-subject", secrets.KeySpec{Kind: secrets.KindEC})
	if err != nil {
		t.Fatal(err)
	}
	c := e.Chain()[0]
	if c.Subject.CommonName != "no-subject" || c.Issuer.CommonName != "no-subject" {
		t.Errorf("subject %q issuer %q, want CN=no-subject", c.Subject, c.Issuer)
	}
}

// TestImportRefusesCertificatesJavaRejects: a certificate with an empty issuer DN (what
// secrets.SelfSignedCertificate makes from an empty KeySpec) is refused on import, naming
// the problem; nothing is written.
func TestImportRefusesCertificatesJavaRejects(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ks.p12")
	s, err := Open(ctx, path, Config{Password: "changeit", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, err := secrets.SelfSignedCertificate(k, secrets.KeySpec{Kind: secrets.KindEC})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Import(ctx, "empty-dn", secrets.KeyMaterial{Kind: secrets.KindEC, Private: k, Chain: []*x509.Certificate{c}}, false)
	var ke *secrets.KeyError
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), "empty issuer DN") {
		t.Fatalf("Import: %v, want a KeyError naming the empty issuer DN", err)
	}
	_, err = s.Import(ctx, "empty-dn", secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{c}}, false)
	if !errors.As(err, &ke) {
		t.Fatalf("Import trusted: %v, want a KeyError", err)
	}
	if a, _ := s.Aliases(ctx); len(a) != 0 {
		t.Errorf("aliases %q after refused imports", a)
	}
}
