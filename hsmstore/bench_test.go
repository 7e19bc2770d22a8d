//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// benchFixture is one token with an HMAC, an AES and an RSA-2048 key, opened three ways:
// through hsmstore and a Provider, through crypto11, and raw miekg/pkcs11. It lives until
// the process ends (benchmarks run after the tests, so no token is created after it).
type benchFixture struct {
	tok  *softhsmtest.Token
	st   *hsmstore.Store
	prov *secrets.Provider
	c11  *crypto11.Context
	p11  *pkcs11.Ctx
	slot uint
	err  error
}

var (
	benchOnce sync.Once
	bench     benchFixture
)

func fixture(b *testing.B) *benchFixture {
	b.Helper()
	benchOnce.Do(func() {
		f := &bench
		f.tok = softhsmtest.New(b, "bench")
		ctx := context.Background()
		// crypto11 first: it refuses a module someone else initialised, while hsmstore
		// shares one crypto11 initialised (and leaves its finalisation to crypto11). The
		// login is shared too (C_Login says already logged in).
		f.c11, f.err = crypto11.Configure(&crypto11.Config{Path: f.tok.Module, TokenLabel: f.tok.Label, Pin: f.tok.PIN, MaxSessions: 16})
		if f.err != nil {
			return
		}
		f.st, f.err = hsmstore.Open(ctx, hsmstore.Config{Library: f.tok.Module, TokenLabel: f.tok.Label, PIN: f.tok.PIN})
		if f.err != nil {
			return
		}
		for alias, spec := range map[string]secrets.KeySpec{
			"hmac": {Kind: secrets.KindSecret}, "aes": {Kind: secrets.KindAES}, "rsa": {Kind: secrets.KindRSA},
		} {
			if _, f.err = f.st.Generate(ctx, alias, spec, false); f.err != nil {
				return
			}
		}
		f.prov, f.err = secrets.NewProvider([]secrets.Store{f.st}, []secrets.Mapping{
			{SecretID: "hmac", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"hmac"}},
			{SecretID: "aes", Types: []secrets.Purpose{secrets.Encrypt}, Aliases: []string{"aes"}},
			{SecretID: "rsa", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"rsa"}},
		}, secrets.ProviderOptions{})

		if f.err != nil {
			return
		}
		// Raw miekg/pkcs11 on the same, already initialised, module.
		f.p11 = pkcs11.New(f.tok.Module)
		_ = f.p11.Initialize()
		slots, _ := f.p11.GetSlotList(true)
		for _, s := range slots {
			if ti, err := f.p11.GetTokenInfo(s); err == nil && ti.Label == f.tok.Label {
				f.slot = s
			}
		}
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return &bench
}

// rawSession opens a session and finds the object labelled alias of class cls: the floor
// holds its own session, with no pool.
func (f *benchFixture) rawSession(b *testing.B, cls uint, alias string) (pkcs11.SessionHandle, pkcs11.ObjectHandle) {
	sh, err := f.p11.OpenSession(f.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, cls)}
	if cls == pkcs11.CKO_PRIVATE_KEY {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(alias)))
	} else {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, []byte(alias)))
	}
	if err := f.p11.FindObjectsInit(sh, tmpl); err != nil {
		b.Fatal(err)
	}
	hs, _, err := f.p11.FindObjects(sh, 2)
	f.p11.FindObjectsFinal(sh)
	if err != nil || len(hs) != 1 {
		b.Fatalf("find %s: %v %d", alias, err, len(hs))
	}
	return sh, hs[0]
}

// par runs body with 1 goroutine ("g1") and with 2 ("g2", RunParallel on GOMAXPROCS=2 or
// SetParallelism to make 2).
func par(b *testing.B, name string, setup func(b *testing.B) func() error) {
	b.Run(name+"/g1", func(b *testing.B) {
		op := setup(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/g2", func(b *testing.B) {
		var mu sync.Mutex
		b.SetParallelism((2 + gomaxprocs() - 1) / gomaxprocs())
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			mu.Lock()
			op := setup(b)
			mu.Unlock()
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

var msg64 = make([]byte, 64)

// A setup prepares one way of doing an operation and returns it; the same setups serve the
// side-by-side benchmarks below and BenchmarkInterleaved.
type setup = func(b *testing.B) func() error

// hmacSetups are HMAC-SHA256 of msg64 through hsmstore (Provider.Active + Secret.MAC), raw
// miekg/pkcs11 (C_SignInit + C_Sign) and crypto11, on the same key.
func (f *benchFixture) hmacSetups() (hsm, raw, c11 setup) {
	ctx := context.Background()
	hsm = func(b *testing.B) func() error {
		return func() error {
			s, err := f.prov.Active(ctx, "hmac", secrets.Sign)
			if err != nil {
				return err
			}
			_, err = s.MAC(ctx, crypto.SHA256, msg64)
			return err
		}
	}
	raw = func(b *testing.B) func() error {
		sh, h := f.rawSession(b, pkcs11.CKO_SECRET_KEY, "hmac")
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}
		return func() error {
			if err := f.p11.SignInit(sh, mech, h); err != nil {
				return err
			}
			_, err := f.p11.Sign(sh, msg64)
			return err
		}
	}
	c11 = func(b *testing.B) func() error {
		keys, err := f.c11.FindKeys(nil, []byte("hmac"))
		if err != nil || len(keys) != 1 {
			b.Fatal(err)
		}
		return func() error {
			m, err := keys[0].NewHMAC(pkcs11.CKM_SHA256_HMAC, 0)
			if err != nil {
				return err
			}
			m.Write(msg64)
			m.Sum(nil)
			return nil
		}
	}
	return hsm, raw, c11
}

// rsaSetups are SHA256withRSA (PKCS#1 v1.5) of msg64's digest through hsmstore, raw
// miekg/pkcs11 (CKM_RSA_PKCS over the DigestInfo) and crypto11, on the same key.
func (f *benchFixture) rsaSetups() (hsm, raw, c11 setup) {
	ctx := context.Background()
	d := sha256.Sum256(msg64)
	hsm = func(b *testing.B) func() error {
		return func() error {
			s, err := f.prov.Active(ctx, "rsa", secrets.Sign)
			if err != nil {
				return err
			}
			_, err = s.Sign(ctx, d[:], crypto.SHA256)
			return err
		}
	}
	raw = func(b *testing.B) func() error {
		sh, h := f.rawSession(b, pkcs11.CKO_PRIVATE_KEY, "rsa")
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}
		in := append(append([]byte(nil), digestInfoSHA256...), d[:]...)
		return func() error {
			if err := f.p11.SignInit(sh, mech, h); err != nil {
				return err
			}
			_, err := f.p11.Sign(sh, in)
			return err
		}
	}
	c11 = func(b *testing.B) func() error {
		signer, err := f.c11.FindKeyPair([]byte("rsa"), nil)
		if err != nil {
			b.Fatal(err)
		}
		return func() error {
			_, err := signer.Sign(rand.Reader, d[:], crypto.SHA256)
			return err
		}
	}
	return hsm, raw, c11
}

func BenchmarkHMACSHA256(b *testing.B) {
	hsm, raw, c11 := fixture(b).hmacSetups()
	par(b, "hsmstore", hsm)
	par(b, "raw-miekg", raw)
	par(b, "crypto11", c11)
}

func BenchmarkRSA2048Sign(b *testing.B) {
	hsm, raw, c11 := fixture(b).rsaSetups()
	par(b, "hsmstore", hsm)
	par(b, "crypto11", c11)
	par(b, "raw-miekg", raw)
}

func BenchmarkAESGCMSeal(b *testing.B) {
	f := fixture(b)
	ctx := context.Background()
	par(b, "hsmstore", func(b *testing.B) func() error {
		return func() error {
			s, err := f.prov.Active(ctx, "aes", secrets.Encrypt)
			if err != nil {
				return err
			}
			_, err = s.Seal(ctx, msg64, nil)
			return err
		}
	})
	par(b, "raw-miekg", func(b *testing.B) func() error {
		sh, h := f.rawSession(b, pkcs11.CKO_SECRET_KEY, "aes")
		return func() error {
			nonce := make([]byte, 12)
			rand.Read(nonce)
			params := pkcs11.NewGCMParams(nonce, nil, 128)
			defer params.Free()
			if err := f.p11.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, h); err != nil {
				return err
			}
			_, err := f.p11.Encrypt(sh, msg64)
			return err
		}
	})
}

// BenchmarkProviderActiveWarm is the cached lookup on the hot path: no PKCS#11 call.
func BenchmarkProviderActiveWarm(b *testing.B) {
	f := fixture(b)
	ctx := context.Background()
	if _, err := f.prov.Active(ctx, "hmac", secrets.Sign); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.prov.Active(ctx, "hmac", secrets.Sign); err != nil {
			b.Fatal(err)
		}
	}
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }
