//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// storeSession opens a session on tok, logged in, through a miekg/pkcs11 handle on the module
// a Store already initialised in this process (C_Initialize answers
// CKR_CRYPTOKI_ALREADY_INITIALIZED, or nothing through p11-kit's client, which counts
// initialisations); the module is never finalised here. The session is closed when the test
// ends.
func storeSession(t *testing.T, tok *p11test.Token) (*pkcs11.Ctx, pkcs11.SessionHandle) {
	t.Helper()
	p := pkcs11.New(tok.Module.Path)
	if err := tok.Module.Initialize(p); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		p.Destroy()
		t.Fatal(err)
	}
	sh, err := p.OpenSession(tok.SlotID, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		p.Destroy()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.CloseSession(sh)
		p.Destroy()
	})
	if err := p.Login(sh, pkcs11.CKU_USER, tok.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		t.Fatal(err)
	}
	return p, sh
}

// rawObjects counts the objects with CKA_ID id on tok, through a miekg/pkcs11 handle on the
// module the Store already initialised in this process (never finalised here).
func rawObjects(t *testing.T, tok *p11test.Token, id string) map[uint]int {
	t.Helper()
	p, sh := storeSession(t, tok)
	if err := p.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(id))}); err != nil {
		t.Fatal(err)
	}
	hs, _, err := p.FindObjects(sh, 100)
	p.FindObjectsFinal(sh)
	if err != nil {
		t.Fatal(err)
	}
	n := map[uint]int{}
	for _, h := range hs {
		at, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil)})
		if err != nil || len(at) != 1 {
			t.Fatal(err)
		}
		var cls uint
		for i, b := range at[0].Value {
			cls |= uint(b) << (8 * i) // little-endian CK_ULONG
		}
		n[cls]++
	}
	return n
}

// TestMatrixGeneratePair: Generate makes RSA and EC key pairs on every module that offers
// the mechanisms, and the key signs what its public key verifies. tpm2-pkcs11 refuses a key
// pair whose public key is a session object (CKR_ATTRIBUTE_VALUE_INVALID: hsmstore forced
// CKA_TOKEN=false): there the public key is a token object with the private key's CKA_ID,
// part of the entry, and Generate with overwrite and Delete leave no object of it behind.
func TestMatrixGeneratePair(t *testing.T) {
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		s := openToken(t, tok)
		digest := sha256.Sum256([]byte("generation"))
		for _, kind := range []secrets.Kind{secrets.KindRSA, secrets.KindEC} {
			c := map[secrets.Kind]hsmstore.Capability{secrets.KindRSA: hsmstore.CapGenerateRSA, secrets.KindEC: hsmstore.CapGenerateEC}[kind]
			if err := s.Supports(c); err != nil {
				t.Logf("%v: %v", tok, err)
				continue
			}
			alias := "gen-pair-" + strings.ToLower(kind.String())
			_ = s.Delete(ctx, alias)
			for _, over := range []bool{false, true} {
				var e secrets.Entry
				var err error
				if over {
					e, err = s.Generate(ctx, alias, secrets.KeySpec{Kind: kind}, true)
				} else {
					e, err = s.Generate(ctx, alias, secrets.KeySpec{Kind: kind}, false)
				}
				if err != nil {
					t.Fatalf("generate %v (overwrite %v): %v", kind, over, err)
				}
				sig, err := e.(secrets.EntrySigner).Sign(ctx, digest[:], crypto.SHA256)
				if err != nil {
					t.Fatalf("sign with the generated %v key: %v", kind, err)
				}
				switch pub := e.Public().(type) {
				case *rsa.PublicKey:
					err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
				case *ecdsa.PublicKey:
					if !ecdsa.VerifyASN1(pub, digest[:], sig) {
						err = errors.New("ECDSA signature does not verify")
					}
				default:
					err = errors.New("no public key")
				}
				if err != nil {
					t.Fatalf("%v (overwrite %v): %v", kind, over, err)
				}
				objs := rawObjects(t, tok, alias)
				if objs[pkcs11.CKO_PRIVATE_KEY] != 1 || objs[pkcs11.CKO_CERTIFICATE] != 1 || objs[pkcs11.CKO_PUBLIC_KEY] > 1 {
					t.Fatalf("objects with CKA_ID %q by class: %v, want one private key, one certificate, at most one public key", alias, objs)
				}
				t.Logf("%v: %v (overwrite %v): objects by class %v", tok, kind, over, objs)
			}
			if err := s.Delete(ctx, alias); err != nil {
				t.Fatal(err)
			}
			if objs := rawObjects(t, tok, alias); len(objs) != 0 {
				t.Fatalf("after Delete, objects with CKA_ID %q by class: %v", alias, objs)
			}
		}
	})
}

// TestMatrixPublicKeyTemplate: the public key of a generated pair follows Config.Templates:
// a rule "attributes(generate, CKO_PUBLIC_KEY, *) = { CKA_TOKEN = true }" keeps it on the
// token with the private key's CKA_ID (Delete removes it); without one it is a session
// object (on tpm2-pkcs11, which requires a token object, it is one all the same).
func TestMatrixPublicKeyTemplate(t *testing.T) {
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		if tok.Module.Name == p11test.OpenCryptoki || tok.Module.Name == p11test.NSSP11Kit {
			return // one RSA generation per module is enough: SoftHSM, tpm2 and NSS
		}
		for _, rule := range []bool{false, true} {
			cfg := tokenConfig(tok)
			if rule {
				cfg.Templates = []pkcs11conf.AttributeRule{{Operation: pkcs11conf.OpGenerate, Class: pkcs11.CKO_PUBLIC_KEY, KeyType: pkcs11conf.Any,
					Attributes: []pkcs11conf.Attribute{{Type: pkcs11.CKA_TOKEN, Kind: pkcs11conf.Bool, Bool: true}}}}
			}
			s, err := hsmstore.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			alias := "pub-template"
			_ = s.Delete(ctx, alias)
			if _, err := s.Generate(ctx, alias, secrets.KeySpec{Kind: secrets.KindRSA}, false); err != nil {
				t.Fatal(err)
			}
			want := 0
			if rule || tok.Module.Name == p11test.TPM2 {
				want = 1
			}
			if n := rawObjects(t, tok, alias)[pkcs11.CKO_PUBLIC_KEY]; n != want {
				t.Errorf("rule %v: %d public keys with CKA_ID %q, want %d", rule, n, alias, want)
			}
			if err := s.Delete(ctx, alias); err != nil {
				t.Fatal(err)
			}
			if objs := rawObjects(t, tok, alias); len(objs) != 0 {
				t.Errorf("after Delete, objects with CKA_ID %q by class: %v", alias, objs)
			}
			s.Close()
		}
	})
}

// TestMatrixPrivateReadBack: a generated or imported private key is read back before the
// write is reported done.
//
// A Config.Templates rule "attributes(*, CKO_PRIVATE_KEY, *) = { CKA_ALWAYS_AUTHENTICATE =
// true }" makes a key that every module here accepts and none lets hsmstore use (each
// signature needs a context-specific login): Generate and Import fail naming the attribute
// (wrapping errors.ErrUnsupported), leave no object behind and start no recovery. Before,
// Import reported success with a key that could never sign, and Generate failed with
// ErrUnavailable after re-initialising the module (CKR_USER_NOT_LOGGED_IN from the
// certificate's signature, taken for a lost login).
//
// An extractable private key (KeySpec/KeyMaterial.Extractable: CKA_EXTRACTABLE=true,
// CKA_SENSITIVE=false) is made as asked on SoftHSM and opencryptoki; NSS softokn accepts the
// template and keeps the stored key sensitive (as it does secret keys), so there Generate and
// Import fail wrapping secrets.ErrNotExtractable naming CKA_SENSITIVE and leave nothing
// behind (before, both reported success); tpm2-pkcs11 refuses the template itself.
//
// keytool's layout has private keys with CKA_SENSITIVE=false (pkcs11.md): a rule asking for
// it makes the key as asked, or (NSS, depending on what the process did before) is refused
// naming CKA_SENSITIVE; never is a key made otherwise. tpm2-pkcs11 imports no private keys.
func TestMatrixPrivateReadBack(t *testing.T) {
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		km, err := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindRSA})
		if err != nil {
			t.Fatal(err)
		}
		for _, refused := range []bool{true, false} {
			a := pkcs11conf.Attribute{Type: pkcs11.CKA_ALWAYS_AUTHENTICATE, Kind: pkcs11conf.Bool, Bool: true}
			if !refused {
				a = pkcs11conf.Attribute{Type: pkcs11.CKA_SENSITIVE, Kind: pkcs11conf.Bool, Bool: false}
			}
			cfg := tokenConfig(tok)
			cfg.Templates = []pkcs11conf.AttributeRule{{Operation: pkcs11conf.OpAny, Class: pkcs11.CKO_PRIVATE_KEY, KeyType: pkcs11conf.Any, Attributes: []pkcs11conf.Attribute{a}}}
			s, err := hsmstore.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, how := range []string{"generate", "import"} {
				if how == "import" && tok.Module.Name == p11test.TPM2 {
					continue
				}
				alias := "readback-priv-" + how
				_ = s.Delete(ctx, alias)
				before := s.Stats()
				if how == "generate" {
					_, err = s.Generate(ctx, alias, secrets.KeySpec{Kind: secrets.KindRSA}, false)
				} else {
					_, err = s.Import(ctx, alias, km, false)
				}
				if !refused {
					// Made as asked, or refused naming CKA_SENSITIVE; never made otherwise.
					switch {
					case err == nil:
						if v := rawBool(t, tok, alias, pkcs11.CKA_SENSITIVE); v {
							t.Fatalf("%s with CKA_SENSITIVE=false: made with CKA_SENSITIVE=true", how)
						}
						_ = s.Delete(ctx, alias)
					case errors.Is(err, errors.ErrUnsupported) && strings.Contains(err.Error(), "CKA_SENSITIVE=true though CKA_SENSITIVE=false"):
						t.Logf("%v: %s: %v", tok, how, err)
						if objs := rawObjects(t, tok, alias); len(objs) != 0 {
							t.Fatalf("after the refused %s, objects with CKA_ID %q by class: %v", how, alias, objs)
						}
					default:
						t.Fatalf("%s with CKA_SENSITIVE=false: %v", how, err)
					}
					continue
				}
				if !errors.Is(err, errors.ErrUnsupported) || errors.Is(err, hsmstore.ErrUnavailable) || !strings.Contains(err.Error(), "CKA_ALWAYS_AUTHENTICATE=true") {
					t.Fatalf("%s with CKA_ALWAYS_AUTHENTICATE=true: %v, want ErrUnsupported naming CKA_ALWAYS_AUTHENTICATE", how, err)
				}
				t.Logf("%v: %s: %v", tok, how, err)
				if after := s.Stats(); after.Recoveries != before.Recoveries || after.Reinits != before.Reinits {
					t.Fatalf("%s: recoveries %d -> %d, reinits %d -> %d: a refused key is no fault", how, before.Recoveries, after.Recoveries, before.Reinits, after.Reinits)
				}
				if _, err := s.Entry(ctx, alias); !errors.Is(err, secrets.ErrNotFound) {
					t.Fatalf("after the refused %s, Entry: %v, want ErrNotFound", how, err)
				}
				if objs := rawObjects(t, tok, alias); len(objs) != 0 {
					t.Fatalf("after the refused %s, objects with CKA_ID %q by class: %v", how, alias, objs)
				}
			}
			s.Close()
		}
		// Extractable private keys.
		s := openToken(t, tok)
		km.Extractable = true
		for _, how := range []string{"generate", "import"} {
			if tok.Module.Name == p11test.TPM2 && how == "import" {
				continue
			}
			alias := "readback-extractable-" + how
			_ = s.Delete(ctx, alias)
			if how == "generate" {
				_, err = s.Generate(ctx, alias, secrets.KeySpec{Kind: secrets.KindRSA, Extractable: true}, false)
			} else {
				_, err = s.Import(ctx, alias, km, false)
			}
			switch tok.Module.Name {
			case p11test.SoftHSM, p11test.OpenCryptoki:
				if err != nil {
					t.Fatalf("%s an extractable private key: %v", how, err)
				}
				if rawBool(t, tok, alias, pkcs11.CKA_SENSITIVE) || !rawBool(t, tok, alias, pkcs11.CKA_EXTRACTABLE) {
					t.Fatalf("%s an extractable private key: stored sensitive or not extractable", how)
				}
				_ = s.Delete(ctx, alias)
				continue
			case p11test.NSS, p11test.NSSP11Kit:
				if !errors.Is(err, secrets.ErrNotExtractable) || !strings.Contains(err.Error(), "CKA_SENSITIVE=true though CKA_SENSITIVE=false") {
					t.Fatalf("%s an extractable private key on NSS: %v, want ErrNotExtractable naming CKA_SENSITIVE", how, err)
				}
			default: // tpm2: the module refuses CKA_EXTRACTABLE=true with CKA_PRIVATE=true
				if err == nil {
					t.Fatalf("%s an extractable private key on tpm2 succeeded", how)
				}
			}
			t.Logf("%v: %s an extractable private key: %v", tok, how, err)
			if objs := rawObjects(t, tok, alias); len(objs) != 0 {
				t.Fatalf("after the refused %s, objects with CKA_ID %q by class: %v", how, alias, objs)
			}
		}
	})
}

// rawBool reads the boolean attribute typ of the private key with CKA_ID id.
func rawBool(t *testing.T, tok *p11test.Token, id string, typ uint) bool {
	t.Helper()
	p, sh := storeSession(t, tok)
	if err := p.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(id))}); err != nil {
		t.Fatal(err)
	}
	hs, _, err := p.FindObjects(sh, 2)
	p.FindObjectsFinal(sh)
	if err != nil || len(hs) != 1 {
		t.Fatalf("private key %q: %d found, %v", id, len(hs), err)
	}
	at, err := p.GetAttributeValue(sh, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	if err != nil || len(at) != 1 || len(at[0].Value) != 1 {
		t.Fatalf("private key %q: %s: %v", id, pkcs11conf.AttributeName(typ), err)
	}
	return at[0].Value[0] != 0
}
