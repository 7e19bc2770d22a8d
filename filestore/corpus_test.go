package filestore

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
)

// corpusTruth is one file of testdata/corpus/expected.json, recorded by truth.sh from JDK 17
// and openssl pkcs12 (never from this package).
type corpusTruth struct {
	Password    string `json:"password"`
	KeyPassword string `json:"keyPassword"`
	Notes       string `json:"notes"`
	Java        struct {
		Error   string `json:"javaError"`
		Type    string `json:"javaType"`
		Entries []struct {
			Alias    string   `json:"alias"`
			Type     string   `json:"type"` // private, secret, trusted, or key (getKey failed)
			KeyAlg   string   `json:"keyAlg"`
			KeyValue string   `json:"keyValue"`
			KeyError string   `json:"keyError"`
			Chain    []string `json:"chain"`
		} `json:"entries"`
	} `json:"java"`
	OpenSSL struct {
		OK    bool     `json:"ok"`
		Certs []string `json:"certs"`
		Keys  int      `json:"keys"`
	} `json:"openssl"`
}

func loadCorpus(t *testing.T) map[string]corpusTruth {
	t.Helper()
	b, err := os.ReadFile("testdata/corpus/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]corpusTruth
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) < 60 {
		t.Fatalf("corpus has %d files, want at least 60", len(m))
	}
	return m
}

// keyValue is Truth.java's digest of a key: SHA-256 of the lower-case hex of RSA d, EC s or
// the secret key bytes.
func keyValue(km secrets.KeyMaterial) string {
	var v string
	switch k := km.Private.(type) {
	case *rsa.PrivateKey:
		v = k.D.Text(16)
	case *ecdsa.PrivateKey:
		b, _ := k.Bytes()
		v = strings.TrimLeft(hex.EncodeToString(b), "0")
	default:
		v = hex.EncodeToString(km.Secret)
	}
	return sha256Hex([]byte(v))
}

// TestCorpus opens every file of testdata/corpus (made by gen.sh with OpenSSL 3, NSS
// pk12util, keytool, Bouncy Castle and pyjks) and compares it entry by entry with what JDK 17
// and openssl pkcs12 read (expected.json, by truth.sh):
//   - a file Java loads opens here, with the same aliases (case as Java reports them); every
//     entry Java decodes gives the same key (algorithm and value) and the same certificate
//     chain in Java's order; an entry whose key Java cannot recover with the password
//     (another key password) is listed and its Entry wraps secrets.ErrWrongPIN; a key or
//     certificate Go cannot use (DSA, secp256k1, sect193r1) is listed and its Entry is a
//     *secrets.KeyError wrapping errors.ErrUnsupported naming the algorithm or curve;
//   - a file only OpenSSL reads opens here with the certificates and keys OpenSSL lists;
//   - a file neither reads is refused with an error naming the format.
//
// A file without a MAC opens only with Config.AllowNoMAC, and the error without it names
// that option.
func TestCorpus(t *testing.T) {
	ctx := context.Background()
	for name, tr := range loadCorpus(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata/corpus/files", name)
			cfg := Config{Password: tr.Password, KeyPassword: tr.KeyPassword}
			s, err := Open(ctx, path, cfg)
			if err != nil && strings.Contains(err.Error(), "AllowNoMAC") {
				cfg.AllowNoMAC = true
				s, err = Open(ctx, path, cfg)
			}
			javaOK, osslOK := tr.Java.Error == "", tr.OpenSSL.OK
			if !javaOK && !osslOK {
				if err == nil {
					s.Close()
					t.Fatalf("opened; Java (%s) and OpenSSL refuse it", tr.Java.Error)
				}
				if !strings.Contains(err.Error(), "keytool -importkeystore") {
					t.Errorf("error does not name the conversion: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v (Java: %q, OpenSSL ok: %v)", err, orDefault(tr.Java.Error, tr.Java.Type), osslOK)
			}
			defer s.Close()
			aliases, err := s.Aliases(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if javaOK {
				var want []string
				for _, e := range tr.Java.Entries {
					want = append(want, e.Alias)
				}
				if tr.Java.Type == "PKCS12" && tr.OpenSSL.OK && tr.OpenSSL.Keys > len(want) {
					// OpenSSL reads keys Java skips (a plain keyBag): more entries are fine.
					if !containsAll(aliases, want) {
						t.Errorf("aliases %q, want at least Java's %q", aliases, want)
					}
				} else if !slices.Equal(sorted(aliases), sorted(want)) {
					t.Errorf("aliases %q, Java reports %q", sorted(aliases), sorted(want))
				}
				for _, je := range tr.Java.Entries {
					checkCorpusEntry(t, s, je.Alias, je.Type, je.KeyAlg, je.KeyValue, je.Chain)
				}
				return
			}
			// Only OpenSSL reads it: the same certificates and as many keys.
			var certs []string
			keys := 0
			for _, a := range aliases {
				km, err := s.KeyMaterial(ctx, a)
				if err != nil {
					t.Errorf("%s: %v", a, err)
					continue
				}
				if km.Kind.Private() {
					keys++
				}
				for _, c := range km.Chain {
					if !slices.Contains(certs, sha256Hex(c.Raw)) {
						certs = append(certs, sha256Hex(c.Raw))
					}
				}
			}
			if keys != tr.OpenSSL.Keys || !containsAll(tr.OpenSSL.Certs, certs) {
				t.Errorf("%d keys, certificates %q; OpenSSL reads %d keys, %q", keys, certs, tr.OpenSSL.Keys, tr.OpenSSL.Certs)
			}
		})
	}
}

func checkCorpusEntry(t *testing.T, s *Store, alias, typ, keyAlg, value string, chain []string) {
	t.Helper()
	ctx := context.Background()
	km, err := s.KeyMaterial(ctx, alias)
	switch {
	case typ == "key": // Java's getKey failed with the configured key password
		if !errors.Is(err, secrets.ErrWrongPIN) {
			t.Errorf("%s: Java cannot recover the key with the password; got %v, want ErrWrongPIN", alias, err)
		}
		if _, err := s.Entry(ctx, alias); !errors.Is(err, secrets.ErrWrongPIN) {
			t.Errorf("%s: Entry: %v, want ErrWrongPIN", alias, err)
		}
		return
	case err != nil:
		var ke *secrets.KeyError
		if !errors.As(err, &ke) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: %v; Java reads a %s %s entry, want it or a *KeyError wrapping ErrUnsupported", alias, err, keyAlg, typ)
			return
		}
		if keyAlg == "DSA" {
			checkDSAEntry(t, s, alias)
		} else if _, err := s.Entry(ctx, alias); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: Entry: %v, want ErrUnsupported", alias, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "DSA") && !strings.Contains(msg, "curve") {
			t.Errorf("%s: error names neither the algorithm nor the curve: %v", alias, err)
		}
		return
	}
	switch typ {
	case "private":
		if !km.Kind.Private() {
			t.Errorf("%s: kind %v, Java reads a %s private key", alias, km.Kind, keyAlg)
		} else if got := keyValue(km); got != value {
			t.Errorf("%s: key value differs from Java's", alias)
		}
	case "secret":
		if !km.Kind.Symmetric() || !strings.EqualFold(km.Algorithm, keyAlg) || keyValue(km) != value {
			t.Errorf("%s: secret %v %s differs from Java's %s", alias, km.Kind, km.Algorithm, keyAlg)
		}
	case "trusted":
		if km.Kind != secrets.KindCertificate {
			t.Errorf("%s: kind %v, Java reads a trusted certificate", alias, km.Kind)
		}
	}
	var got []string
	for _, c := range km.Chain {
		got = append(got, sha256Hex(c.Raw))
	}
	if !slices.Equal(got, chain) {
		t.Errorf("%s: chain %q, Java returns %q", alias, got, chain)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// checkDSAEntry: a DSA key entry serves its chain and public key; signing wraps
// errors.ErrUnsupported.
func checkDSAEntry(t *testing.T, s *Store, alias string) {
	t.Helper()
	ctx := context.Background()
	e, err := s.Entry(ctx, alias)
	if err != nil {
		t.Errorf("%s: Entry of a DSA key: %v, want the entry (chain and public key)", alias, err)
		return
	}
	if len(e.Chain()) == 0 || e.Public() == nil || e.Public() != e.Chain()[0].PublicKey {
		t.Errorf("%s: DSA entry without its certificate or public key", alias)
	}
	signer, ok := e.(secrets.EntrySigner)
	if !ok {
		t.Fatalf("%s: DSA entry is no EntrySigner", alias)
	}
	if _, err := signer.Sign(ctx, make([]byte, 32), crypto.SHA256); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("%s: Sign: %v, want ErrUnsupported", alias, err)
	}
}
