//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// rawCreate creates objects with miekg/pkcs11 on the (already opened and logged-in) token,
// the way other tools lay them out.
func rawCreate(t *testing.T, tok *softhsmtest.Token, objs ...[]*pkcs11.Attribute) {
	t.Helper()
	p := pkcs11.New(tok.Module)
	_ = p.Initialize() // already initialised by the open store
	defer p.Destroy()
	slots, _ := p.GetSlotList(true)
	var slot uint
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Label == tok.Label {
			slot = s
		}
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseSession(sh)
	for _, o := range objs {
		if _, err := p.CreateObject(sh, o); err != nil {
			t.Fatal(err)
		}
	}
}

func a(t uint, v any) *pkcs11.Attribute { return pkcs11.NewAttribute(t, v) }

func certFor(t *testing.T, pub crypto.PublicKey, signer crypto.Signer, cn string) *x509.Certificate {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func rsaPrivAttrs(k *rsa.PrivateKey) []*pkcs11.Attribute {
	k.Precompute()
	return []*pkcs11.Attribute{
		a(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA), a(pkcs11.CKA_TOKEN, true),
		a(pkcs11.CKA_PRIVATE, true), a(pkcs11.CKA_SIGN, true), a(pkcs11.CKA_DECRYPT, true),
		a(pkcs11.CKA_MODULUS, k.N.Bytes()), a(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)).Bytes()),
		a(pkcs11.CKA_PRIVATE_EXPONENT, k.D.Bytes()), a(pkcs11.CKA_PRIME_1, k.Primes[0].Bytes()), a(pkcs11.CKA_PRIME_2, k.Primes[1].Bytes()),
		a(pkcs11.CKA_EXPONENT_1, k.Precomputed.Dp.Bytes()), a(pkcs11.CKA_EXPONENT_2, k.Precomputed.Dq.Bytes()), a(pkcs11.CKA_COEFFICIENT, k.Precomputed.Qinv.Bytes()),
	}
}

func certAttrs(c *x509.Certificate, label, id string) []*pkcs11.Attribute {
	at := []*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE), a(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		a(pkcs11.CKA_TOKEN, true), a(pkcs11.CKA_VALUE, c.Raw), a(pkcs11.CKA_SUBJECT, c.RawSubject)}
	if label != "" {
		at = append(at, a(pkcs11.CKA_LABEL, label))
	}
	if id != "" {
		at = append(at, a(pkcs11.CKA_ID, []byte(id)))
	}
	return at
}

func secretAttrs(label, id string, value []byte) []*pkcs11.Attribute {
	at := []*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		a(pkcs11.CKA_TOKEN, true), a(pkcs11.CKA_SIGN, true), a(pkcs11.CKA_VERIFY, true), a(pkcs11.CKA_VALUE, value)}
	if label != "" {
		at = append(at, a(pkcs11.CKA_LABEL, label))
	}
	if id != "" {
		at = append(at, a(pkcs11.CKA_ID, []byte(id)))
	}
	return at
}

func TestOtherLayouts(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "layout")
	s := open(t, tok)
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	k3, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecD, _ := ec.Bytes()
	ecPoint, _ := ec.PublicKey.Bytes()
	ecPointDER := append([]byte{0x04, byte(len(ecPoint))}, ecPoint...)
	p256 := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	rawCreate(t, tok,
		// label + id (pkcs11-tool, p11tool): private key and certificate both labelled.
		append(rsaPrivAttrs(k1), a(pkcs11.CKA_LABEL, "labelled"), a(pkcs11.CKA_ID, []byte{1, 2, 3})),
		certAttrs(certFor(t, &k1.PublicKey, k1, "labelled"), "labelled", "\x01\x02\x03"),
		// label only, no certificate: the public key comes from the private key's attributes.
		append(rsaPrivAttrs(k2), a(pkcs11.CKA_LABEL, "nocert")),
		// EC private key with a public-key object of the same id, no certificate.
		[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
			a(pkcs11.CKA_PRIVATE, true), a(pkcs11.CKA_SIGN, true), a(pkcs11.CKA_ID, []byte("ec-pub")), a(pkcs11.CKA_EC_PARAMS, p256), a(pkcs11.CKA_VALUE, ecD)},
		[]*pkcs11.Attribute{a(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), a(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), a(pkcs11.CKA_TOKEN, true),
			a(pkcs11.CKA_ID, []byte("ec-pub")), a(pkcs11.CKA_EC_PARAMS, p256), a(pkcs11.CKA_EC_POINT, ecPointDER)},
		// id only secret key.
		secretAttrs("", "idonly", make([]byte, 32)),
		// two secret keys labelled the same.
		secretAttrs("dup", "", make([]byte, 32)), secretAttrs("dup", "", make([]byte, 32)),
		// a secret key and a private key with one name.
		secretAttrs("clash", "", make([]byte, 32)), append(rsaPrivAttrs(k3), a(pkcs11.CKA_ID, []byte("clash"))),
	)
	d := sha256.Sum256([]byte("m"))
	for alias, pub := range map[string]crypto.PublicKey{"labelled": &k1.PublicKey, "nocert": &k2.PublicKey, "ec-pub": &ec.PublicKey} {
		e, err := s.Entry(ctx, alias)
		if err != nil {
			t.Fatalf("%s: %v", alias, err)
		}
		if !e.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s: wrong public key", alias)
		}
		sig, err := e.(secrets.EntrySigner).Sign(ctx, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		switch p := pub.(type) {
		case *rsa.PublicKey:
			err = rsa.VerifyPKCS1v15(p, crypto.SHA256, d[:], sig)
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(p, d[:], sig) {
				err = errors.New("bad ECDSA signature")
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", alias, err)
		}
	}
	if e, err := s.Entry(ctx, "idonly"); err != nil || e.Kind() != secrets.KindSecret {
		t.Fatalf("idonly: %v", err)
	}
	for _, alias := range []string{"dup", "clash"} {
		_, err := s.Entry(ctx, alias)
		if err == nil || errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), alias) {
			t.Fatalf("%s: want an ambiguity error, got %v", alias, err)
		}
	}
	got, _ := s.Aliases(ctx)
	for _, want := range []string{"labelled", "nocert", "ec-pub", "idonly", "dup", "clash"} {
		if !strings.Contains(","+strings.Join(got, ",")+",", ","+want+",") {
			t.Errorf("Aliases %v lacks %s", got, want)
		}
	}
	if err := s.Delete(ctx, "labelled"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Aliases(ctx); strings.Contains(strings.Join(got, ","), "labelled") {
		t.Fatalf("labelled still listed: %v", got)
	}
}

// Templates of a SunPKCS11 configuration apply to keys hsmstore generates.
func TestSunPKCS11Templates(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "tmpl")
	conf := filepath.Join(t.TempDir(), "p.cfg")
	os.WriteFile(conf, []byte(tok.SunPKCS11Config("tmpl",
		"attributes(generate, CKO_SECRET_KEY, CKK_AES) = {\n  CKA_EXTRACTABLE = false\n  CKA_SENSITIVE = true\n}",
		// hsmstore sets the label (keytool's layout): the configuration's loses, as in SunPKCS11.
		"attributes(*, CKO_SECRET_KEY, CKK_GENERIC_SECRET) = {\n  CKA_LABEL = 0h6e6f7065\n}")), 0o600)
	s, err := hsmstore.OpenSunPKCS11(ctx, conf, tok.PIN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The config makes secret keys extractable: Generate without Extractable can Export.
	e := gen(t, s, "hmac", secrets.KeySpec{Kind: secrets.KindSecret})
	if _, err := e.(secrets.EntryExporter).Export(ctx); err != nil {
		t.Fatalf("template CKA_EXTRACTABLE=true not applied: %v", err)
	}
	if al, _ := s.Aliases(ctx); slices.Contains(al, "nope") || !slices.Contains(al, "hmac") {
		t.Fatalf("the configuration's CKA_LABEL won over the alias: %v", al)
	}
	// A later, more specific template wins for AES.
	e = gen(t, s, "aes", secrets.KeySpec{Kind: secrets.KindAES})
	if _, err := e.(secrets.EntryExporter).Export(ctx); !errors.Is(err, secrets.ErrNotExtractable) {
		t.Fatalf("later AES template not applied: %v", err)
	}
	// Explicit Extractable is forced over templates.
	e = gen(t, s, "aes2", secrets.KeySpec{Kind: secrets.KindAES, Extractable: true})
	if _, err := e.(secrets.EntryExporter).Export(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("secret-pin\n"), 0o600)
	for name, cfg := range map[string]hsmstore.Config{
		"no library":     {TokenLabel: "x"},
		"two selectors":  {Library: "/x.so", TokenLabel: "x", TokenSerial: "y"},
		"bad uri":        {URI: "http://x"},
		"uri no eq":      {URI: "pkcs11:token"},
		"uri repeat":     {URI: "pkcs11:token=a;token=b"},
		"uri bad escape": {URI: "pkcs11:token=%zz"},
		"missing env":    {Library: "/x.so", PINEnv: "HSMSTORE_TEST_NO_SUCH_VAR"},
		"missing file":   {Library: "/x.so", PINFile: filepath.Join(dir, "nope")},
		"no module":      {Library: filepath.Join(dir, "nope.so"), PINFile: pinFile},
	} {
		_, err := hsmstore.Open(ctx, cfg)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "secret-pin") {
			t.Errorf("%s: the error shows the PIN: %v", name, err)
		}
	}
}

// TestAlwaysAuthenticateKey: a private key another tool made with CKA_ALWAYS_AUTHENTICATE=true
// needs a context-specific login before each use, which hsmstore does not do. Using it is an
// error wrapping errors.ErrUnsupported naming the attribute, made before any PKCS#11 call:
// the token's CKR_USER_NOT_LOGGED_IN is not taken for a lost login, nothing recovers, and
// the token's other keys keep working.
func TestAlwaysAuthenticateKey(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "alwaysauth")
	s := open(t, tok)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rawCreate(t, tok,
		append(rsaPrivAttrs(k), a(pkcs11.CKA_LABEL, "aa"), a(pkcs11.CKA_ID, []byte("aa")), a(pkcs11.CKA_ALWAYS_AUTHENTICATE, true)),
		certAttrs(certFor(t, &k.PublicKey, k, "aa"), "aa", "aa"),
		secretAttrs("hmac", "", make([]byte, 32)),
	)
	e, err := s.Entry(ctx, "aa")
	if err != nil {
		t.Fatal(err)
	}
	sec := secrets.NewSecret(s.Name(), e)
	d := sha256.Sum256([]byte("m"))
	for i := 0; i < 3; i++ {
		_, err := sec.Sign(ctx, d[:], crypto.SHA256)
		if !errors.Is(err, errors.ErrUnsupported) || errors.Is(err, secrets.ErrUnavailable) || !strings.Contains(err.Error(), "CKA_ALWAYS_AUTHENTICATE") {
			t.Fatalf("sign with a CKA_ALWAYS_AUTHENTICATE key: %v, want ErrUnsupported naming CKA_ALWAYS_AUTHENTICATE", err)
		}
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, &k.PublicKey, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = sec.Decrypt(ctx, ct, nil)
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "CKA_ALWAYS_AUTHENTICATE") {
			t.Fatalf("decrypt with a CKA_ALWAYS_AUTHENTICATE key: %v, want ErrUnsupported naming CKA_ALWAYS_AUTHENTICATE", err)
		}
	}
	if st := s.Stats(); st.Recoveries != 0 || st.FailedRecoveries != 0 {
		t.Fatalf("a key needing a context-specific login made the store recover: %+v", st)
	}
	h, err := s.Entry(ctx, "hmac")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.NewSecret(s.Name(), h).MAC(ctx, crypto.SHA256, []byte("m")); err != nil {
		t.Fatalf("the token's other keys: %v", err)
	}
}
