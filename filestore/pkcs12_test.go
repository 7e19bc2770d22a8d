package filestore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
)

// p12Expected is one file of testdata/expected.json, what Java read from it.
type p12Expected struct {
	Type          string                      `json:"type"`
	StorePassword string                      `json:"storePassword"`
	KeyPassword   string                      `json:"keyPassword"`
	Entries       map[string]p12ExpectedEntry `json:"entries"`
}

type p12ExpectedEntry struct {
	Kind            string   `json:"kind"`
	Created         int64    `json:"created"`
	Algorithm       string   `json:"algorithm"`
	SecretHex       string   `json:"secretHex"`
	HMACSHA256      string   `json:"hmacSHA256"`
	PKCS8SHA256     string   `json:"pkcs8SHA256"`
	PublicKeySHA256 string   `json:"publicKeySHA256"`
	ChainSHA256     []string `json:"chainSHA256"`
	SignatureAlg    string   `json:"signatureAlgorithm"`
	SignatureHex    string   `json:"signatureHex"`
}

func p12LoadExpected(t testing.TB, path string) map[string]p12Expected {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]p12Expected
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var p12KAT = func() []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

func p12KindName(k secrets.Kind) string {
	return map[secrets.Kind]string{secrets.KindSecret: "secret", secrets.KindAES: "AES", secrets.KindRSA: "RSA",
		secrets.KindEC: "EC", secrets.KindCertificate: "certificate"}[k]
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// p12CheckMaterial compares one entry's material with what Java read.
func p12CheckMaterial(t *testing.T, alias string, km secrets.KeyMaterial, want p12ExpectedEntry) {
	t.Helper()
	if got := p12KindName(km.Kind); got != want.Kind {
		t.Fatalf("%s: kind %s, Java says %s", alias, got, want.Kind)
	}
	switch km.Kind {
	case secrets.KindSecret, secrets.KindAES:
		if hex.EncodeToString(km.Secret) != want.SecretHex {
			t.Errorf("%s: secret key bytes differ from Java's", alias)
		}
		if km.Algorithm != want.Algorithm {
			t.Errorf("%s: algorithm %q, Java says %q", alias, km.Algorithm, want.Algorithm)
		}
		m := hmac.New(sha256.New, km.Secret)
		m.Write(p12KAT)
		if hex.EncodeToString(m.Sum(nil)) != want.HMACSHA256 {
			t.Errorf("%s: HMAC-SHA256 KAT differs from Java's", alias)
		}
	case secrets.KindRSA, secrets.KindEC:
		if der, err := x509.MarshalPKCS8PrivateKey(km.Private); err == nil && sha256Hex(der) != want.PKCS8SHA256 {
			// Go and Java may encode the same EC key differently (optional public key):
			// the public key and the signatures below decide.
			t.Logf("%s: PKCS#8 encodings differ from Java's (comparing public keys and signatures)", alias)
		}
		signer := km.Private.(crypto.Signer)
		pub, _ := x509.MarshalPKIXPublicKey(signer.Public())
		if sha256Hex(pub) != want.PublicKeySHA256 {
			t.Errorf("%s: public key differs from Java's", alias)
		}
		d := sha256.Sum256(p12KAT)
		sig, _ := hex.DecodeString(want.SignatureHex)
		switch pk := signer.Public().(type) {
		case *rsa.PublicKey:
			mine, err := signer.Sign(nil, d[:], crypto.SHA256) // PKCS#1 v1.5 is deterministic
			if err != nil || !bytes.Equal(mine, sig) {
				t.Errorf("%s: SHA256withRSA signature differs from Java's (%v)", alias, err)
			}
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(pk, d[:], sig) {
				t.Errorf("%s: Java's ECDSA signature does not verify under the key read", alias)
			}
			mine, err := signer.Sign(rand.Reader, d[:], crypto.SHA256)
			if err != nil || !ecdsa.VerifyASN1(pk, d[:], mine) {
				t.Errorf("%s: ECDSA signature with the key read does not verify (%v)", alias, err)
			}
		}
	}
	if want.ChainSHA256 != nil {
		if len(km.Chain) != len(want.ChainSHA256) {
			t.Fatalf("%s: chain of %d, Java has %d", alias, len(km.Chain), len(want.ChainSHA256))
		}
		for i, c := range km.Chain {
			if sha256Hex(c.Raw) != want.ChainSHA256[i] {
				t.Errorf("%s: certificate %d differs from Java's", alias, i)
			}
		}
	}
	if km.Kind == secrets.KindCertificate {
		pub, _ := x509.MarshalPKIXPublicKey(km.Chain[0].PublicKey)
		if sha256Hex(pub) != want.PublicKeySHA256 {
			t.Errorf("%s: public key differs from Java's", alias)
		}
	}
}

// p12DecodeAll decodes a PKCS#12 file and decrypts every key.
func p12DecodeAll(t testing.TB, data []byte, password string) []decoded {
	t.Helper()
	f, err := decodePKCS12(data, password)
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.entries {
		e := &f.entries[i]
		if e.key == nil {
			continue
		}
		km, err := e.key.decrypt(password)
		if err != nil {
			t.Fatalf("%s: %v", e.Alias, err)
		}
		km.Chain = e.Material.Chain
		e.Material = km
	}
	return f.entries
}

func p12CheckAgainst(t *testing.T, entries []decoded, want p12Expected, checkCreated bool) {
	t.Helper()
	if len(entries) != len(want.Entries) {
		var got []string
		for _, e := range entries {
			got = append(got, e.Alias)
		}
		t.Errorf("entries %v, Java lists %d", got, len(want.Entries))
	}
	for _, e := range entries {
		w, ok := want.Entries[e.Alias]
		if !ok {
			t.Errorf("unexpected alias %q", e.Alias)
			continue
		}
		if checkCreated && w.Created != 0 && e.Created.UnixMilli() != w.Created {
			t.Errorf("%s: created %d, Java says %d", e.Alias, e.Created.UnixMilli(), w.Created)
		}
		p12CheckMaterial(t, e.Alias, e.Material, w)
	}
}

// TestPKCS12Fixtures reads the keytool-made PKCS#12 fixtures and compares every entry,
// byte for byte, with what Java read from them.
func TestPKCS12Fixtures(t *testing.T) {
	exp := p12LoadExpected(t, "testdata/expected.json")
	for _, name := range []string{"keystore.p12", "truststore.p12"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			want := exp[name]
			p12CheckAgainst(t, p12DecodeAll(t, data, want.StorePassword), want, want.Type == "PKCS12" && name == "keystore.p12")
		})
	}
}

func TestPKCS12WrongPassword(t *testing.T) {
	data, err := os.ReadFile("testdata/keystore.p12")
	if err != nil {
		t.Fatal(err)
	}
	_, err = decodePKCS12(data, "not-the-password")
	if !errors.Is(err, secrets.ErrWrongPIN) {
		t.Fatalf("err = %v, want ErrWrongPIN", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Fatal("the error carries the password")
	}
}

func TestPKCS12RoundTrip(t *testing.T) {
	exp := p12LoadExpected(t, "testdata/expected.json")
	data, _ := os.ReadFile("testdata/keystore.p12")
	entries := p12DecodeAll(t, data, "changeit")
	var outs []p12Out
	for _, e := range entries {
		outs = append(outs, p12Out{alias: e.Alias, localKeyID: e.localKeyID, km: e.Material})
	}
	w := &p12Writer{password: "changeit", keyPass: "changeit", iterations: 10000}
	out, err := w.encode(outs, nil)
	if err != nil {
		t.Fatal(err)
	}
	p12CheckAgainst(t, p12DecodeAll(t, out, "changeit"), exp["keystore.p12"], true)
}

// RFC 2268 §5 test vectors.
func TestRC2Vectors(t *testing.T) {
	for _, v := range []struct {
		key  string
		bits int
		pt   string
		ct   string
	}{
		{"0000000000000000", 63, "0000000000000000", "ebb773f993278eff"},
		{"ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"},
		{"3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"},
		{"88", 64, "0000000000000000", "61a8a244adacccf0"},
		{"88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"},
		{"88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"},
		{"88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"},
		{"88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", 129, "0000000000000000", "5b78d3a43dfff1f1"},
	} {
		key, _ := hex.DecodeString(v.key)
		pt, _ := hex.DecodeString(v.pt)
		ct, _ := hex.DecodeString(v.ct)
		c, err := newRC2(key, v.bits)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 8)
		c.Encrypt(got, pt)
		if !bytes.Equal(got, ct) {
			t.Errorf("RC2 %s/%d encrypt = %x, want %x", v.key, v.bits, got, ct)
		}
		c.Decrypt(got, ct)
		if !bytes.Equal(got, pt) {
			t.Errorf("RC2 %s/%d decrypt = %x, want %x", v.key, v.bits, got, pt)
		}
	}
}
