package filestore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// BenchmarkOpen opens keytool's keystore.p12 (8 entries): MAC check plus decryption of the
// certificate content, two 10000-iteration KDFs; keys stay encrypted until used.
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		s, err := Open(ctx, "testdata/keystore.p12", Config{Password: "changeit"})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkOpenFloor is the raw floor of BenchmarkOpen: the same two derivations (PKCS#12
// KDF for the MAC key, PBKDF2-HMAC-SHA256 for the certificate key, 10000 iterations each)
// called directly.
func BenchmarkOpenFloor(b *testing.B) {
	salt := make([]byte, 20)
	for b.Loop() {
		pkcs12KDF(kdfSHA256, bmpPassword("changeit"), salt, kdfMAC, 10000, 32)
		pbkdf2.Key(sha256.New, "changeit", salt, 10000, 32)
	}
}

// BenchmarkEntryFirstUse is the lazy decryption of one key (a PBKDF2 of 10000 iterations
// and the PKCS#8 parse), measured on a fresh store each time; BenchmarkPBKDF2Floor is its
// floor.
func BenchmarkEntryFirstUse(b *testing.B) {
	ctx := context.Background()
	data, _ := os.ReadFile("testdata/keystore.p12")
	f, err := decodePKCS12(data, "changeit")
	if err != nil {
		b.Fatal(err)
	}
	var k *p12Key
	for _, e := range f.entries {
		if e.Alias == "openidm-jwtsessionhmac-key" {
			k = e.key
		}
	}
	_ = ctx
	for b.Loop() {
		if _, err := k.decrypt("changeit"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPBKDF2Floor(b *testing.B) {
	salt := make([]byte, 20)
	for b.Loop() {
		pbkdf2.Key(sha256.New, "changeit", salt, 10000, 32)
	}
}

var (
	bigOnce sync.Once
	bigPath string
)

// bigKeystore writes (once) a keystore of 1000 HmacSHA256 keys with Java's default 10000
// iterations.
func bigKeystore(b *testing.B) string {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "filestore-bench")
		if err != nil {
			b.Fatal(err)
		}
		var outs []p12Out
		for i := range 1000 {
			outs = append(outs, p12Out{alias: fmt.Sprintf("key-%04d", i), localKeyID: []byte(fmt.Sprintf("Time %d", 1700000000000+i)),
				km: secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: bytes.Repeat([]byte{byte(i)}, 32)}})
		}
		w := &p12Writer{password: "changeit", keyPass: "changeit", iterations: 10000}
		data, err := w.encode(outs, nil)
		if err != nil {
			b.Fatal(err)
		}
		bigPath = filepath.Join(dir, "big.p12")
		if err := os.WriteFile(bigPath, data, 0o600); err != nil {
			b.Fatal(err)
		}
	})
	return bigPath
}

// BenchmarkOpenList1000: open a 1000-key keystore and list it (lazy: no key decrypted).
func BenchmarkOpenList1000(b *testing.B) {
	path := bigKeystore(b)
	ctx := context.Background()
	for b.Loop() {
		s, err := Open(ctx, path, Config{Password: "changeit"})
		if err != nil {
			b.Fatal(err)
		}
		if a, _ := s.Aliases(ctx); len(a) != 1000 {
			b.Fatal(len(a))
		}
		s.Close()
	}
}

// BenchmarkOpenDecryptAll1000: open the same keystore and use every key (what an eager
// reader pays at open).
func BenchmarkOpenDecryptAll1000(b *testing.B) {
	path := bigKeystore(b)
	ctx := context.Background()
	for b.Loop() {
		s, err := Open(ctx, path, Config{Password: "changeit"})
		if err != nil {
			b.Fatal(err)
		}
		a, _ := s.Aliases(ctx)
		for _, alias := range a {
			if _, err := s.Entry(ctx, alias); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
}

// BenchmarkKeytoolList1000 runs `keytool -list` on the same file (JVM start included).
func BenchmarkKeytoolList1000(b *testing.B) {
	kt := testenv.LookPath(b, testenv.Java, "keytool")
	path := bigKeystore(b)
	for b.Loop() {
		if out, err := exec.Command(kt, "-list", "-keystore", path, "-storetype", "PKCS12", "-storepass", "changeit").CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
}

// BenchmarkHMAC: HMAC-SHA256 over 64 bytes through a Secret of a store entry, against
// crypto/hmac directly with the same key.
func BenchmarkHMAC(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, "testdata/keystore.p12", Config{Password: "changeit"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e, err := s.Entry(ctx, "openidm-jwtsessionhmac-key")
	if err != nil {
		b.Fatal(err)
	}
	msg := p12KAT
	b.Run("Secret", func(b *testing.B) {
		sec := secrets.NewSecret(s.Name(), e)
		for b.Loop() {
			if _, err := sec.MAC(ctx, crypto.SHA256, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Stdlib", func(b *testing.B) {
		key, _ := e.(secrets.EntryExporter).Export(ctx)
		for b.Loop() {
			m := hmac.New(sha256.New, key)
			m.Write(msg)
			m.Sum(nil)
		}
	})
	b.Run("StoreEntryLookup", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Entry(ctx, "openidm-jwtsessionhmac-key"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkProviderActiveWarm is the hot path over a keystore file: a Provider with IDM's
// mapping of the JWT session key, warm, so no store call. Compare BenchmarkHMAC's
// StoreEntryLookup, the store's own cached lookup.
func BenchmarkProviderActiveWarm(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, "testdata/keystore.p12", Config{Password: "changeit"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p, err := secrets.NewProvider([]secrets.Store{s}, []secrets.Mapping{{
		Store: s.Name(), SecretID: "idm.jwt.session.module.signing",
		Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"openidm-jwtsessionhmac-key"},
	}}, secrets.ProviderOptions{})

	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign); err != nil {
			b.Fatal(err)
		}
	}
}
