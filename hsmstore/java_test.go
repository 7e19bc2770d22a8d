//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// keytool runs keytool against the token through SunPKCS11, as PingIDM's HSM guide does.
func keytool(t *testing.T, kt, conf, pin string, args ...string) string {
	t.Helper()
	args = append(args, "-keystore", "NONE", "-storetype", "PKCS11", "-providerClass", "sun.security.pkcs11.SunPKCS11",
		"-providerArg", conf, "-storepass", pin)
	out, err := exec.Command(kt, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("keytool %s: %v\n%s", strings.Join(args[:3], " "), err, out)
	}
	return string(out)
}

// harness runs testdata/Harness.java (SunPKCS11 Mac/Signature/KeyStore) and returns its
// output lines by their first two words ("mac alias").
func harness(t *testing.T, java, conf, pin, msg string, ops ...string) map[string]string {
	t.Helper()
	src, _ := filepath.Abs("testdata/Harness.java")
	args := append([]string{src, conf, pin, msg}, ops...)
	out, err := exec.Command(java, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("java Harness.java %v: %v\n%s", ops, err, out)
	}
	res := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			res[f[0]+" "+f[1]] = f[2]
		}
	}
	return res
}

func TestJavaInterop(t *testing.T) {
	kt := testenv.LookPath(t, testenv.Java, "keytool")
	java := testenv.LookPath(t, testenv.Java, "java")
	ctx := context.Background()
	tok := softhsmtest.New(t, "java")
	conf := tok.WriteSunPKCS11Config(t, "softHSM")
	const msg = "interop message"

	// The exact commands of IDM's HSM guide, plus an EC pair.
	for _, a := range []string{"openidm-sym-default", "openidm-jwtsessionhmac-key"} {
		keytool(t, kt, conf, tok.PIN, "-genseckey", "-alias", a, "-keyalg", "HmacSHA256", "-keysize", "256")
	}
	keytool(t, kt, conf, tok.PIN, "-genkeypair", "-alias", "openidm-localhost", "-keyalg", "RSA", "-keysize", "2048",
		"-validity", "3650", "-dname", "CN=localhost, O=OpenIDM Self-Signed Certificate")
	keytool(t, kt, conf, tok.PIN, "-genkeypair", "-alias", "java-ec", "-keyalg", "EC", "-groupname", "secp256r1",
		"-validity", "3650", "-dname", "CN=java-ec")
	javaRes := harness(t, java, conf, tok.PIN, msg,
		"mac:openidm-jwtsessionhmac-key", "enc:openidm-jwtsessionhmac-key", "enc:openidm-sym-default", "rsa:openidm-localhost", "ec:java-ec")

	s, err := hsmstore.OpenSunPKCS11(ctx, conf, tok.PIN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Name() != "SunPKCS11-softHSM" {
		t.Errorf("Name = %q", s.Name())
	}
	aliases, err := s.Aliases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(aliases, ","); got != "java-ec,openidm-jwtsessionhmac-key,openidm-localhost,openidm-sym-default" {
		t.Fatalf("Aliases = %s", got)
	}

	t.Run("KeytoolKeysInGo", func(t *testing.T) {
		for _, a := range []string{"openidm-sym-default", "openidm-jwtsessionhmac-key"} {
			e, err := s.Entry(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind() != secrets.KindSecret {
				t.Fatalf("%s: kind %v", a, e.Kind())
			}
			key, err := e.(secrets.EntryExporter).Export(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(key) != javaRes["enc "+a] {
				t.Fatalf("%s: exported bytes differ from Java's getEncoded()", a)
			}
		}
		e, _ := s.Entry(ctx, "openidm-jwtsessionhmac-key")
		tag, err := e.(secrets.EntryMAC).MAC(ctx, crypto.SHA256, []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(tag) != javaRes["mac openidm-jwtsessionhmac-key"] {
			t.Fatal("HMAC differs from Java's Mac")
		}
		e, err = s.Entry(ctx, "openidm-localhost")
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind() != secrets.KindRSA || e.Chain()[0].Subject.CommonName != "localhost" {
			t.Fatalf("openidm-localhost: %v %v", e.Kind(), e.Chain())
		}
		d := sha256.Sum256([]byte(msg))
		sig, err := e.(secrets.EntrySigner).Sign(ctx, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(sig) != javaRes["rsa openidm-localhost"] {
			t.Fatal("RSA signature differs from Java's SHA256withRSA")
		}
		e, err = s.Entry(ctx, "java-ec")
		if err != nil {
			t.Fatal(err)
		}
		jsig, _ := hex.DecodeString(javaRes["ec java-ec"])
		pub := e.Public().(*ecdsa.PublicKey)
		if !ecdsa.VerifyASN1(pub, d[:], jsig) {
			t.Fatal("Java's ECDSA signature does not verify with the entry's public key")
		}
		sig, err = e.(secrets.EntrySigner).Sign(ctx, d[:], crypto.SHA256)
		if err != nil || !ecdsa.VerifyASN1(pub, d[:], sig) {
			t.Fatalf("ECDSA with the keytool key: %v", err)
		}
	})

	t.Run("GoKeysInJava", func(t *testing.T) {
		if _, err := s.Generate(ctx, "go-hmac", secrets.KeySpec{Kind: secrets.KindSecret, Extractable: true}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Generate(ctx, "go-rsa", secrets.KeySpec{Kind: secrets.KindRSA}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Generate(ctx, "go-ec", secrets.KeySpec{Kind: secrets.KindEC}, false); err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256([]byte(msg))
		rsaE, _ := s.Entry(ctx, "go-rsa")
		rsaSig, err := rsaE.(secrets.EntrySigner).Sign(ctx, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		ecE, _ := s.Entry(ctx, "go-ec")
		ecSig, err := ecE.(secrets.EntrySigner).Sign(ctx, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		list := keytool(t, kt, conf, tok.PIN, "-list")
		for _, a := range []string{"go-hmac, SecretKeyEntry", "go-rsa, PrivateKeyEntry", "go-ec, PrivateKeyEntry", "openidm-localhost, PrivateKeyEntry"} {
			if !strings.Contains(list, a) {
				t.Errorf("keytool -list lacks %q:\n%s", a, list)
			}
		}
		res := harness(t, java, conf, tok.PIN, msg, "mac:go-hmac", "enc:go-hmac", "rsa:go-rsa", "ec:go-ec",
			"verifyrsa:go-rsa:"+hex.EncodeToString(rsaSig), "verifyec:go-ec:"+hex.EncodeToString(ecSig))
		hE, _ := s.Entry(ctx, "go-hmac")
		key, _ := hE.(secrets.EntryExporter).Export(ctx)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		if res["mac go-hmac"] != hex.EncodeToString(m.Sum(nil)) || res["enc go-hmac"] != hex.EncodeToString(key) {
			t.Fatal("Java's Mac or getEncoded of the Go-generated key differs")
		}
		if res["rsa go-rsa"] != hex.EncodeToString(rsaSig) {
			t.Fatal("Java's SHA256withRSA differs from hsmstore's")
		}
		if res["verifyrsa go-rsa"] != "true" || res["verifyec go-ec"] != "true" {
			t.Fatalf("Java rejects hsmstore signatures: %v", res)
		}
		jsig, _ := hex.DecodeString(res["ec go-ec"])
		if !ecdsa.VerifyASN1(ecE.Public().(*ecdsa.PublicKey), d[:], jsig) {
			t.Fatal("Java's ECDSA signature with the Go key does not verify")
		}
		if err := rsa.VerifyPKCS1v15(rsaE.Public().(*rsa.PublicKey), crypto.SHA256, d[:], rsaSig); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		if err := s.Delete(ctx, "go-rsa"); err != nil {
			t.Fatal(err)
		}
		list := keytool(t, kt, conf, tok.PIN, "-list")
		if strings.Contains(list, "go-rsa") {
			t.Fatalf("keytool still lists go-rsa:\n%s", list)
		}
	})
}

// TestMatrixKeytoolTrustedCert: after hsmstore imports a trusted certificate (and a key
// entry with a CA certificate in its chain), keytool -list through SunPKCS11 lists the
// token, on every module of the matrix (NSS directly, its C_Initialize arguments as SunPKCS11's
// nssArgs, and through p11-kit-client.so). Java's
// keystore loader aborts the whole token on tpm2-pkcs11 when a certificate has no CKA_ID,
// and hsmstore wrote trusted and CA certificates without one.
func TestMatrixKeytoolTrustedCert(t *testing.T) {
	kt := testenv.LookPath(t, testenv.Java, "keytool")
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		s := openToken(t, tok)
		ca := selfSigned(t, "CN=matrix trusted CA", true)
		alias := "trusted-" + tok.Module.Name
		for _, a := range []string{alias} {
			if err := s.Delete(ctx, a); err != nil && !errors.Is(err, secrets.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if _, err := s.Import(ctx, alias, secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{ca}}, false); err != nil {
			t.Fatalf("import trusted certificate: %v", err)
		}
		t.Cleanup(func() { _ = s.Delete(ctx, alias) })
		e, err := s.Entry(ctx, alias)
		if err != nil || e.Kind() != secrets.KindCertificate {
			t.Fatalf("entry %q: %v, %v", alias, e, err)
		}
		conf := filepath.Join(t.TempDir(), "p11.cfg")
		cfg := fmt.Sprintf("name = matrix\nlibrary = %s\nslot = %d\n", tok.Module.Path, tok.SlotID)
		if tok.Module.InitArgs != "" { // NSS loaded directly: its C_Initialize arguments
			cfg += fmt.Sprintf("nssArgs = \"%s\"\n", tok.Module.InitArgs)
		}
		if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(kt, "-list", "-keystore", "NONE", "-storetype", "PKCS11", "-providerClass", "sun.security.pkcs11.SunPKCS11",
			"-providerArg", conf, "-storepass", tok.PIN)
		cmd.Env = append(os.Environ(), tok.Module.Env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keytool -list on %v after a trusted-certificate import: %v\n%s", tok, err, out)
		}
		if !strings.Contains(string(out), "Your keystore contains") {
			t.Fatalf("keytool -list: %s", out)
		}
	})
}

// selfSigned makes a self-signed certificate (ECDSA P-256) with subject and issuer cn.
func selfSigned(t *testing.T, cn string, isCA bool) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	name := pkix.Name{CommonName: strings.TrimPrefix(cn, "CN="), Organization: []string{"secretstores test"}}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: name, Issuer: name,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
