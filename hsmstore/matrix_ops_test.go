//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// storeModules are the modules of the p11test matrix: NSS softokn both loaded directly
// (Config.InitArgs) and through p11-kit (nss-p11kit).
var storeModules = []string{p11test.SoftHSM, p11test.OpenCryptoki, p11test.TPM2, p11test.NSS, p11test.NSSP11Kit}

// eachStoreModule runs f as a subtest per module of storeModules on its shared token, each
// in a child process of its own (this test binary, SECRETSTORES_MATRIX_MODULE=name), as
// TestMatrix does: one module per process. opencryptoki 3.8 crashes in a second
// C_Initialize in one process and after SoftHSM was used there; its token is machine-wide
// and its lock held by the process that opened it (so the parent opens none of these
// modules); and tpm2-pkcs11 1.9 loses every object it creates in a process where
// opencryptoki 3.8 is loaded: both export a function object_create (opencryptoki's software
// token libpkcs11_sw.so, and tpm2-pkcs11, which calls its own through the PLT), and the
// dynamic linker binds tpm2-pkcs11's call to opencryptoki's (LD_DEBUG=bindings shows it), so
// tpm2's C_CreateObject returns CKR_OK and nothing is on the tpm2 token
// (TestMatrixKeytoolTrustedCert/tpm2: "lookup ... not found" right after the import;
// reproduced with an opencryptoki Store open first, not with SoftHSM's).
// Subtests run one after the other.
func eachStoreModule(t *testing.T, f func(t *testing.T, tok *p11test.Token)) {
	t.Helper()
	if name := os.Getenv("SECRETSTORES_MATRIX_MODULE"); name != "" {
		t.Run(name, func(t *testing.T) { f(t, p11test.SharedToken(t, name)) })
		return
	}
	for _, name := range storeModules {
		t.Run(name, func(t *testing.T) { runModuleChild(t, name) })
	}
}

// runModuleChild runs t's top-level test in a child process on module name only and
// reports its outcome as t's: a failure with the child's output, or a skip.
func runModuleChild(t *testing.T, name string) {
	t.Helper()
	top, _, _ := strings.Cut(t.Name(), "/")
	cmd := exec.Command(os.Args[0], "-test.run=^"+top+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "SECRETSTORES_MATRIX_MODULE="+name)
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("%s on %s (child process): %v\n%s", top, name, err, out)
	case strings.Contains(string(out), "--- SKIP: "+top+"/"+name):
		t.Skipf("%s skipped on %s:\n%s", top, name, out)
	case !strings.Contains(string(out), "--- PASS: "+top+"/"+name):
		t.Fatalf("%s on %s: the child process reported no result:\n%s", top, name, out)
	}
	t.Logf("%s", out)
}

// matrixStores holds one Store per matrix token but SoftHSM's for the whole test binary:
// never closed, so
// that no module is finalised and initialised again between tests (opencryptoki has crashed
// in a second C_Initialize in one process while other processes restarted its daemon).
var matrixStores sync.Map // Token.String() -> *hsmstore.Store

// tpmKeys are the algorithms of the keys the matrix tests use on tpm2, made with tpm2_ptool
// before the Store opens the token (the module reads its objects at login).
var tpmKeys = map[string]string{
	"oaep-tamper": p11test.TPMRSA2048, "mac-forged": p11test.TPMHMACSHA256, "cap-aes": p11test.TPMAES256,
	"bench-hmac": p11test.TPMHMACSHA256, "bench-rsa": p11test.TPMRSA2048,
}

// openToken returns the Store of a p11test token, opening it on first use. A SoftHSM or
// tpm2 store is opened per test and closed when t ends instead: those modules read their
// tokens and objects when initialised, and tests add them (tpm2 keys: tpmKeys, added
// before the open that needs them).
func openToken(t testing.TB, tok *p11test.Token) *hsmstore.Store {
	t.Helper()
	if tok.Module.Name == p11test.SoftHSM || tok.Module.Name == p11test.TPM2 {
		s, err := hsmstore.Open(context.Background(), tokenConfig(tok))
		if err != nil {
			t.Fatalf("open %v: %v", tok, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	if s, ok := matrixStores.Load(tok.String()); ok {
		return s.(*hsmstore.Store)
	}
	s, err := hsmstore.Open(context.Background(), tokenConfig(tok))
	if err != nil {
		t.Fatalf("open %v: %v", tok, err)
	}
	matrixStores.Store(tok.String(), s)
	return s
}

// matrixKey returns the Store of tok and the entry alias of kind on it: made by tpm2_ptool
// on tpm2 (see tpmKeys; no C_GenerateKey there), by Generate elsewhere, once per binary.
func matrixKey(t *testing.T, tok *p11test.Token, alias string, kind secrets.Kind) (*hsmstore.Store, secrets.Entry) {
	t.Helper()
	ctx := context.Background()
	if tok.Module.Name == p11test.TPM2 {
		tok.AddKey(t, alias, tpmKeys[alias])
	}
	s := openToken(t, tok)
	e, err := s.Entry(ctx, alias)
	if errors.Is(err, secrets.ErrNotFound) && tok.Module.Name != p11test.TPM2 {
		e, err = s.Generate(ctx, alias, secrets.KeySpec{Kind: kind}, false)
	}
	if err != nil {
		t.Fatalf("%v: key %q: %v", tok, alias, err)
	}
	return s, e
}

// TestMatrixTamperedOAEP: a tampered RSA-OAEP ciphertext (attacker input) is a failed
// decryption, and the 100 good decryptions after it all succeed, with Ping honest
// throughout, on every module: tpm2-pkcs11 keeps a failed C_Decrypt's operation active, and
// a session returned to the pool so answered CKR_OPERATION_ACTIVE to every later call.
func TestMatrixTamperedOAEP(t *testing.T) {
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		s, e := matrixKey(t, tok, "oaep-tamper", secrets.KindRSA)
		dec := e.(secrets.EntryDecrypter)
		pub := e.Public().(*rsa.PublicKey)
		opts := &rsa.OAEPOptions{Hash: crypto.SHA1}
		msg := []byte("attack at dawn")
		good, err := rsa.EncryptOAEP(crypto.SHA1.New(), rand.Reader, pub, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), good...)
		bad[len(bad)/2] ^= 0x40
		before := s.Stats()
		for round := 0; round < 3; round++ {
			if _, err := dec.Decrypt(ctx, bad, opts); !errors.Is(err, secrets.ErrVerification) || errors.Is(err, secrets.ErrUnavailable) {
				t.Fatalf("round %d: tampered ciphertext: %v, want ErrVerification", round, err)
			}
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("round %d: Ping after the tampered ciphertext: %v", round, err)
			}
		}
		for i := 0; i < 100; i++ {
			pt, err := dec.Decrypt(ctx, good, opts)
			if err != nil || string(pt) != string(msg) {
				t.Fatalf("good decryption %d after a tampered one: %q, %v", i, pt, err)
			}
			if i%10 == 0 {
				if err := s.Ping(ctx); err != nil {
					t.Fatalf("Ping after good decryption %d: %v", i, err)
				}
			}
		}
		after := s.Stats()
		if after.Recoveries != before.Recoveries || after.Reinits != before.Reinits || !after.Up {
			t.Fatalf("recoveries %d -> %d, reinits %d -> %d, up %v: a failed decryption is no fault",
				before.Recoveries, after.Recoveries, before.Reinits, after.Reinits, after.Up)
		}
		t.Logf("%v: stats %+v", tok, after)
	})
}

// TestMatrixOAEP: RSA-OAEP with SHA-1 and SHA-256, without a label, decrypts what
// crypto/rsa encrypted, or (SHA-256 on a token without it) fails wrapping
// errors.ErrUnsupported; on NSS both work (it refuses OAEP parameters whose source is not
// CKZ_DATA_SPECIFIED, which hsmstore sent for an empty label).
func TestMatrixOAEP(t *testing.T) {
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		_, e := matrixKey(t, tok, "oaep-tamper", secrets.KindRSA)
		dec := e.(secrets.EntryDecrypter)
		pub := e.Public().(*rsa.PublicKey)
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			for _, label := range [][]byte{nil, {}} {
				ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, []byte("oaep"), label)
				if err != nil {
					t.Fatal(err)
				}
				pt, err := dec.Decrypt(ctx, ct, &rsa.OAEPOptions{Hash: h, Label: label})
				switch {
				case err == nil && string(pt) == "oaep":
				case h != crypto.SHA1 && errors.Is(err, errors.ErrUnsupported) && tok.Module.Name != p11test.NSS && tok.Module.Name != p11test.NSSP11Kit:
					t.Logf("%v: OAEP %v: %v", tok, h, err)
				default:
					t.Errorf("OAEP %v, label %q: %q, %v", h, label, pt, err)
				}
			}
		}
	})
}

// TestMatrixForgedMAC: 1,000 forged HMAC tags are 1,000 failed checks (ErrVerification),
// never an outage: no recovery, no ErrUnavailable, and a correct tag verifies right after,
// on every module. NSS answers a wrong tag with CKR_DEVICE_ERROR, which hsmstore took for a
// dead device: the first forged tag re-initialised the module.
func TestMatrixForgedMAC(t *testing.T) {
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		s, e := matrixKey(t, tok, "mac-forged", secrets.KindSecret)
		k := e.(interface {
			secrets.EntryMAC
			secrets.EntryMACVerifier
		})
		msg := []byte("forged")
		tag, err := k.MAC(ctx, crypto.SHA256, msg)
		if err != nil {
			t.Fatal(err)
		}
		before := s.Stats()
		forged := append([]byte(nil), tag...)
		for i := 0; i < 1000; i++ {
			forged[i%len(forged)] ^= byte(1 + i%255)
			err := k.VerifyMAC(ctx, crypto.SHA256, msg, forged)
			if !errors.Is(err, secrets.ErrVerification) || errors.Is(err, secrets.ErrUnavailable) {
				t.Fatalf("forged tag %d: %v, want ErrVerification", i, err)
			}
			copy(forged, tag)
		}
		if err := k.VerifyMAC(ctx, crypto.SHA256, msg, tag); err != nil {
			t.Fatalf("the correct tag after 1,000 forged ones: %v", err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		after := s.Stats()
		if after.Recoveries != before.Recoveries || after.Reinits != before.Reinits || after.Faults != before.Faults || after.Errors != before.Errors {
			t.Fatalf("stats %+v -> %+v: a forged tag is no fault", before, after)
		}
		t.Logf("%v: %d probes found the token alive", tok, after.ProbedAlive-before.ProbedAlive)
	})
}

// capMatrixOp is the TestMatrix operation (matrixWant) a capability's check exercises.
var capMatrixOp = map[hsmstore.Capability]string{hsmstore.CapAESGCM: "AES-GCM", hsmstore.CapGenerateEC: "generate EC P-256"}

// TestMatrixCapabilities: what each module cannot do (modules.md: no AES-GCM on
// opencryptoki, tpm2-pkcs11 or through p11-kit's RPC; no EC on opencryptoki; no secret-key
// generation on tpm2-pkcs11) is reported by Supports and refused before any PKCS#11 call
// with an error wrapping errors.ErrUnsupported that names the mechanism; what it can do
// works.
func TestMatrixCapabilities(t *testing.T) {
	lacks := map[string][]hsmstore.Capability{
		p11test.SoftHSM:      nil,
		p11test.OpenCryptoki: {hsmstore.CapAESGCM, hsmstore.CapECDSASign, hsmstore.CapGenerateEC},
		p11test.TPM2:         {hsmstore.CapAESGCM, hsmstore.CapGenerateSecret},
		p11test.NSS:          nil,
		p11test.NSSP11Kit:    {hsmstore.CapAESGCM},
	}
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		if tok.Module.Name == p11test.TPM2 {
			tok.AddKey(t, "cap-aes", p11test.TPMAES256)
		}
		s := openToken(t, tok)
		t.Logf("%v: %v", tok, s.Capabilities())
		for _, c := range lacks[tok.Module.Name] {
			err := s.Supports(c)
			if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "CKM_") {
				t.Errorf("Supports(%s): %v, want ErrUnsupported naming the mechanism", c, err)
			}
			if slices.Contains(s.Capabilities(), c) {
				t.Errorf("Capabilities lists %s", c)
			}
		}
		// check runs prep, then checks that f fails before any call, naming mech, when c is
		// lacking; else it must succeed.
		check := func(c hsmstore.Capability, mech string, prep func(), f func() error) {
			t.Helper()
			prep()
			before := s.Stats().Operations
			err := f()
			if s.Supports(c) == nil {
				if w, ok := matrixWant[tok.Module.Name][capMatrixOp[c]]; ok && w.defect {
					// A known defect of TestMatrix's table: its outcome, exactly.
					if got := outcome(err); got != w.want {
						t.Errorf("%s: %s, want %q (the matrix's known defect changed: flip the row)", c, got, w.want)
					}
					return
				}
				if err != nil {
					t.Errorf("%s is supported but failed: %v", c, err)
				}
				return
			}
			if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), mech) {
				t.Errorf("%s: %v, want ErrUnsupported naming %s", c, err, mech)
			}
			if n := s.Stats().Operations; n != before {
				t.Errorf("%s: %d PKCS#11 operations before the refusal", c, n-before)
			}
		}
		check(hsmstore.CapGenerateSecret, "CKM_GENERIC_SECRET_KEY_GEN", func() { _ = s.Delete(ctx, "cap-secret") }, func() error {
			_, err := s.Generate(ctx, "cap-secret", secrets.KeySpec{Kind: secrets.KindSecret}, false)
			return err
		})
		var aes secrets.Entry
		if tok.Module.Name == p11test.TPM2 {
			var err error
			if aes, err = s.Entry(ctx, "cap-aes"); err != nil {
				t.Fatal(err)
			}
		} else {
			_ = s.Delete(ctx, "cap-aes")
			var err error
			if aes, err = s.Generate(ctx, "cap-aes", secrets.KeySpec{Kind: secrets.KindAES}, false); err != nil {
				t.Fatal(err)
			}
		}
		check(hsmstore.CapAESGCM, "CKM_AES_GCM", func() {}, func() error {
			sealed, err := aes.(secrets.EntryAEAD).Seal(ctx, []byte("gcm"), nil)
			if err != nil {
				return err
			}
			pt, err := aes.(secrets.EntryAEAD).Open(ctx, sealed, nil)
			if err == nil && string(pt) != "gcm" {
				err = fmt.Errorf("Open: %q", pt)
			}
			return err
		})
		if tok.Module.Name != p11test.TPM2 { // key pairs on tpm2: see TestMatrixGeneratePair
			check(hsmstore.CapGenerateEC, "CKM_EC_KEY_PAIR_GEN", func() { _ = s.Delete(ctx, "cap-ec") }, func() error {
				_, err := s.Generate(ctx, "cap-ec", secrets.KeySpec{Kind: secrets.KindEC}, false)
				return err
			})
		}
		if tok.Module.Name == p11test.TPM2 {
			// tpm2-pkcs11 has C_GenerateKey in no form, though it lists CKM_AES_KEY_GEN: the
			// first refusal is reported as unsupported, and Supports says so from then on.
			_, err := s.Generate(ctx, "cap-aes-gen", secrets.KeySpec{Kind: secrets.KindAES}, false)
			if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "C_GenerateKey") {
				t.Errorf("Generate AES on tpm2: %v, want ErrUnsupported naming C_GenerateKey", err)
			}
			if err := s.Supports(hsmstore.CapGenerateAES); !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("Supports(GENERATE-AES) after the refusal: %v", err)
			}
			return // C_CreateObject takes no private key there: nothing to import
		}
		var km secrets.KeyMaterial
		check(hsmstore.CapECDSASign, "CKM_ECDSA", func() {
			var err error
			if km, err = storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindEC, Subject: pkix.Name{CommonName: "cap-ec-import"}}); err != nil {
				t.Fatal(err)
			}
			km.Extractable = false // NSS keeps an extractable private key sensitive: see TestMatrixPrivateReadBack
			_ = s.Delete(ctx, "cap-ec-import")
		}, func() error {
			_, err := s.Import(ctx, "cap-ec-import", km, false)
			return err
		})
	})
}

// TestMatrixExtractableReadBack: a secret key generated or imported as extractable is read
// back; NSS keeps every stored secret key sensitive (modules.md), so there the write is
// refused naming CKA_SENSITIVE and nothing stays under the alias (Generate reported success
// and Export failed later); elsewhere Export returns the key. tpm2-pkcs11 makes no secret
// keys (no C_GenerateKey, C_CreateObject takes none).
func TestMatrixExtractableReadBack(t *testing.T) {
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		if tok.Module.Name == p11test.TPM2 {
			return
		}
		ctx := context.Background()
		s := openToken(t, tok)
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		for _, how := range []string{"generate", "import"} {
			alias := "readback-" + how
			_ = s.Delete(ctx, alias)
			var err error
			if how == "generate" {
				_, err = s.Generate(ctx, alias, secrets.KeySpec{Kind: secrets.KindSecret, Extractable: true}, false)
			} else {
				_, err = s.Import(ctx, alias, secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: raw, Extractable: true}, false)
			}
			if tok.Module.Name == p11test.NSS || tok.Module.Name == p11test.NSSP11Kit {
				if !errors.Is(err, secrets.ErrNotExtractable) || !strings.Contains(err.Error(), "CKA_SENSITIVE") {
					t.Fatalf("%s an extractable key on NSS: %v, want ErrNotExtractable naming CKA_SENSITIVE", how, err)
				}
				if _, err := s.Entry(ctx, alias); !errors.Is(err, secrets.ErrNotFound) {
					t.Fatalf("after the refused %s, Entry(%q): %v, want ErrNotFound (nothing left behind)", how, alias, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s an extractable key: %v", how, err)
			}
			e, err := s.Entry(ctx, alias)
			if err != nil {
				t.Fatal(err)
			}
			v, err := e.(secrets.EntryExporter).Export(ctx)
			if err != nil || len(v) != 32 || (how == "import" && string(v) != string(raw)) {
				t.Fatalf("Export after %s: %d bytes, %v", how, len(v), err)
			}
			_ = s.Delete(ctx, alias)
		}
	})
}
