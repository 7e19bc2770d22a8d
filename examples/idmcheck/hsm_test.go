package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/clilog"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/jsoncrypto"
)

func TestMain(m *testing.M) {
	cleanup, err := softhsmtest.Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "softhsmtest:", err)
		os.Exit(2)
	}
	code := m.Run()
	cleanup()
	if p11keytoolBin.path != "" {
		os.RemoveAll(filepath.Dir(p11keytoolBin.path))
	}
	os.Exit(code)
}

var p11keytoolBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// p11keytool builds examples/p11keytool once per test binary.
func p11keytool(t *testing.T) string {
	t.Helper()
	p11keytoolBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "idmcheck-p11keytool-")
		if err != nil {
			p11keytoolBin.err = err
			return
		}
		bin := filepath.Join(dir, "p11keytool")
		gobin, err := exec.LookPath("go")
		if err != nil {
			p11keytoolBin.err = err
			return
		}
		p11keytoolBin.out, p11keytoolBin.err = exec.Command(gobin, "build", "-o", bin, "../p11keytool").CombinedOutput()
		p11keytoolBin.path = bin
	})
	if p11keytoolBin.err != nil {
		t.Fatalf("building p11keytool: %v\n%s", p11keytoolBin.err, p11keytoolBin.out)
	}
	return p11keytoolBin.path
}

// jdk17Providers is the security.provider list of JDK 17's java.security (1-12), so that the
// HSM line p11keytool writes (13) is read without a JDK installed.
const jdk17Providers = `security.provider.1=SUN
security.provider.2=SunRsaSign
security.provider.3=SunEC
security.provider.4=SunJSSE
security.provider.5=SunJCE
security.provider.6=SunJGSS
security.provider.7=SunSASL
security.provider.8=XMLDSig
security.provider.9=SunPCSC
security.provider.10=JdkLDAP
security.provider.11=JdkSASL
security.provider.12=SunPKCS11
`

type hsmProject struct {
	dir, conf  string
	args       []string
	tok        *softhsmtest.Token
	jsBase, js string
}

// hsmProjectOn makes the HSM project PingIDM's procedure makes, with p11keytool
// idm-defaults on a fresh SoftHSM token: keys on the token, truststore.p12, secrets.json and
// the java.security line, plus authentication.json and a $crypto value made with the
// token's openidm-sym-default. The PIN is in OPENIDM_KEYSTORE_PASSWORD, as IDM reads it.
func hsmProjectOn(t *testing.T) *hsmProject {
	t.Helper()
	tok := softhsmtest.New(t, "idm")
	bin := p11keytool(t)
	dir := t.TempDir()
	conf := tok.WriteSunPKCS11Config(t, "softHSM")
	out := filepath.Join(dir, "idm-hsm")
	cmd := exec.Command(bin, "idm-defaults", "-providerArg", conf, "-pin-env", "IDMCHECK_TEST_PIN", "-out", out)
	cmd.Env = append(os.Environ(), "IDMCHECK_TEST_PIN="+tok.PIN)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("p11keytool idm-defaults: %v\n%s", err, b)
	}
	sj, err := os.ReadFile(filepath.Join(out, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "conf", "secrets.json"), string(sj))
	write(t, filepath.Join(dir, "conf", "authentication.json"), authJSON)
	write(t, filepath.Join(dir, "resolver", "boot.properties"), "openidm.port.http=8080\n")
	base := filepath.Join(dir, "jdk-java.security")
	write(t, base, jdk17Providers)
	t.Setenv("OPENIDM_KEYSTORE_PASSWORD", tok.PIN)

	ctx := context.Background()
	st, err := hsmstore.OpenSunPKCS11(ctx, conf, tok.PIN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{{SecretID: "idm.password.encryption", Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: []string{"openidm-sym-default"}}}, secrets.ProviderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsoncrypto.Encrypt(ctx, p, "idm.password.encryption", plainText)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "conf", "provisioner.openicf-ldap.json"), `{"configurationProperties": {"credentials": `+string(v)+`}}`)
	js := filepath.Join(out, "java.security")
	return &hsmProject{dir: dir, conf: conf, tok: tok, jsBase: base, js: js,
		args: []string{"-project", dir, "-java-security", base, "-java-security", js}}
}

// pinRE matches the PIN as a word (SoftHSM test tokens all use one short PIN, which could
// otherwise appear inside a random temporary path).
func noPIN(t *testing.T, pin, out string) {
	t.Helper()
	if regexp.MustCompile(`\b` + regexp.QuoteMeta(pin) + `\b`).MatchString(out) {
		t.Errorf("output contains the PIN:\n%s", out)
	}
}

func TestHSMProjectAllOK(t *testing.T) {
	hp := hsmProjectOn(t)
	before := tokenAliases(t, hp)
	out, rep, code := idmcheck(t, nil, hp.args...)
	noPIN(t, hp.tok.PIN, out)
	if after := tokenAliases(t, hp); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("the token changed: %q before, %q after", before, after)
	}
	if code != 0 || rep.Warnings != 0 || rep.Errors != 0 {
		t.Fatalf("exit %d, %d warnings, %d errors:\n%s", code, rep.Warnings, rep.Errors, out)
	}
	for _, want := range []string{"file.javasecurity", "file.sunpkcs11", "store.open", "mapping", "key.rules", "cert", "cert.truststore", "crypto.file", "session.key"} {
		if len(rep.find(want, "ok")) == 0 {
			t.Errorf("no ✓ for %s:\n%s", want, out)
		}
	}
	t.Log("\n" + out)
}

func TestHSMDefectNonExtractableHMAC(t *testing.T) {
	hp := hsmProjectOn(t)
	ctx := context.Background()
	// Without the configuration's attributes template, a generated key is sensitive and not
	// extractable: what keytool makes on a token whose SunPKCS11 config lacks the template.
	st, err := hsmstore.Open(ctx, hsmstore.Config{Library: hp.tok.Module, TokenLabel: hp.tok.Label, PIN: hp.tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Generate(ctx, "openidm-jwtsessionhmac-key", secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Algorithm: "HmacSHA256"}, true)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, rep, code := idmcheck(t, nil, hp.args...)
	noPIN(t, hp.tok.PIN, out)
	wantFail(t, out, rep, code, "key.extractable", "idm.jwt.session.module.signing", "openidm-jwtsessionhmac-key is not extractable",
		"examples/p11keytool genseckey -providerArg "+hp.conf+" -pin-env OPENIDM_KEYSTORE_PASSWORD -alias openidm-jwtsessionhmac-key -keyalg HmacSHA256 -keysize 256 -extractable -overwrite")
}

func TestHSMDefectWrongPIN(t *testing.T) {
	hp := hsmProjectOn(t)
	const wrong = "987650"
	t.Setenv("OPENIDM_KEYSTORE_PASSWORD", wrong)
	// A second HsmBasedStore on the same PIN: it must not be tried after the first rejection.
	sjPath := filepath.Join(hp.dir, "conf", "secrets.json")
	sj, err := os.ReadFile(sjPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(sj, &doc); err != nil {
		t.Fatal(err)
	}
	stores := doc["stores"].([]any)
	second := map[string]any{"name": "secondHsmStore", "class": secrets.ClassHSM, "config": map[string]any{
		"providerName": "SunPKCS11-softHSM", "storetype": "PKCS11", "storePassword": "&{openidm.keystore.password}", "mappings": []any{}}}
	doc["stores"] = append(stores, second)
	sj, _ = json.Marshal(doc)
	write(t, sjPath, string(sj))
	out, rep, code := idmcheck(t, []string{wrong}, hp.args...)
	noPIN(t, hp.tok.PIN, out)
	wantFail(t, out, rep, code, "store.pin", "mainKeyStore", "PIN was rejected (one login attempt made", "openidm.keystore.password", "p11keytool list -providerArg "+hp.conf)
	wantFail(t, out, rep, code, "store.pin", "secondHsmStore", "not opened: an earlier PIN was rejected")
	// The truststore is a file: still checked.
	if len(rep.find("store.open", "ok")) != 1 {
		t.Errorf("want the truststore checked:\n%s", out)
	}
}

func TestHSMDefectProviderAfterGap(t *testing.T) {
	hp := hsmProjectOn(t)
	write(t, hp.js, "security.provider.14=SunPKCS11 "+hp.conf+"\n")
	out, rep, code := idmcheck(t, nil, hp.args...)
	wantFail(t, out, rep, code, "file.javasecurity.gap", "security.provider.14 is ignored", "security.provider.13=SunPKCS11 "+hp.conf)
	wantFail(t, out, rep, code, "store.provider", "mainKeyStore", "SunPKCS11-softHSM", "security.provider.13")
}

func TestHSMDefectTwoTokensMatchSelector(t *testing.T) {
	util := testenv.LookPath(t, testenv.SoftHSM, "softhsm2-util")
	hp := hsmProjectOn(t)
	label := "idm-dup-" + strconv.Itoa(os.Getpid()%100000)
	for i := 0; i < 2; i++ {
		if b, err := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", hp.tok.SOPIN, "--pin", hp.tok.PIN).CombinedOutput(); err != nil {
			t.Fatalf("softhsm2-util: %v\n%s", err, b)
		}
	}
	conf := filepath.Join(hp.dir, "dup.cfg")
	write(t, conf, "name = softHSM\nlibrary = "+hp.tok.Module+"\n#secretstores: tokenLabel = "+label+"\n")
	out, rep, code := idmcheck(t, nil, "-project", hp.dir, "-pkcs11", conf)
	noPIN(t, hp.tok.PIN, out)
	wantFail(t, out, rep, code, "store.token.ambiguous", "tokenLabel "+label, "matches 2 tokens", "no login attempted", "unique label")
}

// tokenAliases lists the token's entries, to show that idmcheck writes nothing.
func tokenAliases(t *testing.T, hp *hsmProject) []string {
	t.Helper()
	st, err := hsmstore.OpenSunPKCS11(context.Background(), hp.conf, hp.tok.PIN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	as, err := st.Aliases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(as)
	return as
}

func TestHSMUniqueTokenLabelOpens(t *testing.T) {
	hp := hsmProjectOn(t)
	// Selecting by label lists the tokens first (no login); the store must still open after.
	conf := filepath.Join(hp.dir, "bylabel.cfg")
	write(t, conf, "name = softHSM\nlibrary = "+hp.tok.Module+"\n#secretstores: tokenLabel = "+hp.tok.Label+"\nattributes(*, CKO_SECRET_KEY, *) = {\n  CKA_EXTRACTABLE = true\n  CKA_SENSITIVE = false\n}\n")
	out, rep, code := idmcheck(t, nil, "-project", hp.dir, "-pkcs11", conf)
	if code != 0 || len(rep.find("store.open", "ok")) != 2 {
		t.Fatalf("exit %d, want 0 and both stores open:\n%s", code, out)
	}
}

func TestLogLinesOnlyWithV(t *testing.T) {
	hp := hsmProjectOn(t)
	logs := clilog.Capture(t)
	var out, errb bytes.Buffer
	if code := run(hp.args, &out, &errb, false); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
	if s := logs.String(); strings.Contains(s, "hsmstore: logged in") {
		t.Errorf("idmcheck without -v printed the library's log lines:\n%s", s)
	}
	if code := run(append([]string{"-v"}, hp.args...), &out, &errb, false); code != 0 {
		t.Fatalf("-v: exit %d:\n%s%s", code, out.String(), errb.String())
	}
	s := logs.String()
	if !strings.Contains(s, "INFO hsmstore: logged in token="+hp.tok.Label) {
		t.Errorf("idmcheck -v did not print the library's log lines:\n%q", s)
	}
	noPIN(t, hp.tok.PIN, s)
	clilog.SetVerbose(false)
}
