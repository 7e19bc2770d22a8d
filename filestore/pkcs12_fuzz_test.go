package filestore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// cheapP12 returns a small PKCS#12 keystore written with one iteration (fast to fuzz): a
// secret key, an AES key, an EC key pair and a trusted certificate, password "changeit".
func cheapP12(t testing.TB) []byte {
	t.Helper()
	ec, err := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindEC, Subject: pkix.Name{CommonName: "fuzz"}})
	if err != nil {
		t.Fatal(err)
	}
	w := &p12Writer{password: "changeit", keyPass: "changeit", iterations: 1}
	data, err := w.encode([]p12Out{
		{alias: "hmac", localKeyID: []byte("Time 1"), km: secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: bytes.Repeat([]byte{1}, 32)}},
		{alias: "aes", localKeyID: []byte("Time 2"), km: secrets.KeyMaterial{Kind: secrets.KindAES, Secret: bytes.Repeat([]byte{2}, 16)}},
		{alias: "ec", localKeyID: []byte("Time 3"), km: ec},
		{alias: "cert", km: secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: ec.Chain}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// FuzzPKCS12 feeds arbitrary bytes to the PKCS#12 reader and decrypts every key it finds:
// it must return errors, never panic, and stay within its limits.
func FuzzPKCS12(f *testing.F) {
	// Seeds are cheap (one KDF iteration, an EC key): the keytool fixtures, at 10000
	// iterations and with RSA keys, are read by TestPKCS12Fixtures instead.
	f.Add(cheapP12(f))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03})
	// BER (NSS) and no-MAC files of the corpus: their structure, not their KDFs, is the point.
	for _, name := range []string{"nss-ec.p12", "ossl-all-none-nomac.p12", "bc-ber.p12"} {
		if b, err := os.ReadFile("testdata/corpus/files/" + name); err == nil {
			f.Add(b)
		}
	}
	old := iterationLimit
	iterationLimit = 64 // beyond the seeds' single iteration only the limit check matters
	f.Cleanup(func() { iterationLimit = old })
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data)
		// Most mutations break the MAC, which is checked first: sign the mutated content
		// again so that the fuzzer reaches the bag parsers too.
		if fixed := remac(data, "changeit"); fixed != nil {
			fuzzDecode(t, fixed)
		}
	})
}

func fuzzDecode(t *testing.T, data []byte) {
	// Without a MAC the bag parsers are reached directly.
	if p, err := decodePKCS12Opts(data, "changeit", true); err == nil {
		for _, e := range p.entries {
			if e.key != nil {
				e.key.decrypt("changeit") //nolint:errcheck // only panics matter here
			}
		}
	}
	p, err := decodePKCS12(data, "changeit")
	if err != nil {
		if strings.Contains(err.Error(), "changeit") {
			t.Fatalf("error carries the password: %v", err)
		}
		return
	}
	for _, e := range p.entries {
		if e.key != nil {
			if km, err := e.key.decrypt("changeit"); err == nil && km.Kind != secrets.KindUnknown {
				storekit.NewSoftwareEntry(e.Alias, km)
			}
		}
	}
}

// remac returns data with its MAC recomputed under password (SHA-256, one iteration), or
// nil when data is no PFX.
func remac(data []byte, password string) []byte {
	var pfx pfxPDU
	if _, err := asn1.Unmarshal(data, &pfx); err != nil {
		return nil
	}
	var authSafe []byte
	if _, err := asn1.Unmarshal(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return nil
	}
	salt := []byte("fuzzsalt")
	key := pkcs12KDF(kdfSHA256, bmpPassword(password), salt, kdfMAC, 1, 32)
	m := hmac.New(sha256.New, key)
	m.Write(authSafe)
	pfx.MacData = macData{Mac: digestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256}, Digest: m.Sum(nil)}, MacSalt: salt, Iterations: 1}
	out, err := asn1.Marshal(pfx)
	if err != nil {
		return nil
	}
	return out
}

// TestPKCS12BadInput: truncated files, flipped bytes, absurd iteration counts and lengths,
// unknown bag types and deep nesting give errors (quickly), never panics.
func TestPKCS12BadInput(t *testing.T) {
	good := cheapP12(t)
	t.Run("Truncated", func(t *testing.T) {
		for n := 0; n < len(good); n += 7 {
			if _, err := decodePKCS12(good[:n], "changeit"); err == nil {
				t.Fatalf("prefix of %d bytes decoded", n)
			}
		}
	})
	t.Run("BadMAC", func(t *testing.T) {
		for _, off := range []int{len(good) / 3, len(good) / 2, len(good) - 40} {
			bad := bytes.Clone(good)
			bad[off] ^= 0x01
			_, err := decodePKCS12(bad, "changeit")
			if err == nil {
				t.Fatalf("flipped byte at %d accepted", off)
			}
		}
		// Flip a byte of the authenticated content itself: the MAC catches it.
		var pfx pfxPDU
		strictUnmarshal(good, &pfx)
		idx := bytes.Index(good, pfx.MacData.Mac.Digest)
		bad := bytes.Clone(good)
		bad[idx] ^= 0xff
		if _, err := decodePKCS12(bad, "changeit"); !errors.Is(err, secrets.ErrWrongPIN) {
			t.Fatalf("bad MAC: %v", err)
		}
	})
	t.Run("AbsurdIterations", func(t *testing.T) {
		for _, it := range []int{MaxIterations + 1, 1 << 30, -5, 0} {
			var pfx pfxPDU
			if err := strictUnmarshal(good, &pfx); err != nil {
				t.Fatal(err)
			}
			pfx.MacData.Iterations = it
			bad, err := asn1.Marshal(pfx)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = decodePKCS12(bad, "changeit")
			if err == nil || time.Since(start) > time.Second {
				t.Fatalf("MAC iterations %d: %v after %v", it, err, time.Since(start))
			}
		}
		// Key bags are decrypted lazily, each within the limit.
		w := &p12Writer{password: "changeit", keyPass: "changeit", iterations: MaxIterations + 1}
		if _, err := w.epki([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(context.Background(), "x", Config{Iterations: MaxIterations + 1}); err == nil {
			t.Fatal("Config.Iterations above the limit accepted")
		}
	})
	t.Run("HugeLength", func(t *testing.T) {
		// A SEQUENCE claiming 2 GiB: rejected without allocating it.
		if _, err := decodePKCS12([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x03}, "x"); err == nil {
			t.Fatal("accepted")
		}
		if _, err := decodePKCS12(make([]byte, MaxFileSize+1), "x"); err == nil {
			t.Fatal("oversize accepted")
		}
	})
	t.Run("UnknownBagKeptAndNesting", func(t *testing.T) {
		unknown, _ := asn1.Marshal(safeBag{ID: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: explicit0([]byte{0x05, 0x00})})
		w := &p12Writer{password: "pw", keyPass: "pw", iterations: 1}
		data, err := w.encode([]p12Out{{alias: "k", localKeyID: []byte("Time 1"), km: secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: make([]byte, 32)}}}, [][]byte{unknown})
		if err != nil {
			t.Fatal(err)
		}
		p, err := decodePKCS12(data, "pw")
		if err != nil || len(p.entries) != 1 || len(p.extra) != 1 || !bytes.Equal(p.extra[0], unknown) {
			t.Fatalf("unknown bag: %v %d %d", err, len(p.entries), len(p.extra))
		}
		// safeContentsBag nested deeper than the limit.
		inner := unknown
		for i := 0; i <= maxNesting+1; i++ {
			sc, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: inner})
			inner, _ = asn1.Marshal(safeBag{ID: oidSafeContentsBag, Value: explicit0(sc)})
		}
		data, _ = w.encode(nil, [][]byte{inner})
		if _, err := decodePKCS12(data, "pw"); err == nil || !strings.Contains(err.Error(), "nested") {
			t.Fatalf("deep nesting: %v", err)
		}
	})
	t.Run("NotAKeystore", func(t *testing.T) {
		dir := t.TempDir()
		for name, content := range map[string]string{"empty": "", "text": "hello world", "pem": "-----BEGIN CERTIFICATE-----\n"} {
			p := filepath.Join(dir, name)
			os.WriteFile(p, []byte(content), 0o600)
			_, err := Open(context.Background(), p, Config{})
			if err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}
