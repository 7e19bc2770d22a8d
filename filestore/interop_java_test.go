package filestore

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// javaDumper compiles testdata/Dump.java (once per test binary) with javac into a
// temporary directory and returns a function that runs it on keystore files in dir.
var (
	dumperOnce sync.Once
	dumperDir  string
	dumperErr  error
)

func javaDump(t *testing.T) func(dir string, specs ...string) map[string]p12Expected {
	t.Helper()
	javac := testenv.LookPath(t, testenv.Java, "javac")
	java := testenv.LookPath(t, testenv.Java, "java")
	dumperOnce.Do(func() {
		dumperDir, dumperErr = os.MkdirTemp("", "filestore-dump")
		if dumperErr != nil {
			return
		}
		src, _ := filepath.Abs("testdata/Dump.java")
		out, err := exec.Command(javac, "-d", dumperDir, src).CombinedOutput()
		if err != nil {
			dumperErr = &exec.Error{Name: "javac: " + string(out), Err: err}
		}
	})
	if dumperErr != nil {
		t.Fatal(dumperErr)
	}
	return func(dir string, specs ...string) map[string]p12Expected {
		t.Helper()
		outFile := filepath.Join(t.TempDir(), "dump.json")
		cmd := exec.Command(java, append([]string{"-cp", dumperDir, "Dump", outFile}, specs...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("java Dump %v: %v\n%s", specs, err, out)
		}
		return p12LoadExpected(t, outFile)
	}
}

func keytool(t *testing.T, args ...string) string {
	t.Helper()
	kt := testenv.LookPath(t, testenv.Java, "keytool")
	out, err := exec.Command(kt, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("keytool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestJavaReadsGoKeystore: a keystore written by this package is listed by keytool, Java
// reads every key exactly (secret bytes, HMAC known answer, public keys, RSA signatures
// equal to Go's, ECDSA signatures that verify), keytool can modify it, and the keytool-modified
// file opens in Go with every entry as Java sees it; Go writes to it once more and keytool
// still lists it.
func TestJavaReadsGoKeystore(t *testing.T) {
	dump := javaDump(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "go.p12")
	s, err := Open(ctx, path, Config{Password: "s3cret-pw", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mine := map[string]secrets.KeyMaterial{
		"hmac-go":   {Kind: secrets.KindSecret, Algorithm: "HmacSHA256", Secret: bytes.Repeat([]byte{0xa5}, 32)},
		"hmac512":   {Kind: secrets.KindSecret, Algorithm: "HmacSHA512", Secret: bytes.Repeat([]byte{0x5a}, 64)},
		"aes128-go": {Kind: secrets.KindAES, Secret: []byte("0123456789abcdef")},
		"aes256-go": {Kind: secrets.KindAES, Secret: []byte("0123456789abcdef0123456789abcdef")},
	}
	for alias, km := range mine {
		if _, err := s.Import(ctx, alias, km, false); err != nil {
			t.Fatal(err)
		}
	}
	for alias, spec := range map[string]secrets.KeySpec{
		"rsa-go": {Kind: secrets.KindRSA, Subject: pkix.Name{CommonName: "rsa-go"}},
		"ec-go":  {Kind: secrets.KindEC, Bits: 384, Subject: pkix.Name{CommonName: "ec-go"}},
	} {
		e, err := s.Generate(ctx, alias, spec, false)
		if err != nil {
			t.Fatal(err)
		}
		mine[alias] = secrets.KeyMaterial{Kind: e.Kind(), Chain: e.Chain(), Private: storePrivate(e)}
	}
	trusted := p12DecodeAll(t, mustRead(t, "testdata/truststore.p12"), "changeit")
	if _, err := s.Import(ctx, "trusted-go", trusted[0].Material, false); err != nil {
		t.Fatal(err)
	}
	mine["trusted-go"] = trusted[0].Material

	list := keytool(t, "-list", "-v", "-keystore", path, "-storetype", "PKCS12", "-storepass", "s3cret-pw")
	if !strings.Contains(list, "Your keystore contains 7 entries") || strings.Count(list, "SecretKeyEntry") != 4 ||
		strings.Count(list, "PrivateKeyEntry") != 2 || strings.Count(list, "trustedCertEntry") != 1 {
		t.Fatalf("keytool -list:\n%s", list)
	}
	got := dump(dir, "go.p12:PKCS12:s3cret-pw:s3cret-pw")["go.p12"]
	if len(got.Entries) != len(mine) {
		t.Fatalf("Java sees %d entries", len(got.Entries))
	}
	for alias, km := range mine {
		w, ok := got.Entries[alias]
		if !ok {
			t.Fatalf("Java does not see %s", alias)
		}
		if km.Kind.Symmetric() && km.Algorithm == "" {
			km.Algorithm = "AES"
		}
		p12CheckMaterial(t, alias, km, w)
	}

	// keytool modifies the Go-written file; Go reads the result as Java does.
	kt := []string{"-keystore", path, "-storetype", "PKCS12", "-storepass", "s3cret-pw"}
	keytool(t, append([]string{"-genseckey", "-alias", "java-added", "-keyalg", "HmacSHA256", "-keysize", "256"}, kt...)...)
	keytool(t, append([]string{"-delete", "-alias", "aes128-go"}, kt...)...)
	if changed, err := s.Reload(ctx); err != nil || !changed {
		t.Fatalf("Reload after keytool: %v %v", changed, err)
	}
	got = dump(dir, "go.p12:PKCS12:s3cret-pw:s3cret-pw")["go.p12"]
	aliases, _ := s.Aliases(ctx)
	if len(aliases) != len(got.Entries) {
		t.Fatalf("Go sees %v, Java %d entries", aliases, len(got.Entries))
	}
	for alias, w := range got.Entries {
		p12CheckMaterial(t, alias, storeEntryMaterial(t, s, alias), w)
	}
	// And Go writes to the keytool-modified file again.
	if _, err := s.Generate(ctx, "after-keytool", secrets.KeySpec{Kind: secrets.KindAES}, false); err != nil {
		t.Fatal(err)
	}
	list = keytool(t, "-list", "-keystore", path, "-storetype", "PKCS12", "-storepass", "s3cret-pw")
	if !strings.Contains(list, "Your keystore contains 8 entries") || !strings.Contains(list, "java-added") || !strings.Contains(list, "after-keytool") {
		t.Fatalf("keytool -list after the second Go write:\n%s", list)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoReadsJavaPKCS12Variants: keytool writes keystore.p12 again with the legacy
// algorithms (PBE-SHA1-3DES keys, RC2-40 certificates, SHA-1 MAC) and with other
// keystore.pkcs12.* choices; Go reads every entry as Java does.
func TestGoReadsJavaPKCS12Variants(t *testing.T) {
	dump := javaDump(t)
	src, _ := filepath.Abs("testdata/keystore.p12")
	for name, props := range map[string][]string{
		"legacy.p12": {"-J-Dkeystore.pkcs12.legacy"},
		"mixed.p12": {"-J-Dkeystore.pkcs12.macAlgorithm=HmacPBESHA512", "-J-Dkeystore.pkcs12.macIterationCount=2048",
			"-J-Dkeystore.pkcs12.keyProtectionAlgorithm=PBEWithHmacSHA384AndAES_128",
			"-J-Dkeystore.pkcs12.certProtectionAlgorithm=PBEWithSHA1AndRC2_128"},
		"nocerts-encryption.p12": {"-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			dst := filepath.Join(dir, name)
			keytool(t, append(props, "-importkeystore", "-noprompt", "-srckeystore", src, "-srcstoretype", "PKCS12",
				"-srcstorepass", "changeit", "-destkeystore", dst, "-deststoretype", "PKCS12", "-deststorepass", "changeit")...)
			if name == "legacy.p12" {
				var pfx pfxPDU
				if err := strictUnmarshal(mustRead(t, dst), &pfx); err != nil || !pfx.MacData.Mac.Algorithm.Algorithm.Equal(oidSHA1) {
					t.Fatalf("keytool did not write a legacy (SHA-1 MAC) file: %v", err)
				}
			}
			want := dump(dir, name+":PKCS12:changeit:changeit")[name]
			s := storeOpen(t, dst, Config{Password: "changeit"})
			aliases, _ := s.Aliases(context.Background())
			if len(aliases) != len(want.Entries) {
				t.Fatalf("Go sees %v, Java %d entries", aliases, len(want.Entries))
			}
			for alias, w := range want.Entries {
				p12CheckMaterial(t, alias, storeEntryMaterial(t, s, alias), w)
			}
		})
	}
}

// TestJavaReadsConverted: ConvertToPKCS12 of the JCEKS fixture is read by Java with the
// same key bytes Java read from the JCEKS.
func TestJavaReadsConverted(t *testing.T) {
	dump := javaDump(t)
	dir := t.TempDir()
	if err := ConvertToPKCS12(context.Background(), "testdata/keystore.jceks", Config{Password: "changeit"}, filepath.Join(dir, "converted.p12")); err != nil {
		t.Fatal(err)
	}
	got := dump(dir, "converted.p12:PKCS12:changeit:changeit")["converted.p12"]
	want := p12LoadExpected(t, "testdata/expected.json")["keystore.jceks"]
	if len(got.Entries) != len(want.Entries) {
		t.Fatalf("Java sees %d entries in the converted file, %d in the JCEKS", len(got.Entries), len(want.Entries))
	}
	for alias, w := range want.Entries {
		g := got.Entries[alias]
		if g.Kind != w.Kind || g.SecretHex != w.SecretHex || g.PublicKeySHA256 != w.PublicKeySHA256 ||
			(w.Kind == "RSA" && g.SignatureHex != w.SignatureHex) || g.HMACSHA256 != w.HMACSHA256 {
			t.Errorf("%s: Java reads the converted entry differently", alias)
		}
	}
}
