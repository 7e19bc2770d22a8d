//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/secrets"
)

// matrixBench is the per-module twin of benchFixture: one shared token of a module of the
// p11test matrix with an HMAC and an RSA-2048 key, through hsmstore + a Provider and through
// raw miekg/pkcs11 on the same, already initialised, module.
type matrixBench struct {
	st   *hsmstore.Store
	prov *secrets.Provider
	p11  *pkcs11.Ctx
	slot uint
	pin  string
}

func matrixFixture(b *testing.B, tok *p11test.Token) *matrixBench {
	b.Helper()
	ctx := context.Background()
	f := &matrixBench{}
	if tok.Module.Name == p11test.TPM2 {
		tok.AddKey(b, "bench-hmac", p11test.TPMHMACSHA256)
		tok.AddKey(b, "bench-rsa", p11test.TPMRSA2048)
	}
	f.st = openToken(b, tok)
	var err error
	for alias, kind := range map[string]secrets.Kind{"bench-hmac": secrets.KindSecret, "bench-rsa": secrets.KindRSA} {
		if _, err := f.st.Entry(ctx, alias); err != nil {
			if _, err := f.st.Generate(ctx, alias, secrets.KeySpec{Kind: kind}, false); err != nil {
				b.Fatalf("%v: %s: %v", tok, alias, err)
			}
		}
	}
	if f.prov, err = secrets.NewProvider([]secrets.Store{f.st}, []secrets.Mapping{
		{SecretID: "hmac", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"bench-hmac"}},
		{SecretID: "rsa", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"bench-rsa"}},
	}, secrets.ProviderOptions{}); err != nil {
		b.Fatal(err)
	}
	f.p11 = pkcs11.New(tok.Module.Path)
	_ = f.p11.Initialize() // already initialised by the Store: CKR_CRYPTOKI_ALREADY_INITIALIZED
	f.slot, f.pin = tok.SlotID, tok.PIN
	return f
}

// rawFind opens a session and finds the secret key labelled alias, or the private key with
// CKA_ID alias.
func (f *matrixBench) rawFind(b *testing.B, cls uint, alias string) (pkcs11.SessionHandle, pkcs11.ObjectHandle) {
	sh, err := f.p11.OpenSession(f.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		b.Fatal(err)
	}
	// Through p11-kit-client.so the raw handle's sessions are not the Store's application:
	// log in (CKR_USER_ALREADY_LOGGED_IN elsewhere).
	if err := f.p11.Login(sh, pkcs11.CKU_USER, f.pin); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		b.Fatal(err)
	}
	attr := uint(pkcs11.CKA_LABEL)
	if cls == pkcs11.CKO_PRIVATE_KEY {
		attr = pkcs11.CKA_ID
	}
	if err := f.p11.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, cls), pkcs11.NewAttribute(attr, []byte(alias))}); err != nil {
		b.Fatal(err)
	}
	hs, _, err := f.p11.FindObjects(sh, 2)
	f.p11.FindObjectsFinal(sh)
	if err != nil || len(hs) != 1 {
		b.Fatalf("find %s: %v %d", alias, err, len(hs))
	}
	return sh, hs[0]
}

// BenchmarkMatrix: HMAC-SHA256 of 64 bytes and RSA-2048 PKCS#1 v1.5 signatures through a
// Provider + hsmstore and through raw miekg/pkcs11 (C_SignInit + C_Sign on a session of its
// own, the same call shape), 1 and 2 goroutines, on every module of the matrix a Store opens,
// in one run. Compare hsm with raw of the same module, run and goroutine count.
func BenchmarkMatrix(b *testing.B) {
	ctx := context.Background()
	d := sha256.Sum256(msg64)
	for _, name := range storeModules {
		b.Run(name, func(b *testing.B) {
			tok := p11test.SharedToken(b, name)
			f := matrixFixture(b, tok)
			par(b, "hmac/hsm", func(b *testing.B) func() error {
				return func() error {
					s, err := f.prov.Active(ctx, "hmac", secrets.Sign)
					if err != nil {
						return err
					}
					_, err = s.MAC(ctx, crypto.SHA256, msg64)
					return err
				}
			})
			par(b, "hmac/raw", func(b *testing.B) func() error {
				sh, h := f.rawFind(b, pkcs11.CKO_SECRET_KEY, "bench-hmac")
				mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}
				return func() error {
					if err := f.p11.SignInit(sh, mech, h); err != nil {
						return err
					}
					_, err := f.p11.Sign(sh, msg64)
					return err
				}
			})
			par(b, "rsa/hsm", func(b *testing.B) func() error {
				return func() error {
					s, err := f.prov.Active(ctx, "rsa", secrets.Sign)
					if err != nil {
						return err
					}
					_, err = s.Sign(ctx, d[:], crypto.SHA256)
					return err
				}
			})
			par(b, "rsa/raw", func(b *testing.B) func() error {
				sh, h := f.rawFind(b, pkcs11.CKO_PRIVATE_KEY, "bench-rsa")
				mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}
				in := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, d[:]...)
				return func() error {
					if err := f.p11.SignInit(sh, mech, h); err != nil {
						return err
					}
					_, err := f.p11.Sign(sh, in)
					return err
				}
			})
		})
	}
}
