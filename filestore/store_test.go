package filestore

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// storeCopy copies testdata/name into a fresh temporary directory and returns its path.
func storeCopy(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func storeOpen(t testing.TB, path string, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storeWants lists a fixture's entries as the conformance suite wants them.
func storeWants(t testing.TB, file string) []secretstest.Want {
	exp := p12LoadExpected(t, "testdata/expected.json")[file]
	var out []secretstest.Want
	for alias, e := range exp.Entries {
		k := map[string]secrets.Kind{"secret": secrets.KindSecret, "AES": secrets.KindAES, "RSA": secrets.KindRSA,
			"EC": secrets.KindEC, "certificate": secrets.KindCertificate}[e.Kind]
		out = append(out, secretstest.Want{Alias: alias, Kind: k, Extractable: true})
	}
	slices.SortFunc(out, func(a, b secretstest.Want) int { return strings.Compare(a.Alias, b.Alias) })
	return out
}

func TestStoreConformance(t *testing.T) {
	for _, file := range []string{"keystore.p12", "truststore.p12", "keystore.jceks", "keystore.jks", "truststore.jks"} {
		t.Run(file, func(t *testing.T) {
			path := storeCopy(t, file)
			secretstest.Run(t, func(t *testing.T) secrets.Store {
				s, err := Open(context.Background(), path, Config{Password: "changeit"})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}, storeWants(t, file))
		})
	}
}

// TestStoreFixtures reads every entry of each keytool fixture through Open and Entry and
// compares it with what Java read.
func TestStoreFixtures(t *testing.T) {
	exp := p12LoadExpected(t, "testdata/expected.json")
	ctx := context.Background()
	for _, file := range []string{"keystore.p12", "truststore.p12", "keystore.jceks", "keystore.jks", "truststore.jks", "keystore-keypass.jceks"} {
		t.Run(file, func(t *testing.T) {
			want := exp[file]
			cfg := Config{Password: want.StorePassword}
			if want.KeyPassword != want.StorePassword {
				cfg.KeyPassword = want.KeyPassword
			}
			s := storeOpen(t, filepath.Join("testdata", file), cfg)
			if string(s.Format()) != want.Type {
				t.Errorf("format %s, want %s", s.Format(), want.Type)
			}
			aliases, _ := s.Aliases(ctx)
			if len(aliases) != len(want.Entries) {
				t.Errorf("aliases %v", aliases)
			}
			for alias, w := range want.Entries {
				e, err := s.Entry(ctx, alias)
				if err != nil {
					t.Fatal(err)
				}
				km := storeMaterial(t, e)
				p12CheckMaterial(t, alias, km, w)
				if created, _ := s.Created(ctx, alias); w.Created != 0 && created.UnixMilli() != w.Created {
					t.Errorf("%s: created %v, Java says %d", alias, created.UnixMilli(), w.Created)
				}
			}
		})
	}
}

// storeMaterial recovers key material from an entry through its public operations.
func storeMaterial(t testing.TB, e secrets.Entry) secrets.KeyMaterial {
	t.Helper()
	km := secrets.KeyMaterial{Kind: e.Kind(), Chain: e.Chain()}
	if x, ok := e.(secrets.EntryExporter); ok {
		b, err := x.Export(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		km.Secret = b
		km.Algorithm = map[secrets.Kind]string{secrets.KindSecret: "HmacSHA256", secrets.KindAES: "AES"}[e.Kind()]
	}
	if e.Kind().Private() {
		km.Private = storePrivate(e)
	}
	return km
}

// storeEntryMaterial is storeMaterial with the Java algorithm name the file records (the
// SPI does not expose it).
func storeEntryMaterial(t testing.TB, s *Store, alias string) secrets.KeyMaterial {
	t.Helper()
	e, err := s.Entry(context.Background(), alias)
	if err != nil {
		t.Fatal(err)
	}
	km := storeMaterial(t, e)
	if km.Kind.Symmetric() {
		st, _ := s.current()
		_, fe := st.lookup(alias)
		raw, err := fe.material(s.cfg.keyPassword())
		if err != nil {
			t.Fatal(err)
		}
		km.Algorithm = raw.Algorithm
	}
	return km
}

// storePrivate digs the private key out of a software entry for byte comparisons in tests.
func storePrivate(e secrets.Entry) crypto.PrivateKey {
	type keyed interface{ Private() crypto.PrivateKey }
	if k, ok := e.(keyed); ok {
		return k.Private()
	}
	return signerKey{e}
}

// signerKey adapts an EntrySigner for p12CheckMaterial's signature comparison.
type signerKey struct{ e secrets.Entry }

func (k signerKey) Public() crypto.PublicKey { return k.e.Public() }
func (k signerKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.e.(secrets.EntrySigner).Sign(context.Background(), digest, opts)
}

func TestStoreWrongPassword(t *testing.T) {
	for _, file := range []string{"keystore.p12", "keystore.jceks", "truststore.jks"} {
		_, err := Open(context.Background(), filepath.Join("testdata", file), Config{Password: "hunter2-wrong"})
		if !errors.Is(err, secrets.ErrWrongPIN) {
			t.Errorf("%s: err = %v, want ErrWrongPIN", file, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: error %q should name the file and not the password", file, err)
		}
	}
}

func TestStoreReadOnlyJava(t *testing.T) {
	ctx := context.Background()
	for _, file := range []string{"keystore.jceks", "truststore.jks"} {
		path := storeCopy(t, file)
		before, _ := os.ReadFile(path)
		s := storeOpen(t, path, Config{Password: "changeit"})
		_, err := s.Generate(ctx, "new-key", secrets.KeySpec{Kind: secrets.KindSecret}, false)
		if !errors.Is(err, secrets.ErrReadOnly) || !strings.Contains(err.Error(), "-deststoretype PKCS12") ||
			!strings.Contains(err.Error(), "ConvertToPKCS12") {
			t.Errorf("%s: Generate err = %v", file, err)
		}
		if err := s.Delete(ctx, "openidm-localhost"); !errors.Is(err, secrets.ErrReadOnly) {
			t.Errorf("%s: Delete err = %v", file, err)
		}
		after, _ := os.ReadFile(path)
		if string(before) != string(after) {
			t.Errorf("%s changed", file)
		}
	}
}

func TestStoreWriteReopen(t *testing.T) {
	ctx := context.Background()
	path := storeCopy(t, "keystore.p12")
	s := storeOpen(t, path, Config{Password: "changeit"})
	var changes []secrets.Change
	var mu sync.Mutex
	defer s.Subscribe(func(c secrets.Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() })()

	k := []byte("0123456789abcdef0123456789abcdef")
	if _, err := s.Import(ctx, "imported", secrets.KeyMaterial{Kind: secrets.KindAES, Secret: k}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, "IMPORTED", secrets.KeyMaterial{Kind: secrets.KindAES, Secret: k}, false); !errors.Is(err, secrets.ErrExists) {
		t.Fatalf("case-folded duplicate: %v", err)
	}
	if _, err := s.Generate(ctx, "gen-ec", secrets.KeySpec{Kind: secrets.KindEC, Subject: pkix.Name{CommonName: "x"}}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "aes128-key"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "aes128-key"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", info.Mode(), err)
	}
	if len(changes) != 3 || changes[0].Aliases[0] != "imported" {
		t.Errorf("changes %v", changes)
	}

	// Reopen: untouched entries are still Java's, byte for byte.
	s2 := storeOpen(t, path, Config{Password: "changeit"})
	exp := p12LoadExpected(t, "testdata/expected.json")["keystore.p12"]
	delete(exp.Entries, "aes128-key")
	for alias, w := range exp.Entries {
		e, err := s2.Entry(ctx, alias)
		if err != nil {
			t.Fatal(err)
		}
		p12CheckMaterial(t, alias, storeMaterial(t, e), w)
	}
	e, err := s2.Entry(ctx, "imported")
	if err != nil || e.Kind() != secrets.KindAES {
		t.Fatal(e, err)
	}
	got, _ := e.(secrets.EntryExporter).Export(ctx)
	if string(got) != string(k) {
		t.Fatal("imported key differs after reopen")
	}
	if _, err := s2.Entry(ctx, "gen-ec"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Entry(ctx, "aes128-key"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s2.Entry(ctx, "OpenIDM-Localhost"); err != nil {
		t.Fatalf("case-insensitive lookup: %v", err)
	}
}

// TestStoreTwoWriters: two Stores on one file (as two processes would be) never lose each
// other's writes, and the other store sees them after Reload.
func TestStoreTwoWriters(t *testing.T) {
	ctx := context.Background()
	path := storeCopy(t, "truststore.p12")
	cfg := Config{Password: "changeit", Iterations: 1000}
	a := storeOpen(t, path, cfg)
	b := storeOpen(t, path, cfg)
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				alias := string(rune('a'+i)) + "-" + string(rune('0'+j))
				if _, err := s.Import(ctx, alias, secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: make([]byte, 32)}, false); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	changed, err := a.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = changed
	aliases, _ := a.Aliases(ctx)
	if len(aliases) != 12 {
		t.Fatalf("aliases after concurrent writes: %v", aliases)
	}
}

func TestStoreReloadAndWatch(t *testing.T) {
	ctx := context.Background()
	path := storeCopy(t, "truststore.p12")
	cfg := Config{Password: "changeit", Iterations: 1000}
	watched := storeOpen(t, path, Config{Password: "changeit", Watch: 10 * time.Millisecond})
	got := make(chan secrets.Change, 8)
	defer watched.Subscribe(func(c secrets.Change) { got <- c })()
	writer := storeOpen(t, path, cfg)
	if _, err := writer.Import(ctx, "rotated", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: make([]byte, 32)}, false); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c.Aliases != nil || c.Store != watched.Name() {
			t.Errorf("change %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher did not notice the change")
	}
	if _, err := watched.Entry(ctx, "rotated"); err != nil {
		t.Fatal(err)
	}
	if changed, err := watched.Reload(ctx); err != nil || changed {
		t.Fatalf("Reload of an unchanged file: %v %v", changed, err)
	}
}

func TestStoreCreateAndJavaNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(ctx, filepath.Join(dir, "keystore.jceks"), Config{Create: true}); err == nil || !strings.Contains(err.Error(), "PKCS12") {
		t.Fatalf("creating a .jceks: %v", err)
	}
	if _, err := Open(ctx, filepath.Join(dir, "none.p12"), Config{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	s := storeOpen(t, filepath.Join(dir, "new.p12"), Config{Password: "pw", Create: true})
	if a, _ := s.Aliases(ctx); len(a) != 0 {
		t.Fatal(a)
	}
	storeOpen(t, filepath.Join(dir, "new.p12"), Config{Password: "pw"})
	// A PKCS#12 file under a JCEKS name is never written.
	data, _ := os.ReadFile("testdata/truststore.p12")
	odd := filepath.Join(dir, "odd.jceks")
	os.WriteFile(odd, data, 0o600)
	s = storeOpen(t, odd, Config{Password: "changeit"})
	if _, err := s.Generate(ctx, "k", secrets.KeySpec{Kind: secrets.KindSecret}, false); !errors.Is(err, secrets.ErrReadOnly) {
		t.Fatalf("write under a JCEKS name: %v", err)
	}
	if _, err := Open(ctx, odd, Config{Password: "changeit", Type: JCEKS}); err == nil || !strings.Contains(err.Error(), "storetype PKCS12") {
		t.Fatalf("storetype JCEKS on a PKCS12 file: %v", err)
	}
	if _, err := Open(ctx, "testdata/truststore.jks", Config{Password: "changeit", Type: PKCS12}); err != nil {
		t.Fatalf("Java 17 compatibility mode: %v", err)
	}
}

func TestStoreCancelledAndClosed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, "testdata/keystore.p12", Config{Password: "changeit"}); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	s := storeOpen(t, storeCopy(t, "truststore.p12"), Config{Password: "changeit"})
	if _, err := s.Import(ctx, "x", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: make([]byte, 32)}, false); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Generate(context.Background(), "x", secrets.KeySpec{Kind: secrets.KindSecret}, false); !errors.Is(err, secrets.ErrClosed) {
		t.Fatal(err)
	}
}

func TestStoreKeyMaterial(t *testing.T) {
	ctx := context.Background()
	for _, file := range []string{"keystore.p12", "keystore.jceks"} {
		s := storeOpen(t, storeCopy(t, file), Config{Password: "changeit"})
		for _, w := range storeWants(t, file) {
			km, err := s.KeyMaterial(ctx, w.Alias)
			if err != nil {
				t.Fatalf("%s %s: %v", file, w.Alias, err)
			}
			if km.Kind != w.Kind {
				t.Fatalf("%s %s: kind %v, want %v", file, w.Alias, km.Kind, w.Kind)
			}
			// The material makes an entry that behaves as the store's own.
			e, err := s.Entry(ctx, w.Alias)
			if err != nil {
				t.Fatal(err)
			}
			copyEntry, err := storekit.NewSoftwareEntry(w.Alias, km)
			if err != nil {
				t.Fatalf("%s %s: %v", file, w.Alias, err)
			}
			if w.Kind.Symmetric() {
				a, _ := secrets.NewSecret("a", e).MAC(ctx, crypto.SHA256, []byte("m"))
				b, _ := secrets.NewSecret("b", copyEntry).MAC(ctx, crypto.SHA256, []byte("m"))
				if w.Kind == secrets.KindSecret && string(a) != string(b) {
					t.Fatalf("%s %s: the exported secret differs", file, w.Alias)
				}
				km.Secret[0] ^= 1 // a copy: the store's key is untouched
				c, _ := secrets.NewSecret("a", e).MAC(ctx, crypto.SHA256, []byte("m"))
				if string(a) != string(c) {
					t.Fatalf("%s %s: KeyMaterial shares the store's key bytes", file, w.Alias)
				}
			} else if pub := e.Public(); pub == nil || !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(copyEntry.Public()) {
				t.Fatalf("%s %s: the exported key pair differs", file, w.Alias)
			}
		}
		if _, err := s.KeyMaterial(ctx, "no-such-alias"); !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("unknown alias: %v", err)
		}
	}
}

// TestStoreWriteThroughSymlink: a keystore opened through a symbolic link is written where
// the link points, as keytool writes it; the link stays a link.
func TestStoreWriteThroughSymlink(t *testing.T) {
	ctx := context.Background()
	target := storeCopy(t, "keystore.p12")
	link := filepath.Join(t.TempDir(), "keystore.p12")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	s := storeOpen(t, link, Config{Password: "changeit"})
	if _, err := s.Generate(ctx, "new-key", secrets.KeySpec{Kind: secrets.KindAES}, false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	tgt := storeOpen(t, target, Config{Password: "changeit"})
	if _, err := tgt.Entry(ctx, "new-key"); err != nil {
		t.Errorf("the link's target lacks the new key: %v", err)
	}
	// A second write finds the file unchanged (no spurious reload) and keeps both keys.
	if _, err := s.Generate(ctx, "newer-key", secrets.KeySpec{Kind: secrets.KindAES}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"new-key", "newer-key"} {
		if _, err := tgt.Entry(ctx, a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(link), ".*tmp*")); len(m) != 0 {
		t.Errorf("temporary files left beside the link: %v", m)
	}
}

// TestStoreSymlinkSharesLock: two writers naming one file through a link and directly lose
// none of each other's keys.
func TestStoreSymlinkSharesLock(t *testing.T) {
	ctx := context.Background()
	target := storeCopy(t, "keystore.p12")
	link := filepath.Join(t.TempDir(), "keystore.p12")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	a := storeOpen(t, link, Config{Password: "changeit"})
	b := storeOpen(t, target, Config{Password: "changeit"})
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if _, err := s.Generate(ctx, fmt.Sprintf("k-%d-%d", i, j), secrets.KeySpec{Kind: secrets.KindAES}, false); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if _, err := os.Stat(link + ".lock"); err == nil {
		t.Errorf("a lock file beside the link: writers through the link and the target would not share it")
	}
	c := storeOpen(t, target, Config{Password: "changeit"})
	for i := 0; i < 2; i++ {
		for j := 0; j < 5; j++ {
			if _, err := c.Entry(ctx, fmt.Sprintf("k-%d-%d", i, j)); err != nil {
				t.Error(err)
			}
		}
	}
}
