package filestore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// javaFixture is one keystore of testdata/expected.json: what Java (Dump.java) read from it.
type javaFixture struct {
	Type          string
	StorePassword string
	KeyPassword   string
	Entries       map[string]javaFixtureEntry
}

type javaFixtureEntry struct {
	Kind               string
	Algorithm          string
	Created            int64
	SecretHex          string
	HmacSHA256         string
	PKCS8SHA256        string `json:"pkcs8SHA256"`
	PublicKeySHA256    string
	ChainSHA256        []string
	SignatureAlgorithm string
	SignatureHex       string
}

func readJavaFixtures(t testing.TB, dir string) map[string]javaFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]javaFixture
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// javaKAMessage is the known-answer message of Dump.java: the 64 bytes 00 01 .. 3f.
func javaKAMessage() []byte {
	m := make([]byte, 64)
	for i := range m {
		m[i] = byte(i)
	}
	return m
}

func javaSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

var javaKindNames = map[string]secrets.Kind{
	"secret": secrets.KindSecret, "AES": secrets.KindAES, "RSA": secrets.KindRSA, "EC": secrets.KindEC,
	"certificate": secrets.KindCertificate,
}

// checkJavaFixture decodes dir/file with the Go reader and compares every entry, byte for
// byte, with what Java read.
func checkJavaFixture(t *testing.T, dir, file string, want javaFixture) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	checkJavaKeyStoreData(t, file, data, want, true)
}

// checkJavaKeyStoreData compares the decoded data with Java's view; exactPKCS8 compares the
// decrypted PKCS#8 bytes too (not for files this package's tests wrote).
func checkJavaKeyStoreData(t *testing.T, file string, data []byte, want javaFixture, exactPKCS8 bool) {
	t.Helper()
	format, got, err := decodeJavaKeyStoreKeyPass(data, want.StorePassword, want.KeyPassword)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if string(format) != want.Type {
		t.Errorf("%s: format %s, want %s", file, format, want.Type)
	}
	ks, err := parseJavaKeyStore(data, want.StorePassword)
	if err != nil {
		t.Fatal(err)
	}
	var aliases []string
	for _, d := range got {
		aliases = append(aliases, d.Alias)
	}
	slices.Sort(aliases)
	var wantAliases []string
	for a := range want.Entries {
		wantAliases = append(wantAliases, a)
	}
	slices.Sort(wantAliases)
	if !slices.Equal(aliases, wantAliases) {
		t.Fatalf("%s: aliases %v, Java has %v", file, aliases, wantAliases)
	}
	ctx := context.Background()
	msg := javaKAMessage()
	digest := sha256.Sum256(msg)
	for i, d := range got {
		w := want.Entries[d.Alias]
		km := d.Material
		where := file + "/" + d.Alias
		if km.Kind != javaKindNames[w.Kind] {
			t.Errorf("%s: kind %v, Java says %s", where, km.Kind, w.Kind)
			continue
		}
		if w.Created != 0 && d.Created.UnixMilli() != w.Created {
			t.Errorf("%s: created %d, Java says %d", where, d.Created.UnixMilli(), w.Created)
		}
		var chainSums []string
		for _, c := range km.Chain {
			chainSums = append(chainSums, javaSum(c.Raw))
		}
		if !slices.Equal(chainSums, w.ChainSHA256) {
			t.Errorf("%s: chain %v, Java has %v", where, chainSums, w.ChainSHA256)
		}
		entry, err := storekit.NewSoftwareEntry(d.Alias, km)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		switch km.Kind {
		case secrets.KindSecret, secrets.KindAES:
			if km.Algorithm != w.Algorithm {
				t.Errorf("%s: algorithm %q, Java says %q", where, km.Algorithm, w.Algorithm)
			}
			if hex.EncodeToString(km.Secret) != w.SecretHex {
				t.Errorf("%s: secret key bytes differ from Java's", where)
			}
			tag, err := entry.(secrets.EntryMAC).MAC(ctx, crypto.SHA256, msg)
			if err != nil || hex.EncodeToString(tag) != w.HmacSHA256 {
				t.Errorf("%s: HMAC-SHA256 known answer differs from Java's (%v)", where, err)
			}
		case secrets.KindRSA, secrets.KindEC:
			pkcs8, err := ks.entries[i].privateKeyPKCS8(want.KeyPassword)
			if err != nil {
				t.Fatal(err)
			}
			if exactPKCS8 && javaSum(pkcs8) != w.PKCS8SHA256 {
				t.Errorf("%s: PKCS#8 bytes differ from Java's", where)
			}
			spki, err := x509.MarshalPKIXPublicKey(entry.Public())
			if err != nil || javaSum(spki) != w.PublicKeySHA256 {
				t.Errorf("%s: public key differs from Java's (%v)", where, err)
			}
			sig, err := entry.(secrets.EntrySigner).Sign(ctx, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("%s: sign: %v", where, err)
			}
			javaSig, _ := hex.DecodeString(w.SignatureHex)
			if km.Kind == secrets.KindRSA {
				if !bytes.Equal(sig, javaSig) {
					t.Errorf("%s: SHA256withRSA known answer differs from Java's", where)
				}
			} else {
				pub := entry.Public().(*ecdsa.PublicKey)
				if !ecdsa.VerifyASN1(pub, digest[:], javaSig) || !ecdsa.VerifyASN1(km.Chain[0].PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
					t.Errorf("%s: SHA256withECDSA signatures do not cross-verify with Java's", where)
				}
			}
		case secrets.KindCertificate:
			spki, err := x509.MarshalPKIXPublicKey(entry.Public())
			if err != nil || javaSum(spki) != w.PublicKeySHA256 {
				t.Errorf("%s: public key differs from Java's (%v)", where, err)
			}
		}
	}
}

// javaFixtureFiles are the JCEKS and JKS files of testdata.
func javaFixtureFiles(all map[string]javaFixture) []string {
	var files []string
	for f, fx := range all {
		if fx.Type == "JCEKS" || fx.Type == "JKS" {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	return files
}

func TestJavaKeyStoreFixtures(t *testing.T) {
	all := readJavaFixtures(t, "testdata")
	files := javaFixtureFiles(all)
	if len(files) < 5 {
		t.Fatalf("expected.json lists only %v", files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) { checkJavaFixture(t, "testdata", f, all[f]) })
	}
}

// TestJavaKeyStoreRebuildExact re-serialises every parsed fixture with the test writer and
// expects keytool's bytes exactly: the parser keeps every field, and the writer that makes the
// hostile inputs below writes what Java writes.
func TestJavaKeyStoreRebuildExact(t *testing.T) {
	all := readJavaFixtures(t, "testdata")
	for _, f := range javaFixtureFiles(all) {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		ks, err := parseJavaKeyStore(data, all[f].StorePassword)
		if err != nil {
			t.Fatal(err)
		}
		magic := uint32(javaMagicJCEKS)
		if ks.format == JKS {
			magic = javaMagicJKS
		}
		b := newKSBuilder(magic, len(ks.entries))
		for _, e := range ks.entries {
			var chain [][]byte
			for _, c := range e.chain {
				chain = append(chain, c.Raw)
			}
			switch e.tag {
			case javaTagPrivateKey:
				b.privateKey(e.alias, e.created.UnixMilli(), e.epki, chain)
			case javaTagTrustedCert:
				b.trusted(e.alias, e.created.UnixMilli(), chain[0])
			case javaTagSecretKey:
				b.secret(e.alias, e.created.UnixMilli(), serialSealed(sunPBEParamsDER(t, e.sealed.salt, e.sealed.iterations), e.sealed.content, sunJCEPBEAlg))
			}
		}
		if got := b.finish(all[f].StorePassword); !bytes.Equal(got, data) {
			t.Errorf("%s: rebuilt file differs from keytool's", f)
		}
	}
}

// cheapJavaKeyStores re-protects the fixtures' keys with iteration count 3 (JCEKS) so that
// tests and fuzzing can decrypt them quickly: name → file (password "changeit").
var cheapJavaKeyStores = sync.OnceValues(func() (map[string][]byte, error) {
	all := map[string]javaFixture{}
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	var tb fatalTB
	for _, f := range javaFixtureFiles(all) {
		if all[f].KeyPassword != all[f].StorePassword {
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			return nil, err
		}
		_, entries, err := decodeJavaKeyStore(data, "changeit")
		if err != nil {
			return nil, err
		}
		out[f] = buildJavaKeyStore(&tb, strings.HasSuffix(f, ".jks"), "changeit", 3, entries)
	}
	return out, nil
})

// fatalTB is a testing.TB for helpers run outside a test; it panics on Fatal.
type fatalTB struct{ testing.TB }

func (fatalTB) Helper()               {}
func (fatalTB) Fatal(args ...any)     { panic(args) }
func (fatalTB) Fatalf(string, ...any) { panic("fatal") }

// buildJavaKeyStore writes entries as a JCEKS (or JKS) file with the given iteration count.
func buildJavaKeyStore(t testing.TB, jks bool, password string, iterations int, entries []decoded) []byte {
	t.Helper()
	magic := uint32(javaMagicJCEKS)
	if jks {
		magic = javaMagicJKS
	}
	b := newKSBuilder(magic, len(entries))
	salt := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	for _, d := range entries {
		km := d.Material
		var chain [][]byte
		for _, c := range km.Chain {
			chain = append(chain, c.Raw)
		}
		switch km.Kind {
		case secrets.KindCertificate:
			b.trusted(d.Alias, d.Created.UnixMilli(), chain[0])
		case secrets.KindSecret, secrets.KindAES:
			b.secret(d.Alias, d.Created.UnixMilli(), jceSealedKey(t, password, salt, iterations, km.Algorithm, km.Secret))
		default:
			pkcs8, err := x509.MarshalPKCS8PrivateKey(km.Private)
			if err != nil {
				t.Fatal(err)
			}
			if jks {
				b.privateKey(d.Alias, d.Created.UnixMilli(), jksEPKI(t, password, bytes.Repeat([]byte{7}, 20), pkcs8), chain)
			} else {
				b.privateKey(d.Alias, d.Created.UnixMilli(), jceEPKI(t, password, salt, iterations, pkcs8), chain)
			}
		}
	}
	return b.finish(password)
}

func cheapFixture(t testing.TB, name string) []byte {
	t.Helper()
	m, err := cheapJavaKeyStores()
	if err != nil {
		t.Fatal(err)
	}
	if m[name] == nil {
		t.Fatalf("no cheap fixture %s", name)
	}
	return m[name]
}

// TestJavaKeyStoreCheapRoundTrip reads the fixtures' keys re-protected by the test writer with
// three iterations: the writer (used for hostile inputs and fuzz seeds) and the reader agree.
func TestJavaKeyStoreCheapRoundTrip(t *testing.T) {
	all := readJavaFixtures(t, "testdata")
	for _, f := range []string{"keystore.jceks", "keystore.jks", "truststore.jks", "importpass.jceks"} {
		t.Run(f, func(t *testing.T) { checkJavaKeyStoreData(t, f, cheapFixture(t, f), all[f], false) })
	}
}

// assertNoSecret fails when an error message carries a password.
func assertNoSecret(t *testing.T, err error, secretsInMsg ...string) {
	t.Helper()
	for _, s := range secretsInMsg {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a password", err)
		}
	}
}

func TestJavaKeyStoreWrongStorePassword(t *testing.T) {
	for _, f := range []string{"keystore.jceks", "truststore.jks", "keystore.jks"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = decodeJavaKeyStore(data, "Wrong-Passw0rd")
		if !errors.Is(err, secrets.ErrWrongPIN) || !strings.Contains(err.Error(), "password is wrong") {
			t.Errorf("%s: wrong password: %v", f, err)
			continue
		}
		assertNoSecret(t, err, "Wrong-Passw0rd", "changeit")
	}
}

func TestJavaKeyStoreTampered(t *testing.T) {
	data := cheapFixture(t, "keystore.jceks")
	for _, off := range []int{0, 5, 13, 40, len(data) / 2, len(data) - 21, len(data) - 1} {
		bad := bytes.Clone(data)
		bad[off] ^= 0x40
		_, _, err := decodeJavaKeyStore(bad, "changeit")
		if err == nil {
			t.Errorf("byte %d flipped: no error", off)
		} else if off >= 4 && !errors.Is(err, secrets.ErrWrongPIN) {
			t.Errorf("byte %d flipped: %v, want the integrity check to fail", off, err)
		}
	}
}

func TestJCEKSKeyPasswordDiffers(t *testing.T) {
	data, err := os.ReadFile("testdata/keystore-keypass.jceks")
	if err != nil {
		t.Fatal(err)
	}
	err = entryErr(decodeJavaKeyStore(data, "changeit"))
	if !errors.Is(err, secrets.ErrWrongPIN) || !strings.Contains(err.Error(), "IDM requires the key password to equal the store password") {
		t.Fatalf("store password ≠ key password: %v", err)
	}
	assertNoSecret(t, err, "changeit", "keypass1")
	t.Log(err)

	err = entryErr(decodeJavaKeyStoreKeyPass(data, "changeit", "not-the-keypass"))
	if !errors.Is(err, secrets.ErrWrongPIN) || !strings.Contains(err.Error(), "wrong key password") {
		t.Fatalf("wrong key password: %v", err)
	}
	assertNoSecret(t, err, "changeit", "keypass1", "not-the-keypass")
}

func TestJKSKeyPasswordDiffers(t *testing.T) {
	_, entries, err := decodeJavaKeyStore(cheapFixture(t, "keystore.jks"), "changeit")
	if err != nil {
		t.Fatal(err)
	}
	// Protect the keys under another key password, the store under "changeit".
	b := newKSBuilder(javaMagicJKS, 1)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(entries[0].Material.Private)
	b.privateKey("k", 0, jksEPKI(t, "other", make([]byte, 20), pkcs8), [][]byte{entries[0].Material.Chain[0].Raw})
	err = entryErr(decodeJavaKeyStore(b.finish("changeit"), "changeit"))
	if !errors.Is(err, secrets.ErrWrongPIN) || !strings.Contains(err.Error(), "IDM requires") {
		t.Fatalf("JKS key password differs: %v", err)
	}
	_, got, err := decodeJavaKeyStoreKeyPass(b.finish("changeit"), "changeit", "other")
	if err != nil || got[0].Material.Kind != entries[0].Material.Kind {
		t.Fatalf("JKS with the right key password: %v", err)
	}
}

// TestJavaKeyStoreTruncated cuts a keystore at every length, with and without a valid trailer.
func TestJavaKeyStoreTruncated(t *testing.T) {
	for _, name := range []string{"keystore.jceks", "keystore.jks"} {
		data := cheapFixture(t, name)
		body := data[:len(data)-20]
		for n := 0; n < len(body); n++ {
			if _, _, err := decodeJavaKeyStore(data[:n], "changeit"); err == nil {
				t.Fatalf("%s cut at %d: no error", name, n)
			}
			if _, _, err := decodeJavaKeyStore(resignJavaKeyStore(body[:n], "changeit"), "changeit"); err == nil {
				t.Fatalf("%s cut at %d and re-signed: no error", name, n)
			}
		}
	}
}

func u32be(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// TestJavaKeyStoreHostile feeds well-signed files with absurd contents. Each must fail quickly
// (no minute of CPU, no large allocation) with an error, not a panic.
func TestJavaKeyStoreHostile(t *testing.T) {
	salt := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	key := bytes.Repeat([]byte{0x11}, 32)
	sealed := func(iter int) []byte { return jceSealedKey(t, "changeit", salt, iter, "HmacSHA256", key) }
	sealedParams := func(iter int64) []byte {
		// Sealed params with any iteration count (sunPBEParamsDER only takes valid ones).
		return serialSealed(sunPBEParamsDER(t, salt, int(iter)), make([]byte, 48), sunJCEPBEAlg)
	}
	one := func(magic uint32, f func(b *ksBuilder)) []byte {
		b := newKSBuilder(magic, 1)
		f(b)
		return b.finish("changeit")
	}
	deep := func(n int) []byte {
		var w serWriter
		w.hex("aced0005")
		for range n {
			w.hex("7372")
			w.utf("A")
			w.hex("0000000000000001020001")
			w.WriteByte('L')
			w.utf("next")
			w.WriteByte(tcString)
			w.utf("LA;")
			w.hex("7870")
		}
		w.WriteByte(tcNull)
		return w.Bytes()
	}
	deepRefs := func(n int) []byte {
		var w serWriter
		w.hex("aced0005")
		w.hex("7372")
		w.utf("A")
		w.hex("0000000000000001020001")
		w.WriteByte('L')
		w.utf("next")
		w.WriteByte(tcString)
		w.utf("LA;")
		w.hex("7870")
		for range n {
			w.hex("7371007e0000")
		}
		w.WriteByte(tcNull)
		return w.Bytes()
	}
	manyStrings := func(n int) []byte {
		var w serWriter
		w.hex("aced0005")
		w.hex("7372")
		w.utf("A")
		w.hex("000000000000000102")
		w.Write(binary.BigEndian.AppendUint16(nil, uint16(n)))
		for i := range n {
			w.WriteByte('L')
			w.utf("f" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)))
			w.WriteByte(tcString)
			w.utf("Ljava/lang/String;")
		}
		w.hex("7870")
		for range n {
			w.WriteByte(tcString)
			w.utf("v")
		}
		return w.Bytes()
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"bad magic", resignJavaKeyStore([]byte("PK\x03\x04............"), "changeit"), "magic"},
		{"version 7", resignJavaKeyStore(append(u32be(javaMagicJCEKS), append(u32be(7), u32be(0)...)...), "changeit"), "version"},
		{"count 2^32-1", resignJavaKeyStore(append(u32be(javaMagicJCEKS), append(u32be(2), u32be(0xffffffff)...)...), "changeit"), "entry count"},
		{"unknown tag", one(javaMagicJCEKS, func(b *ksBuilder) { b.header(9, "x", 0) }), "unknown entry tag"},
		{"secret key in JKS", one(javaMagicJKS, func(b *ksBuilder) { b.secret("x", 0, sealed(3)) }), "secret-key entry in a JKS"},
		{"EPKI length 2^32-1", one(javaMagicJCEKS, func(b *ksBuilder) { b.header(1, "x", 0); b.u32(0xffffffff) }), "truncated"},
		{"cert length 2^32-1", one(javaMagicJKS, func(b *ksBuilder) { b.header(2, "x", 0); b.utf("X.509"); b.u32(0xffffffff) }), "truncated"},
		{"cert type X.500", one(javaMagicJKS, func(b *ksBuilder) { b.header(2, "x", 0); b.utf("X.500"); b.u32(0) }), "certificate type"},
		{"chain of 2^32-1", one(javaMagicJKS, func(b *ksBuilder) {
			b.header(1, "x", 0)
			epki := jksEPKI(t, "changeit", make([]byte, 20), []byte{1})
			b.u32(uint32(len(epki)))
			b.raw(epki)
			b.u32(0xffffffff)
		}), "certificate chain"},
		{"bad alias UTF-8", one(javaMagicJKS, func(b *ksBuilder) { b.u32(2); b.raw([]byte{0, 2, 0xf0, 0x90}); b.raw(make([]byte, 16)) }), "modified UTF-8"},
		{"iterations 2^31-1", one(javaMagicJCEKS, func(b *ksBuilder) { b.secret("x", 0, sealedParams(1<<31-1)) }), "iteration count"},
		{"iterations 0", one(javaMagicJCEKS, func(b *ksBuilder) { b.secret("x", 0, sealedParams(0)) }), "iteration count"},
		{"iterations over budget", func() []byte {
			b := newKSBuilder(javaMagicJCEKS, 5)
			for i := range 5 {
				b.secret(string(rune('a'+i)), 0, sealedParams(maxPBEIterations))
			}
			return b.finish("changeit")
		}(), "add up"},
		{"EPKI iterations 10^9", one(javaMagicJCEKS, func(b *ksBuilder) {
			b.header(1, "x", 0)
			epki, _ := asn1.Marshal(javaEPKI{
				Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSunJCEKeyProtector, Parameters: asn1.RawValue{FullBytes: sunPBEParamsDER(t, salt, 1e9)}},
				Data:      make([]byte, 16),
			})
			b.u32(uint32(len(epki)))
			b.raw(epki)
			b.u32(0)
		}), "iteration count"},
		{"unknown key protector", one(javaMagicJCEKS, func(b *ksBuilder) {
			b.header(1, "x", 0)
			epki := jksEPKI(t, "changeit", make([]byte, 20), []byte{1})
			epki[10] ^= 1 // OID arc
			b.u32(uint32(len(epki)))
			b.raw(epki)
			b.u32(0)
		}), "unsupported algorithm"},
		{"serialization nested 1000 deep", one(javaMagicJCEKS, func(b *ksBuilder) { b.secret("x", 0, deep(1000)) }), "too deep"},
		{"serialization self-reference 100000 deep", one(javaMagicJCEKS, func(b *ksBuilder) { b.secret("x", 0, deepRefs(100000)) }), "too deep"},
		{"serialization 64 fields", one(javaMagicJCEKS, func(b *ksBuilder) { b.secret("x", 0, manyStrings(64)) }), "too many objects"},
		{"serialization 65535 fields", one(javaMagicJCEKS, func(b *ksBuilder) { b.secret("x", 0, manyStrings(65535)) }), "too many fields"},
		{"serialization array 2^31-1", one(javaMagicJCEKS, func(b *ksBuilder) {
			s := sealed(3)
			i := bytes.Index(s, append([]byte{0x78, 0x70}, u32be(uint32(len(sunPBEParamsDER(t, salt, 3))))...)) // the params array length
			copy(s[i+2:], u32be(0x7fffffff))
			b.secret("x", 0, s)
		}), "array longer"},
		{"serialization wrong class", one(javaMagicJCEKS, func(b *ksBuilder) {
			b.secret("x", 0, serialSecretKeySpec("HmacSHA256", key))
		}), "not a com.sun.crypto.provider.SealedObjectForKeyProtector"},
		{"serialization long string", one(javaMagicJCEKS, func(b *ksBuilder) { b.secret("x", 0, []byte("\xac\xed\x00\x05\x7c\x00\x00\x00\x00\xff\xff\xff\xff")) }), "unsupported type code"},
		{"sealed with AES", one(javaMagicJCEKS, func(b *ksBuilder) {
			b.secret("x", 0, serialSealed(sunPBEParamsDER(t, salt, 3), make([]byte, 16), "AES/GCM/NoPadding"))
		}), "sealed with"},
		{"trailing bytes", func() []byte {
			b := newKSBuilder(javaMagicJCEKS, 1)
			b.secret("x", 0, sealed(3))
			b.raw([]byte{0})
			return b.finish("changeit")
		}(), "after the last entry"},
		{"AES key of 20 bytes", one(javaMagicJCEKS, func(b *ksBuilder) {
			b.secret("x", 0, jceSealedKey(t, "changeit", salt, 3, "AES", make([]byte, 20)))
		}), "AES key of 20 bytes"},
		{"empty secret key", one(javaMagicJCEKS, func(b *ksBuilder) {
			b.secret("x", 0, jceSealedKey(t, "changeit", salt, 3, "HmacSHA256", nil))
		}), "without algorithm or key"},
		{"unsupported private key", one(javaMagicJCEKS, func(b *ksBuilder) {
			b.header(1, "x", 0)
			// PKCS#8 of an X25519 key: parses as PKCS#8, not a kind this module serves.
			pkcs8, _ := hex.DecodeString("302e020100300506032b656e04220420" + strings.Repeat("11", 32))
			epki := jceEPKI(t, "changeit", salt, 3, pkcs8)
			b.u32(uint32(len(epki)))
			b.raw(epki)
			b.u32(0)
		}), "private key of type"},
		{"oversized file", make([]byte, maxJavaKeyStoreSize+1), "exceeds the limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := entryErr(decodeJavaKeyStore(c.data, "changeit"))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if errors.Is(err, secrets.ErrWrongPIN) {
				t.Errorf("error %q claims a wrong password", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			assertNoSecret(t, err, "changeit")
		})
	}
}

func TestJavaKeyStoreKeyRep(t *testing.T) {
	// keytool -importpass stores a PBEKey, which Java serializes as a KeyRep.
	_, got, err := decodeJavaKeyStore(cheapFixture(t, "importpass.jceks"), "changeit")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got[0].Material.Secret) != "hunter2pw" || got[0].Material.Kind != secrets.KindSecret ||
		got[0].Material.Algorithm != "PBEWithMD5AndDES" {
		t.Fatalf("got %+v", got)
	}
}

// TestSunPBEKeyEqualSaltHalves covers PBES1Core's quirk: equal salt halves reverse the first.
func TestSunPBEKeyEqualSaltHalves(t *testing.T) {
	k1, iv1, _ := sunPBEKey("pw", []byte{1, 2, 3, 4, 1, 2, 3, 4}, 2)
	k2, iv2, _ := sunPBEKey("pw", []byte{4, 3, 2, 1, 1, 2, 3, 4}, 2)
	if !bytes.Equal(k1, k2) || !bytes.Equal(iv1, iv2) {
		t.Fatal("equal salt halves: the first half is not reversed")
	}
	// And the derivation itself, by hand for two iterations.
	x := md5.Sum(append([]byte{5, 6, 7, 8}, "pw"...))
	x = md5.Sum(append(x[:], "pw"...))
	_, iv, _ := sunPBEKey("pw", []byte{1, 2, 3, 4, 5, 6, 7, 8}, 2)
	if !bytes.Equal(iv, x[8:16]) {
		t.Fatal("derivation differs from PBES1Core")
	}
	if _, _, err := sunPBEKey("pässword", []byte{1, 2, 3, 4, 5, 6, 7, 8}, 2); err == nil {
		t.Fatal("non-ASCII password accepted")
	}
}

func TestModifiedUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"abc":                      "abc",
		"\xc0\x80":                 "\x00",
		"\xc3\xa9":                 "é",
		"\xed\xa0\xbd\xed\xb8\x80": "😀", // a surrogate pair, each half 3 bytes
	} {
		if got, ok := decodeModifiedUTF8([]byte(in)); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"\xc3", "\xe0\x80", "\xf0\x9f\x98\x80", "\x80"} {
		if _, ok := decodeModifiedUTF8([]byte(in)); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

// FuzzJavaKeyStore feeds arbitrary bytes to the reader twice: as they are (the integrity check
// rejects almost all) and re-signed under "changeit", so that mutations reach the parser and
// the key decryption. Entries whose PBE iteration count exceeds 1000 are parsed but not
// decrypted, and RSA keys are decrypted but not parsed, to keep executions fast. The seeds are the keytool fixtures (decrypted with their
// real counts only in the regular tests) and cheap re-protected copies of them.
func FuzzJavaKeyStore(f *testing.F) {
	for _, name := range []string{"keystore.jceks", "keystore.jks", "truststore.jks", "keystore-keypass.jceks", "importpass.jceks"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:len(data)-20])
	}
	cheap, err := cheapJavaKeyStores()
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(cheap)) {
		f.Add(cheap[name][:len(cheap[name])-20])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _, _ = decodeJavaKeyStore(body, "changeit")
		data := resignJavaKeyStore(body, "changeit")
		ks, err := parseJavaKeyStore(data, "changeit")
		if err != nil {
			if errors.Is(err, secrets.ErrWrongPIN) {
				t.Fatalf("re-signed file fails the integrity check: %v", err)
			}
			return
		}
		for i := range ks.entries {
			e := &ks.entries[i]
			if e.iters > 1000 {
				continue
			}
			if e.tag == javaTagPrivateKey && len(e.epki) > 512 {
				// An RSA key: Go's RSA key checks are very slow under fuzzing instrumentation;
				// exercise the key protector only.
				if p, err := e.privateKeyPKCS8("changeit"); err == nil {
					clear(p)
				}
				continue
			}
			d, err := e.decrypt("changeit")
			if err != nil {
				if strings.Contains(err.Error(), "changeit") {
					t.Fatalf("error leaks the password: %v", err)
				}
				continue
			}
			if d.Alias != e.alias {
				t.Fatalf("alias %q became %q", e.alias, d.Alias)
			}
			switch d.Material.Kind {
			case secrets.KindSecret, secrets.KindAES:
				if len(d.Material.Secret) == 0 {
					t.Fatal("empty secret accepted")
				}
			case secrets.KindRSA:
				_ = d.Material.Private.(*rsa.PrivateKey)
			case secrets.KindEC:
				_ = d.Material.Private.(*ecdsa.PrivateKey)
			case secrets.KindCertificate:
				if len(d.Material.Chain) != 1 {
					t.Fatal("certificate entry without its certificate")
				}
			default:
				t.Fatalf("kind %v", d.Material.Kind)
			}
		}
	})
}

// BenchmarkJCEKSDecode decodes the keytool fixture (5 secret keys, 3 key pairs, each protected
// with 200000 iterations of PBEWithMD5AndTripleDES) next to its floor: the 8 × 2 × 200000 MD5
// blocks the derivations need, in the same run.
func BenchmarkJCEKSDecode(b *testing.B) {
	data, err := os.ReadFile("testdata/keystore.jceks")
	if err != nil {
		b.Fatal(err)
	}
	ks, err := parseJavaKeyStore(data, "changeit")
	if err != nil {
		b.Fatal(err)
	}
	total := 0
	for _, e := range ks.entries {
		total += 2 * e.iters
	}
	b.Run("decodeJavaKeyStore", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := decodeJavaKeyStore(data, "changeit"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parseOnly", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseJavaKeyStore(data, "changeit"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rawMD5Floor", func(b *testing.B) {
		buf := make([]byte, 16+len("changeit"))
		copy(buf[16:], "changeit")
		for b.Loop() {
			for range total {
				s := md5.Sum(buf)
				copy(buf, s[:])
			}
		}
		b.ReportMetric(float64(total), "MD5/op")
	})
}

// entryErr is the error of a decode, or else of its first entry that failed alone.
func entryErr(_ Format, entries []decoded, err error) error {
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.err != nil {
			return e.err
		}
	}
	return nil
}
