package filestore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
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

func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// selfSigned returns a certificate for key, signed by signer (key itself when nil).
func selfSigned(t testing.TB, cn string, key crypto.Signer, signer crypto.Signer, parent *x509.Certificate) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	if signer == nil {
		signer, parent = key, tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// pemFixtures is a PEM directory: an RSA key (PKCS#8) with its certificate, an EC key (SEC1)
// with a CA certificate written before its own, an RSA key in PKCS#1, and a lone certificate.
var pemFixtures = sync.OnceValue(func() map[string][]byte {
	var tb fatalTB
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := selfSigned(tb, "ca", caKey, nil, nil)
	rsaCert := selfSigned(tb, "rsa", rsaKey, nil, nil)
	ecCert := selfSigned(tb, "ec", ecKey, caKey, ca)
	p8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	return map[string][]byte{
		"rsa":   slices.Concat(pemOf("PRIVATE KEY", p8), pemOf("CERTIFICATE", rsaCert.Raw)),
		"ec":    slices.Concat(pemOf("CERTIFICATE", ca.Raw), pemOf("EC PRIVATE KEY", sec1), pemOf("CERTIFICATE", ecCert.Raw)),
		"pkcs1": pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)),
		"ca":    pemOf("CERTIFICATE", ca.Raw),
	}
})

func TestDirStoreConformance(t *testing.T) {
	hmacKey := randBytes(32)
	cases := []struct {
		name  string
		cfg   DirConfig
		files map[string][]byte
		want  []secretstest.Want
	}{
		{"PLAIN versions", DirConfig{VersionSuffix: ".v"}, map[string][]byte{
			"openidm-jwtsessionhmac-key": hmacKey, "jwt.v1": randBytes(32), "jwt.v2": randBytes(32),
		}, []secretstest.Want{
			{Alias: "openidm-jwtsessionhmac-key", Kind: secrets.KindSecret, Extractable: true},
			{Alias: "jwt.v1", Kind: secrets.KindSecret, Extractable: true},
			{Alias: "jwt.v2", Kind: secrets.KindSecret, Extractable: true},
		}},
		{"BASE64 AES", DirConfig{Format: DirBase64, SecretKind: secrets.KindAES}, map[string][]byte{
			"aes256": []byte(base64.StdEncoding.EncodeToString(randBytes(32)) + "\n"),
			"aes128": []byte(base64.RawStdEncoding.EncodeToString(randBytes(16))),
		}, []secretstest.Want{
			{Alias: "aes256", Kind: secrets.KindAES, Extractable: true},
			{Alias: "aes128", Kind: secrets.KindAES, Extractable: true},
		}},
		{"BASE64URL", DirConfig{Format: DirBase64URL}, map[string][]byte{
			"mac": []byte(base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff}, 32))),
		}, []secretstest.Want{{Alias: "mac", Kind: secrets.KindSecret, Extractable: true}}},
		{"PEM", DirConfig{Format: DirPEM}, pemFixtures(), []secretstest.Want{
			{Alias: "rsa", Kind: secrets.KindRSA}, {Alias: "ec", Kind: secrets.KindEC},
			{Alias: "pkcs1", Kind: secrets.KindRSA}, {Alias: "ca", Kind: secrets.KindCertificate},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, c.files)
			secretstest.Run(t, func(t *testing.T) secrets.Store {
				s, err := OpenDir(context.Background(), dir, c.cfg)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}, c.want)
		})
	}
}

func TestDirStorePEM(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, pemFixtures())
	s, err := OpenDir(context.Background(), dir, DirConfig{Format: DirPEM, Name: "pem"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := s.Entry(context.Background(), "ec")
	if err != nil {
		t.Fatal(err)
	}
	chain := e.Chain()
	if len(chain) != 2 || chain[0].Subject.CommonName != "ec" || chain[1].Subject.CommonName != "ca" {
		t.Fatalf("ec chain: leaf must come first, then the CA: %v", chain)
	}
	if e, _ := s.Entry(context.Background(), "pkcs1"); e.Chain() != nil {
		t.Fatal("a key without certificates has no chain")
	}
}

func TestDirStoreBadFiles(t *testing.T) {
	ctx := context.Background()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	// An encrypted legacy PEM block (x509.EncryptPEMBlock is deprecated, so by hand).
	encBlock := &pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: randBytes(64)}
	cases := []struct {
		name string
		cfg  DirConfig
		data []byte
		want string
	}{
		{"empty PLAIN", DirConfig{}, nil, "empty secret"},
		{"bad BASE64", DirConfig{Format: DirBase64}, []byte("c2VjcmV0LXZhbHVl!!"), "not BASE64"},
		{"BASE64 given BASE64URL", DirConfig{Format: DirBase64}, []byte("-_-_"), "not BASE64"},
		{"AES of 20 bytes", DirConfig{SecretKind: secrets.KindAES}, randBytes(20), "AES key of 20 bytes"},
		{"too large", DirConfig{MaxFileSize: 100}, randBytes(101), "larger than the limit of 100 bytes"},
		{"PEM without blocks", DirConfig{Format: DirPEM}, []byte("hunter-value"), "no PEM block"},
		{"PEM encrypted", DirConfig{Format: DirPEM}, pem.EncodeToMemory(encBlock), "encrypted PEM"},
		{"PEM encrypted PKCS#8", DirConfig{Format: DirPEM}, pemOf("ENCRYPTED PRIVATE KEY", []byte{1}), "encrypted PEM"},
		{"PEM public key", DirConfig{Format: DirPEM}, pemOf("PUBLIC KEY", []byte{1}), "PUBLIC KEY"},
		{"PEM bad key", DirConfig{Format: DirPEM}, pemOf("PRIVATE KEY", []byte{1, 2, 3}), "PRIVATE KEY"},
		{"PEM two keys", DirConfig{Format: DirPEM}, slices.Concat(pemOf("PRIVATE KEY", p8), pemOf("PRIVATE KEY", p8)), "more than one"},
		{"PEM foreign certificate", DirConfig{Format: DirPEM}, slices.Concat(pemOf("PRIVATE KEY", p8), pemOf("CERTIFICATE", selfSigned(t, "x", other, nil, nil).Raw)), "no certificate in the file holds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string][]byte{"bad": c.data, "good": []byte(base64.StdEncoding.EncodeToString(randBytes(16)))})
			if c.cfg.Format == DirPEM {
				writeFiles(t, dir, map[string][]byte{"good": pemFixtures()["ca"]})
			}
			s, err := OpenDir(ctx, dir, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			aliases, _ := s.Aliases(ctx)
			if !slices.Equal(aliases, []string{"bad", "good"}) {
				t.Fatalf("aliases %v: a bad file is still listed", aliases)
			}
			if _, err := s.Entry(ctx, "good"); err != nil {
				t.Fatalf("good file: %v", err)
			}
			_, err = s.Entry(ctx, "bad")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "file bad") {
				t.Fatalf("error %v, want one naming the file and saying %q", err, c.want)
			}
			if errors.Is(err, secrets.ErrNotFound) {
				t.Fatal("a bad file is not a missing one")
			}
			if len(c.data) > 4 && strings.Contains(err.Error(), string(c.data[:5])) {
				t.Fatalf("error %q shows the file's content", err)
			}
		})
	}
}

func TestDirStoreSkips(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"a": []byte("x"), ".hidden": []byte("y"), "b.swp~": []byte("z")})
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A Kubernetes secret mount: ..data → timestamped dir, name → ..data/name.
	if err := os.Mkdir(filepath.Join(dir, "..2024_01_01"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(dir, "..2024_01_01"), map[string][]byte{"k8s": []byte("from-mount")})
	for old, new := range map[string]string{"..2024_01_01": "..data", "..data/k8s": "k8s", "missing": "dangling"} {
		if err := os.Symlink(old, filepath.Join(dir, new)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenDir(context.Background(), dir, DirConfig{})
	if err != nil {
		t.Fatal(err)
	}
	aliases, _ := s.Aliases(context.Background())
	if !slices.Equal(aliases, []string{"a", "b.swp~", "k8s"}) {
		t.Fatalf("aliases %v", aliases)
	}
	e, err := s.Entry(context.Background(), "k8s")
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := e.(secrets.EntryExporter).Export(context.Background()); string(k) != "from-mount" {
		t.Fatal("symlinked file not read")
	}
	if _, err := OpenDir(context.Background(), filepath.Join(dir, "nope"), DirConfig{}); err == nil {
		t.Fatal("missing directory opened")
	}
	if _, err := OpenDir(context.Background(), dir, DirConfig{Format: "JSON"}); err == nil {
		t.Fatal("unknown format accepted")
	}
	if _, err := OpenDir(context.Background(), dir, DirConfig{SecretKind: secrets.KindRSA}); err == nil {
		t.Fatal("SecretKind RSA accepted")
	}
}

func TestDirStoreVersions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"jwt.v1": []byte("one"), "jwt.v2": []byte("two"), "jwt.v10": []byte("ten"),
		"jwt.v01": []byte("not a version"), "jwt.vx": []byte("nor this"),
		"plain": []byte("p"), "old": []byte("zero"), "old.v1": []byte("old-one"),
	})
	s, err := OpenDir(ctx, dir, DirConfig{VersionSuffix: ".v"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	aliases, _ := s.Aliases(ctx)
	if want := []string{"jwt.v01", "jwt.v1", "jwt.v10", "jwt.v2", "jwt.vx", "old", "old.v1", "plain"}; !slices.Equal(aliases, want) {
		t.Fatalf("aliases %v, want %v", aliases, want)
	}
	for alias, want := range map[string]string{
		"jwt": "jwt.v10", "jwt.v-1": "jwt.v2", "jwt.v-2": "jwt.v1", "jwt.v2": "jwt.v2",
		"old": "old.v1", "old.v-1": "old", "plain": "plain", "jwt.v01": "jwt.v01",
	} {
		e, err := s.Entry(ctx, alias)
		if err != nil {
			t.Errorf("%s: %v", alias, err)
			continue
		}
		if e.Alias() != want {
			t.Errorf("%s resolves to %s, want %s", alias, e.Alias(), want)
		}
	}
	for _, alias := range []string{"jwt.v-3", "jwt.v-0", "jwt.v-01", "jwt.v-+1", "jwt.v-", "plain.v-1", "jwt.v3", "nope", "old.v-2"} {
		if _, err := s.Entry(ctx, alias); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", alias, err)
		}
	}
	// "old" is both the unversioned file and the secret id: the id wins (its active version,
	// old.v1); the file is version 0 (old.v-1). TestSecurity3RotationUnversionedFile.
	if e, _ := s.Entry(ctx, "old"); e.Alias() != "old.v1" {
		t.Errorf("old: %s", e.Alias())
	}
	if got := s.Versions("jwt"); !slices.Equal(got, []string{"jwt.v10", "jwt.v2", "jwt.v1"}) {
		t.Errorf("Versions: %v", got)
	}
	if got := s.RotationAliases("jwt", 2); !slices.Equal(got, []string{"jwt", "jwt.v-1", "jwt.v-2"}) {
		t.Errorf("RotationAliases: %v", got)
	}
}

// TestDirStoreRotation drives a Provider over a DirStore through a rotation: a new version file
// appears, Reload notifies, and the Provider serves it as active with the older ones valid.
func TestDirStoreRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"jwt.v1": randBytes(32), "jwt.v2": randBytes(32)})
	s, err := OpenDir(ctx, dir, DirConfig{VersionSuffix: ".v", Name: "secretsDir"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := secrets.NewProvider([]secrets.Store{s}, []secrets.Mapping{{
		Store: "secretsDir", SecretID: "idm.jwt.session", Types: []secrets.Purpose{secrets.Sign, secrets.Verify},
		Aliases: s.RotationAliases("jwt", 2),
	}}, secrets.ProviderOptions{})

	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	check := func(active string, valid ...string) {
		t.Helper()
		a, err := p.Active(ctx, "idm.jwt.session", secrets.Sign)
		if err != nil || a.Alias() != active {
			t.Fatalf("active: %v %v, want %s", a, err, active)
		}
		vs, err := p.Valid(ctx, "idm.jwt.session", secrets.Verify)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range vs {
			got = append(got, v.Alias())
		}
		if !slices.Equal(got, valid) {
			t.Fatalf("valid %v, want %v", got, valid)
		}
	}
	check("jwt.v2", "jwt.v2", "jwt.v1")
	old, _ := p.Active(ctx, "idm.jwt.session", secrets.Sign)
	tag, err := old.MAC(ctx, crypto.SHA256, []byte("msg"))
	if err != nil {
		t.Fatal(err)
	}

	var changes []secrets.Change
	unsub := s.Subscribe(func(c secrets.Change) { changes = append(changes, c) })
	defer unsub()
	if changed, err := s.Reload(ctx); changed || err != nil {
		t.Fatalf("Reload without changes: %v %v", changed, err)
	}
	writeFiles(t, dir, map[string][]byte{"jwt.v3": randBytes(32)})
	if changed, err := s.Reload(ctx); !changed || err != nil {
		t.Fatalf("Reload after rotation: %v %v", changed, err)
	}
	if len(changes) != 1 || changes[0].Aliases != nil || changes[0].Store != "secretsDir" {
		t.Fatalf("changes %+v: a new version changes every relative alias", changes)
	}
	check("jwt.v3", "jwt.v3", "jwt.v2", "jwt.v1")
	// A token MACed by the old active key still verifies under its concrete alias.
	v2, err := p.Named(ctx, "idm.jwt.session", secrets.Verify, "jwt.v-1")
	if err != nil || v2.Alias() != "jwt.v2" || v2.VerifyMAC(ctx, crypto.SHA256, []byte("msg"), tag) != nil {
		t.Fatalf("old key after rotation: %v %v", v2, err)
	}
	if err := old.VerifyMAC(ctx, crypto.SHA256, []byte("msg"), tag); err != nil {
		t.Fatal("an entry handed out before Reload stops working")
	}
}

func TestDirStoreReloadUnversioned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"a": []byte("1"), "b": []byte("2")})
	s, err := OpenDir(ctx, dir, DirConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var changes []secrets.Change
	s.Subscribe(func(c secrets.Change) { changes = append(changes, c) })
	writeFiles(t, dir, map[string][]byte{"a": []byte("changed"), "c": []byte("3")})
	os.Remove(filepath.Join(dir, "b"))
	if changed, err := s.Reload(ctx); !changed || err != nil {
		t.Fatal(changed, err)
	}
	if len(changes) != 1 || !slices.Equal(changes[0].Aliases, []string{"a", "b", "c"}) {
		t.Fatalf("changes %+v", changes)
	}
	if _, err := s.Entry(ctx, "b"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("removed file: %v", err)
	}
	e, _ := s.Entry(ctx, "a")
	if k, _ := e.(secrets.EntryExporter).Export(ctx); string(k) != "changed" {
		t.Fatal("changed file not reloaded")
	}
	// A failed reload keeps what the store had.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(ctx); err == nil {
		t.Fatal("Reload of a removed directory succeeded")
	}
	if _, err := s.Entry(ctx, "a"); err != nil {
		t.Fatal("a failed Reload dropped the entries")
	}
	s.Close()
	if _, err := s.Reload(ctx); !errors.Is(err, secrets.ErrClosed) {
		t.Fatalf("Reload after Close: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := OpenDir(cctx, t.TempDir(), DirConfig{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("OpenDir with a cancelled ctx: %v", err)
	}
}

func TestDirOpener(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(base, "secrets"), map[string][]byte{
		"jwt.v1": []byte(base64.StdEncoding.EncodeToString(randBytes(32))),
		"jwt.v2": []byte(base64.StdEncoding.EncodeToString(randBytes(32))),
	})
	open := DirOpener(DirConfig{SecretKind: secrets.KindAES})
	sc := &secrets.StoreConfig{Name: "fsStore", Class: secrets.ClassFileSystem, Dir: base,
		Settings: map[string]any{"directory": "secrets", "format": "base64", "versionSuffix": ".v"}}
	st, err := open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Name() != "fsStore" {
		t.Errorf("name %s", st.Name())
	}
	e, err := st.Entry(ctx, "jwt")
	if err != nil || e.Alias() != "jwt.v2" || e.Kind() != secrets.KindAES {
		t.Fatalf("jwt: %v %v", e, err)
	}

	bad := []struct {
		settings map[string]any
		want     string
	}{
		{map[string]any{"directory": "secrets", "encryptionKey": "idm.fs.key"}, "encryptionKey"},
		{map[string]any{}, "needs a \"directory\""},
		{map[string]any{"directory": 3}, "must be a string"},
		{map[string]any{"directory": "secrets", "format": "XML"}, "format \"XML\""},
		{map[string]any{"directory": "nope"}, "no such file"},
	}
	for _, b := range bad {
		_, err := open(ctx, &secrets.StoreConfig{Name: "fsStore", Dir: base, Settings: b.settings})
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%v: %v, want %q", b.settings, err, b.want)
		}
		if b.settings["encryptionKey"] != nil && !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("encryptionKey: %v does not wrap errors.ErrUnsupported", err)
		}
	}
}

func TestDirStoreTooManyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10001 files")
	}
	dir := t.TempDir()
	for i := range MaxDirFiles + 1 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenDir(context.Background(), dir, DirConfig{}); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("%v", err)
	}
}

// ExampleOpenDir serves a directory of versioned secrets (jwt.v1, jwt.v2) through a Provider
// whose mapping survives rotation.
func ExampleOpenDir() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "keys")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "jwt.v1"), []byte("c2VjcmV0LW9uZS0uLi4uLi4uLi4uLi4uLi4uLi4uLi4="), 0o600)
	os.WriteFile(filepath.Join(dir, "jwt.v2"), []byte("c2VjcmV0LXR3by0uLi4uLi4uLi4uLi4uLi4uLi4uLi4="), 0o600)

	store, err := OpenDir(ctx, dir, DirConfig{Name: "keys", Format: DirBase64, VersionSuffix: ".v"})
	if err != nil {
		panic(err)
	}
	p, _ := secrets.NewProvider([]secrets.Store{store}, []secrets.Mapping{{
		Store: "keys", SecretID: "idm.jwt.session.module.signing", Types: []secrets.Purpose{secrets.Sign, secrets.Verify},
		Aliases: store.RotationAliases("jwt", 3),
	}}, secrets.ProviderOptions{})

	defer p.Close()
	defer store.Close()

	active, _ := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign)
	valid, _ := p.Valid(ctx, "idm.jwt.session.module.signing", secrets.Verify)
	fmt.Println("active:", active.Alias(), "valid:", len(valid))

	os.WriteFile(filepath.Join(dir, "jwt.v3"), []byte("c2VjcmV0LXRocmVlLi4uLi4uLi4uLi4uLi4uLi4uLi4="), 0o600)
	store.Reload(ctx) // tells the Provider, which evicts its cache
	active, _ = p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign)
	valid, _ = p.Valid(ctx, "idm.jwt.session.module.signing", secrets.Verify)
	fmt.Println("active:", active.Alias(), "valid:", len(valid))
	// Output:
	// active: jwt.v2 valid: 2
	// active: jwt.v3 valid: 3
}

// FuzzDirFile decodes arbitrary file content under every format and secret kind: an error or
// key material that makes a software entry, never a panic.
func FuzzDirFile(f *testing.F) {
	for _, data := range pemFixtures() {
		f.Add(data)
	}
	f.Add([]byte("c2VjcmV0LXZhbHVlLXRoYXQtaXMtbG9uZy1lbm91Z2g="))
	f.Add([]byte("-_-_AAAA\n"))
	f.Add(randBytes(32))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []DirFormat{DirPlain, DirBase64, DirBase64URL, DirPEM} {
			for _, kind := range []secrets.Kind{secrets.KindSecret, secrets.KindAES} {
				km, err := decodeDirFile(data, DirConfig{Format: format, SecretKind: kind})
				if err != nil {
					continue
				}
				if format == DirPEM {
					if km.Kind == secrets.KindRSA {
						continue // RSA key checks are slow under fuzzing instrumentation
					}
				}
				if _, err := storekit.NewSoftwareEntry("x", km); err != nil {
					t.Fatalf("%s/%v: decoded material makes no entry: %v", format, kind, err)
				}
			}
		}
	})
}
