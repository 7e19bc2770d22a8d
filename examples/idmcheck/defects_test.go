package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/jsoncrypto"
)

func openKeystore(t *testing.T, dir string) *filestore.Store {
	t.Helper()
	s, err := filestore.Open(context.Background(), filepath.Join(dir, "security", "keystore.p12"), filestore.Config{Password: storePass, Name: "mainKeyStore"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDefectWrongStorePassword(t *testing.T) {
	dir := fileProject(t)
	const wrong = "Wrong-S3cret-pass-88z"
	write(t, filepath.Join(dir, "resolver", "boot.properties"), "openidm.keystore.password="+wrong+"\nopenidm.truststore.password="+trustPass+"\n")
	out, rep, code := idmcheck(t, []string{wrong}, "-project", dir)
	wantFail(t, out, rep, code, "store.password", "mainKeyStore", "wrong store password", "openidm.keystore.password", "OPENIDM_KEYSTORE_PASSWORD", "keytool -storepasswd -keystore "+filepath.Join(dir, "security", "keystore.p12"))
}

func TestDefectMissingAlias(t *testing.T) {
	dir := fileProject(t)
	if err := openKeystore(t, dir).Delete(context.Background(), "openidm-jwtsessionhmac-key"); err != nil {
		t.Fatal(err)
	}
	out, rep, code := idmcheck(t, nil, "-project", dir)
	wantFail(t, out, rep, code, "mapping.alias", "idm.jwt.session.module.signing", "active alias openidm-jwtsessionhmac-key is not in the store",
		"keytool -genseckey -alias openidm-jwtsessionhmac-key -keyalg HmacSHA256 -keysize 256 -keystore "+filepath.Join(dir, "security", "keystore.p12"))
	wantFail(t, out, rep, code, "session.key", "idm.jwt.session.module.signing")
}

func TestDefectProviderAfterGap(t *testing.T) {
	dir := fileProject(t)
	js := ""
	for i, p := range []string{"SUN", "SunRsaSign", "SunEC", "SunJSSE", "SunJCE", "SunJGSS", "SunSASL", "XMLDSig", "SunPCSC", "JdkLDAP", "JdkSASL", "SunPKCS11"} {
		js += "security.provider." + strconv.Itoa(i+1) + "=" + p + "\n"
	}
	cfg := filepath.Join(dir, "softhsm.cfg")
	write(t, cfg, "name = softHSM\nlibrary = /nonexistent/libsofthsm2.so\nslotListIndex = 0\n")
	js += "security.provider.14=SunPKCS11 " + cfg + "\n"
	write(t, filepath.Join(dir, "java.security"), js)
	out, rep, code := idmcheck(t, nil, "-project", dir, "-java-security", filepath.Join(dir, "java.security"))
	wantFail(t, out, rep, code, "file.javasecurity.gap", "security.provider.14 is ignored", "security.provider.13=SunPKCS11 "+cfg)
}

func TestDefectExpiredCertificate(t *testing.T) {
	dir := fileProject(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost", Organization: []string{"OpenIDM Self-Signed Certificate"}},
		NotBefore: time.Now().Add(-400 * 24 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if _, err := openKeystore(t, dir).Import(context.Background(), "openidm-localhost", secrets.KeyMaterial{Kind: secrets.KindRSA, Private: key, Chain: []*x509.Certificate{cert}}, true); err != nil {
		t.Fatal(err)
	}
	out, rep, code := idmcheck(t, nil, "-project", dir)
	wantFail(t, out, rep, code, "cert.expiry", "mainKeyStore openidm-localhost", "is not valid now", "keytool -genkeypair -alias openidm-localhost")
	// The truststore still holds the old certificate: reported too.
	wantFail(t, out, rep, code, "cert.truststore", "keytool -exportcert -alias openidm-localhost", "keytool -importcert -alias openidm-localhost")
}

func TestDefectCryptoValueUnderRemovedAlias(t *testing.T) {
	dir := fileProject(t)
	ctx := context.Background()
	ks := openKeystore(t, dir)
	if _, err := ks.Generate(ctx, "openidm-sym-2019", secrets.KeySpec{Kind: secrets.KindAES, Bits: 256, Extractable: true}, false); err != nil {
		t.Fatal(err)
	}
	// A value encrypted when the mapping listed openidm-sym-2019; secrets.json no longer does.
	p, err := secrets.NewProvider([]secrets.Store{ks}, []secrets.Mapping{{SecretID: "idm.password.encryption", Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: []string{"openidm-sym-2019"}}}, secrets.ProviderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsoncrypto.Encrypt(ctx, p, "idm.password.encryption", plainText)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "conf", "managed.json"), `{"objects": [{"name": "user", "secret": `+string(v)+`}]}`)
	out, rep, code := idmcheck(t, nil, "-project", dir)
	wantFail(t, out, rep, code, "crypto.alias", "managed.json /objects/0/secret", "alias openidm-sym-2019, which the mapping of idm.password.encryption no longer lists",
		`add "openidm-sym-2019" after the active alias`)
}

func TestDefectUnreadableKeystore(t *testing.T) {
	dir := fileProject(t)
	ksPath := filepath.Join(dir, "security", "keystore.p12")
	for _, d := range []string{filepath.Dir(dir), dir, filepath.Dir(ksPath)} {
		os.Chmod(d, 0o755)
	}
	idmUser := 65534 // not the owner (this process)
	if os.Getuid() == 0 {
		idmUser = 4343
		if err := os.Chown(ksPath, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "security", "truststore.p12"), 0o644)
	if err := os.Chmod(ksPath, 0o600); err != nil {
		t.Fatal(err)
	}
	out, rep, code := idmcheck(t, nil, "-project", dir, "-user", strconv.Itoa(idmUser))
	wantFail(t, out, rep, code, "file.readable", "keystore "+ksPath+" is not readable by", "chown "+strconv.Itoa(idmUser)+" "+ksPath)
	if len(rep.find("store.open", "ok")) != 1 { // the truststore (0644) still opens
		t.Errorf("want the truststore to open:\n%s", out)
	}
}

func TestLegacyValueWarns(t *testing.T) {
	dir := fileProject(t)
	// A pre-2016 value: AES-CBC directly under the raw key, no salt, no MAC.
	e, err := openKeystore(t, dir).Entry(context.Background(), "openidm-sym-default")
	if err != nil {
		t.Fatal(err)
	}
	key, err := secrets.NewSecret("", e).Export(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte(`"` + plainText + `"`)
	pad := 16 - len(pt)%16
	pt = append(pt, bytes.Repeat([]byte{byte(pad)}, pad)...)
	iv := make([]byte, 16)
	rand.Read(iv)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	b64 := base64.StdEncoding.EncodeToString
	write(t, filepath.Join(dir, "conf", "old.json"), `{"pw": {"$crypto": {"type": "x-simple-encryption", "value": {"cipher": "AES/CBC/PKCS5Padding", "key": "openidm-sym-default", "iv": "`+b64(iv)+`", "data": "`+b64(ct)+`"}}}}`)
	out, rep, code := idmcheck(t, nil, "-project", dir)
	if code != 1 || len(rep.find("crypto.legacy", "warning")) != 1 {
		t.Errorf("exit %d: want exit 1 and the legacy value reported as a warning:\n%s", code, out)
	}
}

func TestDefectSessionKeyWrongKind(t *testing.T) {
	dir := fileProject(t)
	// The session's signing secret id pointed at an RSA key pair: SIGN accepts it, IDM's
	// session module (an HMAC key, exported) does not.
	write(t, filepath.Join(dir, "resolver", "boot.properties"), "openidm.keystore.password="+storePass+"\nopenidm.truststore.password="+trustPass+"\nopenidm.config.crypto.jwtsession.hmackey.alias=selfservice\n")
	out, rep, code := idmcheck(t, nil, "-project", dir)
	wantFail(t, out, rep, code, "session.kind", "idm.jwt.session.module.signing", "selfservice is a RSA key pair", "map idm.jwt.session.module.signing to a key of the right kind", "keytool -genseckey -alias openidm-jwtsessionhmac-key -keyalg HmacSHA256")
	wantFail(t, out, rep, code, "key.kind", "idm.jwt.session.module.signing", "IDM needs a secret key")
}

func TestDefectSessionModuleSetting(t *testing.T) {
	dir := fileProject(t)
	write(t, filepath.Join(dir, "conf", "authentication.json"), `{"serverAuthContext": {"sessionModule": {"name": "JWT_SESSION", "properties": {"maxTokenLifeMinutes": "two hours"}}}}`)
	out, rep, code := idmcheck(t, nil, "-project", dir)
	wantFail(t, out, rep, code, "session.module", "/serverAuthContext/sessionModule/properties/maxTokenLifeMinutes")
}

// selfSigned returns a self-signed certificate for key valid from notBefore to notAfter.
func selfSigned(t *testing.T, key *rsa.PrivateKey, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCertificateExpiringSoonWarns(t *testing.T) {
	dir := fileProject(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, key, "partner.example.com", time.Now().Add(-24*time.Hour), time.Now().Add(10*24*time.Hour))
	ts, err := filestore.Open(context.Background(), filepath.Join(dir, "security", "truststore.p12"), filestore.Config{Password: trustPass, Name: "mainTrustStore"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Import(context.Background(), "partner", secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{cert}}, false)
	ts.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, rep, code := idmcheck(t, nil, "-project", dir)
	if code != 1 || len(rep.find("cert.expiry", "warning")) != 1 {
		t.Fatalf("exit %d: want one certificate expiry warning and exit 1:\n%s", code, out)
	}
	if w := rep.find("cert.expiry", "warning")[0]; !strings.Contains(w, "mainTrustStore partner") || !strings.Contains(w, "expires in 9 days") && !strings.Contains(w, "expires in 10 days") {
		t.Errorf("warning %q", w)
	}
	// With -warn-days 5 it is fine.
	if _, _, code := idmcheck(t, nil, "-project", dir, "-warn-days", "5"); code != 0 {
		t.Errorf("-warn-days 5: exit %d, want 0", code)
	}
}

func TestDefectWrongStoreType(t *testing.T) {
	dir := fileProject(t)
	write(t, filepath.Join(dir, "resolver", "boot.properties"), "openidm.keystore.password="+storePass+"\nopenidm.truststore.password="+trustPass+"\nopenidm.keystore.type=JCEKS\n")
	out, rep, code := idmcheck(t, nil, "-project", dir)
	wantFail(t, out, rep, code, "store.open", "mainKeyStore", "does not open", "openidm.keystore.type", "OPENIDM_KEYSTORE_TYPE")
}

func TestDefectUnresolvedExpression(t *testing.T) {
	dir := fileProject(t)
	sj := filepath.Join(dir, "conf", "secrets.json")
	b, err := os.ReadFile(sj)
	if err != nil {
		t.Fatal(err)
	}
	// IDM's HSM secrets.json takes the password from a property with no default.
	write(t, sj, strings.Replace(string(b), "&{openidm.keystore.password|changeit}", "&{openidm.keystore.password}", 1))
	write(t, filepath.Join(dir, "resolver", "boot.properties"), "openidm.truststore.password="+trustPass+"\n")
	out, rep, code := idmcheck(t, nil, "-project", dir)
	wantFail(t, out, rep, code, "file.secrets", "/stores/0/config/storePassword", "openidm.keystore.password", "OPENIDM_KEYSTORE_PASSWORD")
}

func TestColourOnlyOnATerminal(t *testing.T) {
	dir := fileProject(t)
	var out, errb bytes.Buffer
	if code := run([]string{"-project", dir}, &out, &errb, true); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "\x1b[32m✓\x1b[0m") {
		t.Errorf("colour requested: want green ✓:\n%q", out.String())
	}
}

func TestDefectShortHMACKey(t *testing.T) {
	dir := fileProject(t)
	key := make([]byte, 16)
	rand.Read(key)
	if _, err := openKeystore(t, dir).Import(context.Background(), "openidm-jwtsessionhmac-key", secrets.KeyMaterial{Kind: secrets.KindSecret, Algorithm: "HmacSHA256", Secret: key}, true); err != nil {
		t.Fatal(err)
	}
	out, rep, code := idmcheck(t, nil, "-project", dir)
	wantFail(t, out, rep, code, "key.size", "idm.jwt.session.module.signing", "openidm-jwtsessionhmac-key is 128 bits; IDM requires at least 256",
		"keytool -delete -alias openidm-jwtsessionhmac-key", "keytool -genseckey -alias openidm-jwtsessionhmac-key -keyalg HmacSHA256 -keysize 256")
}

func TestOlderAliasesRetireAndMissing(t *testing.T) {
	dir := fileProject(t)
	if _, err := openKeystore(t, dir).Generate(context.Background(), "openidm-sym-2019", secrets.KeySpec{Kind: secrets.KindAES, Bits: 256, Extractable: true}, false); err != nil {
		t.Fatal(err)
	}
	sj := filepath.Join(dir, "conf", "secrets.json")
	b, err := os.ReadFile(sj)
	if err != nil {
		t.Fatal(err)
	}
	// Every $crypto secret id lists two older aliases: one still in the keystore but named by
	// no value (retirable), one gone from the keystore.
	write(t, sj, strings.ReplaceAll(string(b), `"&{openidm.config.crypto.alias|openidm-sym-default}"`, `"&{openidm.config.crypto.alias|openidm-sym-default}", "openidm-sym-2019", "openidm-sym-2017"`))
	out, rep, code := idmcheck(t, nil, "-project", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1 (warnings only)", code)
	}
	found := false
	for _, r := range rep.find("crypto.retire", "ok") {
		found = found || strings.Contains(r, "idm.password.encryption openidm-sym-2019: older alias no longer referenced")
	}
	if !found {
		t.Errorf("want openidm-sym-2019 of idm.password.encryption reported as retirable:\n%s", out)
	}
	if w := rep.find("mapping.alias.old", "warning"); len(w) != 3 || !strings.Contains(w[0], "older alias openidm-sym-2017 is not in the store") {
		t.Errorf("want the missing older alias warned for each of the three secret ids, got %q:\n%s", w, out)
	}
}
