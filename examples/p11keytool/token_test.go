//go:build cgo

package main

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/clilog"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
)

// newToken makes a SoftHSM token with IDM's SunPKCS11 configuration and puts its PIN in
// $P11KEYTOOL_TEST_PIN.
func newToken(t *testing.T, label string) (*softhsmtest.Token, string) {
	t.Helper()
	tok := softhsmtest.New(t, label)
	t.Setenv("P11KEYTOOL_TEST_PIN", tok.PIN)
	return tok, tok.WriteSunPKCS11Config(t, "softHSM")
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := p11(t, args...)
	if code != 0 {
		t.Fatalf("p11keytool %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func TestIDMDefaults(t *testing.T) {
	ctx := context.Background()
	tok, conf := newToken(t, "idm")
	out := filepath.Join(t.TempDir(), "idm-hsm")
	pin := []string{"-providerArg", conf, "-pin-env", "P11KEYTOOL_TEST_PIN"}

	stdout := mustRun(t, append([]string{"idm-defaults", "-out", out}, pin...)...)
	for _, want := range []string{"openidm-sym-default", "openidm-jwtsessionhmac-key", "selfservice", "truststore.p12", "secrets.json"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("idm-defaults output lacks %q:\n%s", want, stdout)
		}
	}

	// A second run refuses to touch what is there, then keeps or replaces it when asked.
	_, errs, code := p11(t, append([]string{"idm-defaults", "-out", out}, pin...)...)
	if code != 1 || !strings.Contains(errs, "already exist") {
		t.Fatalf("second idm-defaults: exit %d, %s", code, errs)
	}
	_, errs, code = p11(t, append([]string{"idm-defaults", "-out", t.TempDir()}, pin...)...)
	if code != 1 || !strings.Contains(errs, "-keep-existing") {
		t.Fatalf("idm-defaults on a populated token: exit %d, %s", code, errs)
	}
	stdout = mustRun(t, append([]string{"idm-defaults", "-keep-existing", "-out", t.TempDir()}, pin...)...)
	if strings.Count(stdout, "kept (already on the token)") != 5 {
		t.Fatalf("-keep-existing:\n%s", stdout)
	}

	listing := mustRun(t, append([]string{"list"}, pin...)...)
	if !strings.Contains(listing, "Your keystore contains 5 entries") || !strings.Contains(listing, "openidm-localhost, PrivateKeyEntry,") {
		t.Fatalf("list:\n%s", listing)
	}

	// The secrets.json it wrote opens in Go as IDM would open it: the HSM through the
	// java.security line, the truststore as a PKCS#12 file.
	t.Run("SecretsJSON", func(t *testing.T) {
		props := secrets.MapProperties(map[string]string{"openidm.keystore.password": tok.PIN})
		cfg, err := secrets.LoadConfig(filepath.Join(out, "secrets.json"), props)
		if err != nil {
			t.Fatal(err)
		}
		master := filepath.Join(t.TempDir(), "master.security")
		var b strings.Builder
		for i := 1; i <= 12; i++ {
			b.WriteString("security.provider." + strconv.Itoa(i) + "=Provider" + strconv.Itoa(i) + "\n")
		}
		os.WriteFile(master, []byte(b.String()), 0o600)
		openers := filestore.Openers(filestore.OpenerOptions{})
		openers[secrets.ClassHSM] = hsmstore.NewOpener(hsmstore.OpenerOptions{JavaSecurity: []string{master, filepath.Join(out, "java.security")}})
		p, err := secrets.Open(ctx, cfg, openers, secrets.ProviderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for _, id := range []string{"idm.default", "idm.config.encryption", "idm.jwt.session.module.encryption", "idm.selfservice.encryption"} {
			s, err := p.Active(ctx, id, secrets.Encrypt)
			if err != nil {
				t.Fatal(err)
			}
			if s.Store() != "mainKeyStore" {
				t.Errorf("%s served by %s", id, s.Store())
			}
		}
		for _, id := range []string{"idm.jwt.session.module.signing", "idm.selfservice.signing"} {
			if _, err := p.Active(ctx, id, secrets.Sign); err != nil {
				t.Fatal(err)
			}
		}
		m, err := jwtsession.New(p, jwtsession.Config{})
		if err != nil {
			t.Fatalf("IDM's JWT session module on these keys: %v", err)
		}
		tokstr, err := m.Issue(ctx, jwtsession.Claims{Principal: "openidm-admin"})
		if err != nil {
			t.Fatal(err)
		}
		if s, err := m.Validate(ctx, tokstr); err != nil || s.Principal != "openidm-admin" {
			t.Fatalf("Validate: %v %v", s, err)
		}
		trust, err := filestore.Open(ctx, filepath.Join(out, "truststore.p12"), filestore.Config{Password: "changeit"})
		if err != nil {
			t.Fatal(err)
		}
		defer trust.Close()
		e, err := trust.Entry(ctx, "openidm-localhost")
		if err != nil || e.Kind() != secrets.KindCertificate || e.Chain()[0].Subject.CommonName != "localhost" {
			t.Fatalf("truststore entry: %v %v", e, err)
		}
	})

	// Java's keytool lists the token and the truststore; Java's Mac and Signature use the keys
	// and agree with Go byte for byte.
	t.Run("Java", func(t *testing.T) {
		kt := testenv.LookPath(t, testenv.Java, "keytool")
		java := testenv.LookPath(t, testenv.Java, "java")
		cmd := exec.Command(kt, "-list", "-keystore", "NONE", "-storetype", "PKCS11", "-providerClass", "sun.security.pkcs11.SunPKCS11",
			"-providerArg", conf, "-storepass:env", "P11KEYTOOL_TEST_PIN")
		jout, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keytool -list -storetype PKCS11: %v\n%s", err, jout)
		}
		for _, want := range []string{"Your keystore contains 5 entries", "openidm-sym-default, SecretKeyEntry", "openidm-selfservice-key, SecretKeyEntry",
			"openidm-jwtsessionhmac-key, SecretKeyEntry", "openidm-localhost, PrivateKeyEntry", "selfservice, PrivateKeyEntry"} {
			if !strings.Contains(string(jout), want) {
				t.Errorf("keytool -list lacks %q:\n%s", want, jout)
			}
		}
		jout, err = exec.Command(kt, "-list", "-keystore", filepath.Join(out, "truststore.p12"), "-storepass", "changeit").CombinedOutput()
		if err != nil || !strings.Contains(string(jout), "openidm-localhost") || !strings.Contains(string(jout), "trustedCertEntry") {
			t.Fatalf("keytool -list truststore.p12: %v\n%s", err, jout)
		}

		const msg = "p11keytool interop"
		src, _ := filepath.Abs("testdata/IDMCheck.java")
		jout, err = exec.Command(java, src, conf, tok.PIN, msg, "list", "mac:openidm-jwtsessionhmac-key", "enc:openidm-sym-default",
			"rsa:openidm-localhost", "rsa:selfservice").CombinedOutput()
		if err != nil {
			t.Fatalf("java IDMCheck.java: %v\n%s", err, jout)
		}
		res := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(jout)), "\n") {
			if f := strings.Fields(line); len(f) == 3 {
				res[f[0]+" "+f[1]] = f[2]
			}
		}
		st, err := hsmstore.OpenSunPKCS11(ctx, conf, tok.PIN)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		e, _ := st.Entry(ctx, "openidm-jwtsessionhmac-key")
		tag, err := secrets.NewSecret(st.Name(), e).MAC(ctx, crypto.SHA256, []byte(msg))
		if err != nil || hex.EncodeToString(tag) != res["mac openidm-jwtsessionhmac-key"] {
			t.Errorf("HMAC: Go %x (%v), Java %s", tag, err, res["mac openidm-jwtsessionhmac-key"])
		}
		e, _ = st.Entry(ctx, "openidm-sym-default")
		key, err := secrets.NewSecret(st.Name(), e).Export(ctx)
		if err != nil || hex.EncodeToString(key) != res["enc openidm-sym-default"] {
			t.Errorf("openidm-sym-default: Go export (%v) differs from Java's getEncoded", err)
		}
		d := sha256.Sum256([]byte(msg))
		for _, a := range []string{"openidm-localhost", "selfservice"} {
			if res["alias "+a] != "private" {
				t.Errorf("Java sees %s as %q", a, res["alias "+a])
			}
			e, _ := st.Entry(ctx, a)
			sig, _ := hex.DecodeString(res["rsa "+a])
			if err := rsa.VerifyPKCS1v15(e.Public().(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil {
				t.Errorf("%s: Java's SHA256withRSA signature does not verify under the certificate's key: %v", a, err)
			}
		}
	})
}

func TestCommands(t *testing.T) {
	ctx := context.Background()
	tok, conf := newToken(t, "cmds")
	dir := t.TempDir()
	pin := []string{"-providerArg", conf, "-pin-env", "P11KEYTOOL_TEST_PIN"}
	with := func(args ...string) []string { return append(args, pin...) }

	mustRun(t, with("genseckey", "-alias", "hmac", "-extractable")...)
	mustRun(t, with("genseckey", "-alias", "aes", "-keyalg", "AES", "-keysize", "128")...)
	_, errs, code := p11(t, with("genseckey", "-alias", "hmac")...)
	if code != 1 || !strings.Contains(errs, "alias hmac already exists; add -overwrite") {
		t.Fatalf("genseckey over an existing alias: exit %d %s", code, errs)
	}
	mustRun(t, with("genseckey", "-alias", "hmac", "-overwrite", "-keysize", "384")...)
	mustRun(t, with("genkeypair", "-alias", "ec", "-keyalg", "EC", "-keysize", "384", "-dname", "CN=ec.example, O=Example", "-validity", "30")...)
	_, errs, _ = p11(t, with("genkeypair", "-alias", "rsa", "-dname", "CN=rsa")...)
	// A dot per second after the first: a loaded machine may print some.
	if !regexp.MustCompile(`Generating RSA 2048-bit key for rsa on the token \.\.\.\.* done \(`).MatchString(errs) {
		t.Errorf("no progress for the key pair: %s", errs)
	}

	// exportcert, then importcert onto the token and into a PKCS#12 truststore.
	cer := filepath.Join(dir, "ec.pem")
	mustRun(t, with("exportcert", "-alias", "ec", "-rfc", "-file", cer)...)
	if _, errs, code := p11(t, with("exportcert", "-alias", "ec", "-file", cer)...); code != 1 || !strings.Contains(errs, "-overwrite") {
		t.Fatalf("exportcert over a file: %d %s", code, errs)
	}
	der := mustRun(t, with("exportcert", "-alias", "ec")...)
	b, _ := os.ReadFile(cer)
	blk, _ := pem.Decode(b)
	if blk == nil || string(blk.Bytes) != der {
		t.Fatal("exportcert -rfc and DER differ")
	}
	c, _ := x509.ParseCertificate(blk.Bytes)
	if c.Subject.CommonName != "ec.example" || c.Subject.Organization[0] != "Example" {
		t.Fatalf("subject %s", c.Subject)
	}
	mustRun(t, with("importcert", "-alias", "ec-trusted", "-file", cer)...)
	trust := filepath.Join(dir, "truststore.p12")
	t.Setenv("TRUST_PASS", "s3cret")
	mustRun(t, "importcert", "-alias", "ec", "-file", cer, "-keystore", trust, "-storepass-env", "TRUST_PASS")
	if _, errs, code := p11(t, "importcert", "-alias", "ec", "-file", cer, "-keystore", trust, "-storepass-env", "TRUST_PASS"); code != 1 || !strings.Contains(errs, "-overwrite") {
		t.Fatalf("importcert over an alias: %d %s", code, errs)
	}
	ts, err := filestore.Open(ctx, trust, filestore.Config{Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := ts.Entry(ctx, "ec"); err != nil || e.Kind() != secrets.KindCertificate {
		t.Fatalf("truststore: %v %v", e, err)
	}
	ts.Close()

	// importkeystore from a PKCS#12 file: secret keys, key pairs and certificates move.
	src := filepath.Join(dir, "src.p12")
	ks, err := filestore.Open(ctx, src, filestore.Config{Password: "srcpass", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	ks.Generate(ctx, "moved-hmac", secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256}, false)
	ks.Generate(ctx, "moved-rsa", secrets.KeySpec{Kind: secrets.KindRSA}, false)
	ks.Import(ctx, "moved-cert", secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{c}}, false)
	srcEntry, _ := ks.Entry(ctx, "moved-hmac")
	srcKey, _ := secrets.NewSecret("src", srcEntry).Export(ctx)
	srcRSA, _ := ks.Entry(ctx, "moved-rsa")
	ks.Close()
	pf := filepath.Join(dir, "srcpass")
	os.WriteFile(pf, []byte("srcpass\n"), 0o600)
	stdout, errs, code := p11(t, with("importkeystore", "-srckeystore", src, "-srcstorepass-file", pf, "-extractable")...)
	if code != 0 || !strings.Contains(stdout, "3 entries successfully imported, 0 entries failed") {
		t.Fatalf("importkeystore: exit %d\n%s\n%s", code, stdout, errs)
	}
	mustRun(t, with("importkeystore", "-srckeystore", src, "-srcstorepass-file", pf, "-srcalias", "moved-hmac", "-destalias", "renamed", "-extractable")...)

	// list -v, then check the token in Go.
	listing := mustRun(t, with("list", "-v")...)
	for _, want := range []string{"Alias name: ec\n", "Owner: CN=ec.example,O=Example", "Alias name: ec-trusted\nEntry type: trustedCertEntry", "Alias name: aes\nEntry type: SecretKeyEntry"} {
		if !strings.Contains(listing, want) {
			t.Errorf("list -v lacks %q:\n%s", want, listing)
		}
	}
	st, err := hsmstore.OpenSunPKCS11(ctx, conf, tok.PIN)
	if err != nil {
		t.Fatal(err)
	}
	// The moved key pair signs inside the token, verifiably with the source's public key.
	rsaEntry, err := st.Entry(ctx, "moved-rsa")
	if err != nil || rsaEntry.Kind() != secrets.KindRSA {
		t.Fatalf("moved-rsa on the token: %v", err)
	}
	digest := sha256.Sum256([]byte("moved"))
	sig, err := secrets.NewSecret(st.Name(), rsaEntry).Sign(ctx, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(srcRSA.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("the moved key is not the source's: %v", err)
	}
	for _, a := range []string{"moved-hmac", "renamed"} {
		e, err := st.Entry(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		k, err := secrets.NewSecret(st.Name(), e).Export(ctx)
		if err != nil || !strings.EqualFold(hex.EncodeToString(k), hex.EncodeToString(srcKey)) {
			t.Fatalf("%s on the token: %v", a, err)
		}
	}
	e, _ := st.Entry(ctx, "hmac")
	if k, err := secrets.NewSecret(st.Name(), e).Export(ctx); err != nil || len(k) != 48 {
		t.Fatalf("overwritten hmac: %d bytes, %v", len(k), err)
	}
	e, _ = st.Entry(ctx, "aes")
	if e.Kind() != secrets.KindAES {
		t.Fatalf("aes: %v", e.Kind())
	}
	st.Close()

	// delete, and the pkcs11: URI with the PIN from the prompt and from pin-source.
	mustRun(t, with("delete", "-alias", "ec")...)
	if _, errs, code := p11(t, with("delete", "-alias", "ec")...); code != 1 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("delete twice: %d %s", code, errs)
	}
	old := promptSecret
	defer func() { promptSecret = old }()
	prompted := ""
	promptSecret = func(prompt string) (string, error) { prompted = prompt; return tok.PIN, nil }
	uri := "pkcs11:token=" + tok.Label + ";module-path=" + tok.Module
	if out := mustRun(t, "list", "-uri", uri); !strings.Contains(out, "rsa, PrivateKeyEntry") || strings.Contains(out, "ec, PrivateKeyEntry") || prompted == "" {
		t.Fatalf("list -uri with a prompt (%q):\n%s", prompted, out)
	}
	prompted = ""
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte(tok.PIN), 0o600)
	if out := mustRun(t, "list", "-uri", uri+";pin-source="+pinFile); !strings.Contains(out, "hmac, SecretKeyEntry") || prompted != "" {
		t.Fatalf("list -uri with pin-source (prompted %q):\n%s", prompted, out)
	}
	t.Setenv("P11KEYTOOL_TEST_PIN", "0000")
	if _, errs, code := p11(t, with("list")...); code != 1 || !strings.Contains(errs, "wrong PIN") || strings.Contains(errs, "0000") {
		t.Fatalf("wrong PIN: %d %s", code, errs)
	}
}

// TestLogLinesOnlyWithV: the library's informational log lines ("hsmstore: logged in") are
// printed only with -v; without it the command's own output is all there is.
func TestLogLinesOnlyWithV(t *testing.T) {
	_, conf := newToken(t, "quiet")
	logs := clilog.Capture(t)
	mustRun(t, "list", "-providerArg", conf, "-pin-env", "P11KEYTOOL_TEST_PIN")
	if s := logs.String(); strings.Contains(s, "hsmstore: logged in") {
		t.Errorf("list without -v printed the library's log lines:\n%s", s)
	}
	mustRun(t, "list", "-v", "-providerArg", conf, "-pin-env", "P11KEYTOOL_TEST_PIN")
	if s := logs.String(); !strings.Contains(s, "INFO hsmstore: logged in token=quiet") {
		t.Errorf("list -v did not print the library's log lines:\n%q", s)
	}
}
