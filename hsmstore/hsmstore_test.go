//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

func TestMain(m *testing.M) { p11test.Main(m) }

func open(t testing.TB, tok *softhsmtest.Token) *hsmstore.Store {
	t.Helper()
	s, err := hsmstore.Open(context.Background(), hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func secretOf(t testing.TB, s secrets.Store, alias string) *secrets.Secret {
	t.Helper()
	p, err := secrets.NewProvider([]secrets.Store{s}, []secrets.Mapping{{SecretID: "x", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{alias}}}, secrets.ProviderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := p.Active(context.Background(), "x", secrets.Sign)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func gen(t testing.TB, s *hsmstore.Store, alias string, spec secrets.KeySpec) secrets.Entry {
	t.Helper()
	e, err := s.Generate(context.Background(), alias, spec, false)
	if err != nil {
		t.Fatalf("Generate %s: %v", alias, err)
	}
	return e
}

func TestOperations(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "ops")
	s := open(t, tok)

	t.Run("HMAC", func(t *testing.T) {
		e := gen(t, s, "hmac", secrets.KeySpec{Kind: secrets.KindSecret, Extractable: true})
		if e.Kind() != secrets.KindSecret {
			t.Fatalf("kind %v", e.Kind())
		}
		sec := secretOf(t, s, "hmac")
		key, err := sec.Export(ctx)
		if err != nil || len(key) != 32 {
			t.Fatalf("Export: %d bytes, %v", len(key), err)
		}
		msg := []byte("the quick brown fox")
		gen(t, s, "hmac512", secrets.KeySpec{Kind: secrets.KindSecret, Bits: 512, Extractable: true})
		sec512 := secretOf(t, s, "hmac512")
		key512, err := sec512.Export(ctx)
		if err != nil || len(key512) != 64 {
			t.Fatalf("Export: %d bytes, %v", len(key512), err)
		}
		// SoftHSM wants a key at least as long as the hash for HMAC-SHA384/512.
		if _, err := sec.MAC(ctx, crypto.SHA512, msg); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("HMAC-SHA512 with a 32-byte key on SoftHSM: %v", err)
		}
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			sec, key := sec, key
			if h != crypto.SHA256 {
				sec, key = sec512, key512
			}
			tag, err := sec.MAC(ctx, h, msg)
			if err != nil {
				t.Fatalf("MAC %v: %v", h, err)
			}
			m := hmac.New(h.New, key)
			m.Write(msg)
			if !hmac.Equal(tag, m.Sum(nil)) {
				t.Fatalf("HMAC %v differs from crypto/hmac", h)
			}
			if err := sec.VerifyMAC(ctx, h, msg, tag); err != nil {
				t.Fatalf("VerifyMAC: %v", err)
			}
			tag[0] ^= 1
			if err := sec.VerifyMAC(ctx, h, msg, tag); !errors.Is(err, secrets.ErrVerification) {
				t.Fatalf("VerifyMAC of a bad tag: %v", err)
			}
		}
		if _, err := sec.MAC(ctx, crypto.SHA1, msg); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("MAC SHA-1: %v", err)
		}
		if _, err := sec.Seal(ctx, msg, nil); !errors.Is(err, secrets.ErrWrongKind) {
			t.Fatalf("Seal with a generic secret: %v", err)
		}
	})

	t.Run("NotExtractable", func(t *testing.T) {
		gen(t, s, "hmac-inside", secrets.KeySpec{Kind: secrets.KindSecret})
		sec := secretOf(t, s, "hmac-inside")
		_, err := sec.Export(ctx)
		if !errors.Is(err, secrets.ErrNotExtractable) || !strings.Contains(err.Error(), "CKA_EXTRACTABLE = true") || !strings.Contains(err.Error(), "CKA_SENSITIVE = false") {
			t.Fatalf("Export: %v", err)
		}
		if _, err := sec.MAC(ctx, crypto.SHA256, []byte("x")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("AESGCM", func(t *testing.T) {
		gen(t, s, "aes", secrets.KeySpec{Kind: secrets.KindAES, Extractable: true})
		sec := secretOf(t, s, "aes")
		key, err := sec.Export(ctx)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := aes.NewCipher(key)
		gcm, _ := cipher.NewGCM(block)
		for _, pt := range [][]byte{nil, []byte("hello"), make([]byte, 1000)} {
			aad := []byte("aad")
			sealed, err := sec.Seal(ctx, pt, aad)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gcm.Open(nil, sealed[:12], sealed[12:], aad)
			if err != nil || string(got) != string(pt) {
				t.Fatalf("crypto/cipher cannot open Seal's output: %v", err)
			}
			nonce := make([]byte, 12)
			rand.Read(nonce)
			sw := gcm.Seal(nonce, nonce, pt, aad)
			got, err = sec.Open(ctx, sw, aad)
			if err != nil || string(got) != string(pt) {
				t.Fatalf("Open of crypto/cipher's output: %v", err)
			}
			sw[len(sw)-1] ^= 1
			if _, err := sec.Open(ctx, sw, aad); !errors.Is(err, secrets.ErrVerification) {
				t.Fatalf("Open of a tampered box: %v", err)
			}
			if _, err := sec.Open(ctx, sealed, []byte("other")); !errors.Is(err, secrets.ErrVerification) {
				t.Fatalf("Open with other aad: %v", err)
			}
		}
		if _, err := sec.Open(ctx, []byte("short"), nil); !errors.Is(err, secrets.ErrVerification) {
			t.Fatal(err)
		}
	})

	t.Run("RSA", func(t *testing.T) {
		e := gen(t, s, "rsa", secrets.KeySpec{Kind: secrets.KindRSA, Subject: pkix.Name{CommonName: "rsa test"}})
		if e.Kind() != secrets.KindRSA || len(e.Chain()) != 1 || e.Chain()[0].Subject.CommonName != "rsa test" {
			t.Fatalf("entry %v %v", e.Kind(), e.Chain())
		}
		pub := e.Public().(*rsa.PublicKey)
		if pub.N.BitLen() != 2048 {
			t.Fatalf("%d bits", pub.N.BitLen())
		}
		sec := secretOf(t, s, "rsa")
		d := sha256.Sum256([]byte("msg"))
		sig, err := sec.Sign(ctx, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			t.Fatalf("PKCS#1 v1.5: %v", err)
		}
		d5 := sha512.Sum512([]byte("msg"))
		for _, salt := range []int{rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash, 20} {
			sig, err := sec.Sign(ctx, d5[:], &rsa.PSSOptions{SaltLength: salt, Hash: crypto.SHA512})
			if err != nil {
				t.Fatalf("PSS salt %d: %v", salt, err)
			}
			vs := salt
			if salt == rsa.PSSSaltLengthAuto {
				vs = rsa.PSSSaltLengthEqualsHash
			}
			if err := rsa.VerifyPSS(pub, crypto.SHA512, d5[:], sig, &rsa.PSSOptions{SaltLength: vs}); err != nil {
				t.Fatalf("PSS salt %d: %v", salt, err)
			}
		}
		if _, err := sec.Sign(ctx, d[:5], crypto.SHA256); err == nil {
			t.Fatal("signed a short digest")
		}
		// Decryption.
		ct, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte("secret"))
		pt, err := sec.Decrypt(ctx, ct, nil)
		if err != nil || string(pt) != "secret" {
			t.Fatalf("PKCS#1 v1.5 decrypt: %q %v", pt, err)
		}
		ct, _ = rsa.EncryptOAEP(sha1New(), rand.Reader, pub, []byte("oaep"), nil)
		pt, err = sec.Decrypt(ctx, ct, &rsa.OAEPOptions{Hash: crypto.SHA1})
		if err != nil || string(pt) != "oaep" {
			t.Fatalf("OAEP SHA-1 decrypt: %q %v", pt, err)
		}
		ct, _ = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte("oaep"), nil)
		_, err = sec.Decrypt(ctx, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "CKM_RSA_PKCS_OAEP") {
			t.Fatalf("OAEP SHA-256 on SoftHSM 2.6: %v", err)
		}
		ct[0] ^= 0xff
		if _, err := sec.Decrypt(ctx, ct[:10], nil); !errors.Is(err, secrets.ErrVerification) {
			t.Fatalf("bad ciphertext: %v", err)
		}
		// The crypto.Signer adapter works with crypto/x509.
		signer, err := sec.Signer()
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		if _, err := x509.CreateCertificate(rand.Reader, tmpl, e.Chain()[0], pub, signer); err != nil {
			t.Fatal(err)
		}
	})

	for _, bits := range []int{256, 384} {
		t.Run("EC"+string(rune('0'+bits/100)), func(t *testing.T) {
			alias := "ec" + big.NewInt(int64(bits)).String()
			e := gen(t, s, alias, secrets.KeySpec{Kind: secrets.KindEC, Bits: bits})
			pub := e.Public().(*ecdsa.PublicKey)
			if pub.Curve.Params().BitSize != bits {
				t.Fatal(pub.Curve.Params().Name)
			}
			sec := secretOf(t, s, alias)
			d := sha256.Sum256([]byte("msg"))
			sig, err := sec.Sign(ctx, d[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(pub, d[:], sig) {
				t.Fatal("ecdsa.VerifyASN1 rejects the signature")
			}
			c := e.Chain()[0]
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Fatal(err)
			}
			if _, err := sec.Decrypt(ctx, []byte("x"), nil); !errors.Is(err, secrets.ErrWrongKind) {
				t.Fatal(err)
			}
		})
	}

	t.Run("Aliases", func(t *testing.T) {
		got, err := s.Aliases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := "aes,ec256,ec384,hmac,hmac-inside,hmac512,rsa"
		if strings.Join(got, ",") != want {
			t.Fatalf("Aliases = %v, want %s", got, want)
		}
	})

	t.Run("Exists", func(t *testing.T) {
		for _, a := range []string{"hmac", "rsa"} {
			if _, err := s.Generate(ctx, a, secrets.KeySpec{Kind: secrets.KindAES}, false); !errors.Is(err, secrets.ErrExists) {
				t.Fatalf("Generate over %s: %v", a, err)
			}
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		e, err := s.Entry(ctx, "hmac")
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := e.(secrets.EntryMAC).MAC(cctx, crypto.SHA256, nil); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if _, err := s.Entry(cctx, "hmac"); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if _, err := hsmstore.Open(cctx, hsmstore.Config{Library: "/nonexistent.so"}); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Entry(ctx, "nope")
		var ke *secrets.KeyError
		if !errors.Is(err, secrets.ErrNotFound) || !errors.As(err, &ke) || ke.Alias != "nope" {
			t.Fatal(err)
		}
	})
}

func TestImportDelete(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "imp")
	s := open(t, tok)

	key := make([]byte, 32)
	rand.Read(key)
	e, err := s.Import(ctx, "imported-hmac", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: key, Extractable: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := e.(secrets.EntryMAC).MAC(ctx, crypto.SHA256, []byte("m"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte("m"))
	if err != nil || !hmac.Equal(tag, m.Sum(nil)) {
		t.Fatalf("MAC of imported key: %v", err)
	}
	if _, err := s.Import(ctx, "imported-hmac", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: key}, false); !errors.Is(err, secrets.ErrExists) {
		t.Fatal(err)
	}

	// A private key with a two-certificate chain.
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	for _, kind := range []secrets.Kind{secrets.KindRSA, secrets.KindEC} {
		var priv crypto.Signer
		if kind == secrets.KindRSA {
			priv, _ = rsa.GenerateKey(rand.Reader, 2048)
		} else {
			priv, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		}
		leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		leafDER, _ := x509.CreateCertificate(rand.Reader, leafT, ca, priv.Public(), caKey)
		leaf, _ := x509.ParseCertificate(leafDER)
		alias := "imported-" + kind.String()
		e, err := s.Import(ctx, alias, secrets.KeyMaterial{Kind: kind, Private: priv, Chain: []*x509.Certificate{leaf, ca}}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Chain()) != 2 || !e.Chain()[1].Equal(ca) {
			t.Fatalf("%s chain of %d", alias, len(e.Chain()))
		}
		d := sha256.Sum256([]byte("x"))
		sig, err := e.(secrets.EntrySigner).Sign(ctx, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := leaf.CheckSignature(x509.SHA256WithRSA, []byte("x"), sig); kind == secrets.KindRSA && err != nil {
			t.Fatal(err)
		}
		if kind == secrets.KindEC && !ecdsa.VerifyASN1(priv.Public().(*ecdsa.PublicKey), d[:], sig) {
			t.Fatal("EC signature")
		}
	}
	// A trusted certificate.
	if e, err := s.Import(ctx, "ca", secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{ca}}, false); err != nil || e.Kind() != secrets.KindCertificate {
		t.Fatal(err)
	}
	der, err := s.ExportCertificate(ctx, "ca")
	if err != nil || string(der) != string(ca.Raw) {
		t.Fatal(err)
	}
	got, _ := s.Aliases(ctx)
	if strings.Join(got, ",") != "ca,imported-EC,imported-RSA,imported-hmac" {
		t.Fatalf("Aliases = %v", got)
	}

	// Delete notifies and removes every object.
	var changes []secrets.Change
	unsub := s.Subscribe(func(c secrets.Change) { changes = append(changes, c) })
	defer unsub()
	for _, a := range []string{"imported-RSA", "imported-hmac"} {
		if err := s.Delete(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Entry(ctx, a); !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("after Delete: %v", err)
		}
	}
	if err := s.Delete(ctx, "imported-RSA"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Store != s.Name() || changes[0].Aliases[0] != "imported-RSA" {
		t.Fatalf("changes %v", changes)
	}
	// Overwrite.
	if _, err := s.Import(ctx, "imported-EC", secrets.KeyMaterial{Kind: secrets.KindAES, Secret: key}, true); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Entry(ctx, "imported-EC"); e.Kind() != secrets.KindAES {
		t.Fatal(e.Kind())
	}
}

func TestSharedConnectionAndPIN(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "pin")
	// Wrong PIN first: a clear error wrapping ErrWrongPIN, PIN not in it.
	_, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: "99999"})
	if !errors.Is(err, secrets.ErrWrongPIN) || strings.Contains(err.Error(), "99999") {
		t.Fatalf("wrong PIN: %v", err)
	}
	a := open(t, tok)
	gen(t, a, "k", secrets.KeySpec{Kind: secrets.KindSecret})
	// A second store on the same token shares the connection; another PIN is refused.
	b, err := hsmstore.Open(ctx, hsmstore.Config{Name: "trust", Library: tok.Module, TokenSerial: tok.Serial, PIN: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "trust" {
		t.Fatal(b.Name())
	}
	_, err = hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, URI: "pkcs11:token=" + tok.Label, PIN: "0000"})
	if !errors.Is(err, secrets.ErrWrongPIN) || strings.Contains(err.Error(), "0000") {
		t.Fatalf("second open with another PIN: %v", err)
	}
	e, err := b.Entry(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.(secrets.EntryMAC).MAC(ctx, crypto.SHA256, nil); !errors.Is(err, secrets.ErrClosed) {
		t.Fatalf("entry of a closed store: %v", err)
	}
	// a still works after b closed.
	e, err = a.Entry(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.(secrets.EntryMAC).MAC(ctx, crypto.SHA256, nil); err != nil {
		t.Fatal(err)
	}
	// Other selectors reach the same token.
	slot := tok.SlotID
	for _, cfg := range []hsmstore.Config{
		{Library: tok.Module, SlotID: &slot, PIN: tok.PIN},
		{URI: "pkcs11:serial=" + tok.Serial + "?module-path=" + tok.Module + "&pin-value=" + tok.PIN},
	} {
		c, err := hsmstore.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c.TokenSerial() != tok.Serial {
			t.Fatal(c.TokenSerial())
		}
		c.Close()
	}
	if _, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: "no-such-token", PIN: tok.PIN}); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatal(err)
	}
}

func sha1New() interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
	Reset()
	Size() int
	BlockSize() int
} {
	return crypto.SHA1.New()
}

func TestAESHasNoMAC(t *testing.T) {
	tok := softhsmtest.New(t, "aesmac")
	s := open(t, tok)
	gen(t, s, "aes", secrets.KeySpec{Kind: secrets.KindAES})
	if _, err := secretOf(t, s, "aes").MAC(context.Background(), crypto.SHA256, nil); !errors.Is(err, secrets.ErrWrongKind) {
		t.Fatal(err)
	}
}
