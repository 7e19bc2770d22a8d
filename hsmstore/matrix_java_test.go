//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// sunPKCS11Conf writes a SunPKCS11 configuration for tok in library form (library, slot,
// and NSS's init arguments as nssArgs when it is loaded directly) and returns its path.
func sunPKCS11Conf(t *testing.T, tok *p11test.Token, name string, extra ...string) string {
	t.Helper()
	cfg := fmt.Sprintf("name = %s\nlibrary = %s\nslot = %d\n", name, tok.Module.Path, tok.SlotID)
	if tok.Module.InitArgs != "" {
		cfg += fmt.Sprintf("nssArgs = \"%s\"\n", tok.Module.InitArgs)
	}
	cfg += strings.Join(extra, "\n")
	p := filepath.Join(t.TempDir(), name+".cfg")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMatrixJava: Java's SunPKCS11 (OpenJDK, testdata/Harness.java and keytool, run now)
// on the keys hsmstore made, on every module Java reaches (SoftHSM: TestJavaInterop), each
// in a child process: keytool -list lists them; Java's HmacSHA256 and SHA256withRSA
// (PKCS#1 v1.5, deterministic) computed in the token equal hsmstore's byte for byte;
// SHA256withECDSA (randomised) is compared by verification both ways. Where the module lets
// Java in: opencryptoki (library form; no EC there), NSS loaded directly (library +
// nssArgs), NSS through p11-kit-client.so. Not tpm2-pkcs11: its keys come from tpm2_ptool
// without certificates, so SunPKCS11 lists no key entry (a private key without a
// certificate is invisible to it), and keytool -list on it is TestMatrixKeytoolTrustedCert.
func TestMatrixJava(t *testing.T) {
	java := testenv.LookPath(t, testenv.Java, "java")
	kt := testenv.LookPath(t, testenv.Java, "keytool")
	if os.Getenv("SECRETSTORES_MATRIX_MODULE") == "" {
		for _, name := range []string{p11test.OpenCryptoki, p11test.NSS, p11test.NSSP11Kit} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				runModuleChild(t, name)
			})
		}
		return
	}
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		s := openToken(t, tok)
		ec := s.Supports(hsmstore.CapECDSASign) == nil
		specs := []struct {
			alias string
			spec  secrets.KeySpec
		}{
			{"java-hmac", secrets.KeySpec{Kind: secrets.KindSecret}},
			{"java-rsa", secrets.KeySpec{Kind: secrets.KindRSA}},
		}
		if ec {
			specs = append(specs, struct {
				alias string
				spec  secrets.KeySpec
			}{"java-ec", secrets.KeySpec{Kind: secrets.KindEC}})
		}
		for _, k := range specs {
			if _, err := s.Generate(ctx, k.alias, k.spec, false); err != nil {
				t.Fatalf("generate %s: %v", k.alias, err)
			}
		}
		const msg = "matrix java interop"
		d := sha256.Sum256([]byte(msg))
		hm := secretOf(t, s, "java-hmac")
		tag, err := hm.MAC(ctx, crypto.SHA256, []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		rs := secretOf(t, s, "java-rsa")
		rsaSig, err := rs.Sign(ctx, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		ops := []string{"list", "mac:java-hmac", "rsa:java-rsa", "verifyrsa:java-rsa:" + hex.EncodeToString(rsaSig)}
		var ecs *secrets.Secret
		var ecSig []byte
		if ec {
			ecs = secretOf(t, s, "java-ec")
			if ecSig, err = ecs.Sign(ctx, d[:], crypto.SHA256); err != nil {
				t.Fatal(err)
			}
			ops = append(ops, "ec:java-ec", "verifyec:java-ec:"+hex.EncodeToString(ecSig))
		}
		conf := sunPKCS11Conf(t, tok, "matrixjava")
		// keytool runs beside the harness (two JVMs at once: most of their time is start-up).
		cmd := exec.Command(kt, "-list", "-keystore", "NONE", "-storetype", "PKCS11", "-providerClass", "sun.security.pkcs11.SunPKCS11",
			"-providerArg", conf, "-storepass", tok.PIN)
		var ktOut strings.Builder
		cmd.Stdout, cmd.Stderr = &ktOut, &ktOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		res := harness(t, java, conf, tok.PIN, msg, ops...)
		t.Logf("%v: Java: %v", tok, res)
		if got, want := res["mac java-hmac"], hex.EncodeToString(tag); got != want {
			t.Errorf("Java's HmacSHA256 %s, hsmstore's %s", got, want)
		}
		if got, want := res["rsa java-rsa"], hex.EncodeToString(rsaSig); got != want {
			t.Errorf("Java's SHA256withRSA differs from hsmstore's:\n%s\n%s", got, want)
		}
		if err := rsa.VerifyPKCS1v15(rs.Public().(*rsa.PublicKey), crypto.SHA256, d[:], rsaSig); err != nil {
			t.Errorf("hsmstore's RSA signature: %v", err)
		}
		if res["verifyrsa java-rsa"] != "true" {
			t.Errorf("Java rejects hsmstore's RSA signature: %q", res["verifyrsa java-rsa"])
		}
		if ec {
			jsig, _ := hex.DecodeString(res["ec java-ec"])
			if !ecdsa.VerifyASN1(ecs.Public().(*ecdsa.PublicKey), d[:], jsig) {
				t.Errorf("Java's SHA256withECDSA signature %q does not verify with the entry's key", res["ec java-ec"])
			}
			if res["verifyec java-ec"] != "true" {
				t.Errorf("Java rejects hsmstore's ECDSA signature: %q", res["verifyec java-ec"])
			}
		}
		for _, k := range specs {
			want := "private"
			if k.spec.Kind == secrets.KindSecret {
				want = "secret"
			}
			if got := res["alias "+k.alias]; got != want {
				t.Errorf("Java's KeyStore lists %s as %q, want %q", k.alias, got, want)
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("keytool -list: %v\n%s", err, ktOut.String())
		}
		out := ktOut.String()
		for _, k := range specs {
			want := k.alias + ", PrivateKeyEntry"
			if k.spec.Kind == secrets.KindSecret {
				want = k.alias + ", SecretKeyEntry"
			}
			if !strings.Contains(out, want) {
				t.Errorf("keytool -list lacks %q:\n%s", want, out)
			}
		}
	})
}
