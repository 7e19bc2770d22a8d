package filestore

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/secretstores/secretstores/internal/scalebench"
	"github.com/secretstores/secretstores/secrets"
)

// scaleKeystore writes (once per size per test binary) a PKCS#12 keystore of n
// HmacSHA256 secret keys, as Java writes them: PBES2/PBKDF2-HMAC-SHA256, 10,000
// iterations, an HMAC-SHA256 MAC. To build 10,000 entries in seconds, the entries share
// one encrypted key value (one PBKDF2), each in its own SafeBag with its own alias and
// localKeyID: a reader still derives a key per entry it decrypts.
var scaleKeystores = map[int]string{}

func scaleKeystore(b *testing.B, n int) string {
	if p := scaleKeystores[n]; p != "" {
		return p
	}
	w := &p12Writer{password: "changeit", keyPass: "changeit", iterations: 10000}
	pt, err := asn1.Marshal(secretKeyInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidHmacSHA256ForBench(b), Parameters: asn1NULL}, Key: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	epki, err := w.epki(pt)
	if err != nil {
		b.Fatal(err)
	}
	inner, err := asn1.Marshal(epki)
	if err != nil {
		b.Fatal(err)
	}
	sb, err := asn1.Marshal(secretBag{ID: oidShroudedKeyBag, Value: explicit0(inner)})
	if err != nil {
		b.Fatal(err)
	}
	outs := make([]p12Out, n)
	for i := range outs {
		alias, id := fmt.Sprintf("key-%05d", i), []byte(fmt.Sprintf("Time %d", 1700000000000+i))
		bag, err := asn1.Marshal(safeBag{ID: oidSecretBag, Value: explicit0(sb), Attributes: []pkcs12Attribute{attrLocalKeyID(id), attrFriendlyName(alias)}})
		if err != nil {
			b.Fatal(err)
		}
		outs[i] = p12Out{alias: alias, localKeyID: id, km: secrets.KeyMaterial{Kind: secrets.KindSecret}, raw: bag}
	}
	data, err := w.encode(outs, nil)
	if err != nil {
		b.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "filestore-scale")
	if err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(dir, fmt.Sprintf("scale-%d.p12", n))
	if err := os.WriteFile(p, data, 0o600); err != nil {
		b.Fatal(err)
	}
	scaleKeystores[n] = p
	return p
}

func oidHmacSHA256ForBench(b *testing.B) asn1.ObjectIdentifier {
	oid, err := secretKeyOID(secrets.KeyMaterial{Kind: secrets.KindSecret, Algorithm: "HmacSHA256"})
	if err != nil {
		b.Fatal(err)
	}
	return oid
}

// copyFile copies src to a new file in a new temporary directory (so writes do not touch
// the shared fixture).
func copyFile(b *testing.B, src string) string {
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(b.TempDir(), filepath.Base(src))
	if err := os.WriteFile(p, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkScaleKeystore: PKCS#12 keystores of 10 / 1,000 / 10,000 entries, each step
// beside its floor in the same run: open+list (Open, Aliases, Close) vs the raw decode
// (reading the file and decodePKCS12: MAC check, bag parse); first use of one key (Entry
// of an alias not yet decrypted) vs decrypting that key bag directly; a warm Entry (the
// last alias, already decrypted) vs a Go map lookup; adding one entry
// (Import, which rewrites the file) vs encoding the same n+1 bags and writing them
// atomically; Reload after the file changed vs the raw decode. B/entry: heap held by an
// open store per entry.
func BenchmarkScaleKeystore(b *testing.B) {
	// The keystores written here (a copy of up to 10,000 entries per iteration) are not
	// handed to TestMain's Java check: JDK's loading them all, every key decrypted, took
	// longer than the rest of scripts/bench (over 20 minutes on the loaded build machine).
	// The tests' own files are what that check is for.
	hook := savedHook
	savedHook = nil
	defer func() { savedHook = hook }()
	ctx := context.Background()
	cfg := Config{Password: "changeit"}
	for _, n := range scalebench.Sizes(10, 1_000, 10_000) {
		path := scaleKeystore(b, n)
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		name := scalebench.Name("entries", n)
		b.Run(name+"/open/filestore", func(b *testing.B) {
			base := scalebench.HeapAlloc()
			held, err := Open(ctx, path, cfg)
			if err != nil {
				b.Fatal(err)
			}
			perEntry := float64(scalebench.HeapAlloc()-base) / float64(n)
			held.Close()
			b.ReportAllocs()
			for b.Loop() {
				s, err := Open(ctx, path, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if a, _ := s.Aliases(ctx); len(a) != n {
					b.Fatal(len(a))
				}
				s.Close()
			}
			b.ReportMetric(perEntry, "B/entry")
		})
		b.Run(name+"/open/floor", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := os.ReadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				if f, err := decodePKCS12(d, "changeit"); err != nil || len(f.entries) != n {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/firstuse/filestore", func(b *testing.B) {
			var s *Store
			next := n
			b.ReportAllocs()
			for b.Loop() {
				if next == n { // every alias used: a fresh store
					b.StopTimer()
					if s != nil {
						s.Close()
					}
					if s, err = Open(ctx, path, cfg); err != nil {
						b.Fatal(err)
					}
					next = 0
					b.StartTimer()
				}
				if _, err := s.Entry(ctx, fmt.Sprintf("key-%05d", (next*7919)%n)); err != nil {
					b.Fatal(err)
				}
				next++
			}
			s.Close()
		})
		b.Run(name+"/firstuse/floor", func(b *testing.B) {
			f, err := decodePKCS12(data, "changeit")
			if err != nil {
				b.Fatal(err)
			}
			k := f.entries[n/2].key
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.decrypt("changeit"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/entry/filestore", func(b *testing.B) {
			s, err := Open(ctx, path, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			alias := fmt.Sprintf("key-%05d", n-1) // the last in file order
			if _, err := s.Entry(ctx, alias); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Entry(ctx, alias); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/entry/floor", func(b *testing.B) {
			m := make(map[string]secrets.Entry, n)
			for i := range n {
				m[fmt.Sprintf("key-%05d", i)] = nil
			}
			alias := fmt.Sprintf("key-%05d", n-1)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := m[alias]; !ok {
					b.Fatal("missing")
				}
			}
		})
		b.Run(name+"/add/filestore", func(b *testing.B) {
			s, err := Open(ctx, copyFile(b, path), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			km := secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: bytes.Repeat([]byte{9}, 32)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Import(ctx, "added", km, true); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/add/floor", func(b *testing.B) {
			f, err := decodePKCS12(data, "changeit")
			if err != nil {
				b.Fatal(err)
			}
			outs := make([]p12Out, 0, n+1)
			for _, d := range f.entries {
				outs = append(outs, p12Out{alias: d.Alias, localKeyID: d.localKeyID, km: d.Material, raw: d.key.raw})
			}
			outs = append(outs, p12Out{alias: "added", localKeyID: []byte("Time 1"), km: secrets.KeyMaterial{Kind: secrets.KindSecret, Algorithm: "HmacSHA256", Secret: bytes.Repeat([]byte{9}, 32)}})
			w := &p12Writer{password: "changeit", keyPass: "changeit", iterations: 10000}
			out := filepath.Join(b.TempDir(), "floor.p12")
			b.ReportAllocs()
			for b.Loop() {
				enc, err := w.encode(outs, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := writeAtomic(out, enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/reload/filestore", func(b *testing.B) {
			p := copyFile(b, path)
			s, err := Open(ctx, p, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if _, err := writeAtomic(p, data); err != nil { // a new file in its place
					b.Fatal(err)
				}
				b.StartTimer()
				if changed, err := s.Reload(ctx); err != nil || !changed {
					b.Fatal(changed, err)
				}
			}
		})
		b.Run(name+"/reload/floor", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := os.ReadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := decodePKCS12(d, "changeit"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
