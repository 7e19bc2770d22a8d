package secretstest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
)

// Want describes one entry that the store under test holds.
type Want struct {
	Alias string
	Kind  secrets.Kind
	// Extractable: Export of a secret key succeeds (else it must wrap ErrNotExtractable).
	Extractable bool
}

// Run is the conformance suite of secrets.Store. open returns a newly opened store holding
// exactly the entries in want; calls may share backing data (one token, one file), since the
// write checks create only aliases starting with "secretstest-" and delete them again when the
// store is a Deleter. Run closes what it opens. It checks lookups, listing, each kind's operations against the standard
// library, the optional Generator/Importer/Deleter/Notifier interfaces the store implements
// (stores that return ErrReadOnly for writes are accepted), concurrent use, cancelled
// contexts and Close. Every operation must work: for a store whose backend cannot do some,
// use [RunWith].
func Run(t *testing.T, open func(t *testing.T) secrets.Store, want []Want) {
	RunWith(t, open, want, Options{})
}

// An Op is an operation of the suite that a store's backend may be unable to do; see
// [Options].
type Op string

// The operations [Options.Expect] is asked about.
const (
	OpAESGCM         Op = "AES-GCM"         // Seal and Open on a KindAES entry
	OpGenerateSecret Op = "generate secret" // Generator.Generate of an extractable KindSecret key
	OpGenerateAES    Op = "generate AES"    // Generator.Generate of an extractable KindAES key
	OpGenerateRSA    Op = "generate RSA"    // Generator.Generate of a KindRSA key pair
	OpGenerateEC     Op = "generate EC"     // Generator.Generate of a KindEC key pair
	OpImportSecret   Op = "import secret"   // Importer.Import of an extractable KindSecret key
)

// Options adapt [RunWith] to a store whose backend cannot do every operation (a PKCS#11
// token without AES-GCM, without key generation, or that keeps every secret key sensitive).
// The zero value expects every operation to work.
type Options struct {
	// Expect returns nil when op must work on s (the store the suite runs it on), else the
	// error op must fail with, checked with errors.Is: errors.ErrUnsupported for a capability
	// the backend lacks (derive it from the store's own report, such as hsmstore's
	// Store.Supports), or the sentinel the store documents for the case. An operation
	// expected to fail is an expected row: the suite requires that error, logs it, and
	// leaves out the checks that need the operation's result; an expected failure that
	// does not happen (the operation works, or fails otherwise) fails the test, never a
	// skip. The suite calls Expect after running op on s (a store may learn of a missing
	// capability from the failure), and before the concurrent checks, which leave out an
	// operation expected to fail. nil: every operation must work.
	Expect func(s secrets.Store, op Op) error
}

// expected reports whether op, which returned err on s, is expected to fail, after
// requiring the expected error. When it returns false the caller checks err as usual.
func (o Options) expected(t *testing.T, s secrets.Store, op Op, err error) bool {
	t.Helper()
	if o.Expect == nil || s == nil {
		return false
	}
	want := o.Expect(s, op)
	if want == nil {
		return false
	}
	require.ErrorIs(t, err, want, "%s is expected to fail on this store", op)
	t.Logf("%s: fails as expected: %v", op, err)
	return true
}

// RunWith is [Run] for a store that cannot do every operation: opts says which ones fail,
// and with what error.
func RunWith(t *testing.T, open func(t *testing.T) secrets.Store, want []Want, opts Options) {
	t.Run("Lookup", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		ctx := context.Background()
		require.NotEmpty(t, s.Name(), "a store has a name")
		aliases, err := s.Aliases(ctx)
		require.NoError(t, err)
		var wantAliases []string
		for _, w := range want {
			wantAliases = append(wantAliases, w.Alias)
		}
		slices.Sort(aliases)
		slices.Sort(wantAliases)
		assert.Equal(t, wantAliases, aliases, "Aliases lists exactly the store's entries")
		_, err = s.Entry(ctx, "secretstest-no-such-alias")
		require.ErrorIs(t, err, secrets.ErrNotFound)
		assert.Contains(t, err.Error(), "secretstest-no-such-alias", "the not-found error names the alias")
	})
	for _, w := range want {
		t.Run("Entry/"+w.Alias, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			e, err := s.Entry(context.Background(), w.Alias)
			require.NoError(t, err)
			require.Equal(t, w.Alias, e.Alias())
			require.Equal(t, w.Kind, e.Kind(), "kind of %s", w.Alias)
			checkEntry(t, s, secrets.NewSecret(s.Name(), e), w.Extractable, opts)
		})
	}
	t.Run("Concurrent", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		concurrent(t, s, want, opts)
	})
	t.Run("CancelledContext", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		cancelled(t, s, want)
	})
	t.Run("Writes", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		writes(t, s, opts)
	})
	t.Run("Close", func(t *testing.T) {
		s := open(t)
		require.NoError(t, s.Close())
		_, err := s.Entry(context.Background(), "anything")
		require.ErrorIs(t, err, secrets.ErrClosed)
		_, err = s.Aliases(context.Background())
		require.ErrorIs(t, err, secrets.ErrClosed)
		require.NoError(t, s.Close(), "Close is idempotent")
	})
}

var kat = func() []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// CheckEntry exercises every operation of s's kind against the standard library, and checks
// that operations of other kinds fail with ErrWrongKind rather than panicking.
func CheckEntry(t *testing.T, s *secrets.Secret, extractable bool) {
	checkEntry(t, nil, s, extractable, Options{})
}

// checkEntry is CheckEntry for an entry of store st, with the operations opts expects to
// fail there.
func checkEntry(t *testing.T, st secrets.Store, s *secrets.Secret, extractable bool, opts Options) {
	ctx := context.Background()
	digest := sha256.Sum256(kat)
	switch s.Kind() {
	case secrets.KindSecret, secrets.KindAES:
		assert.Nil(t, s.Public(), "a secret key has no public key")
		key, err := s.Export(ctx)
		if extractable {
			require.NoError(t, err)
			require.NotEmpty(t, key)
		} else {
			require.ErrorIs(t, err, secrets.ErrNotExtractable)
			assert.Contains(t, err.Error(), "CKA_", "a not-extractable error says which attributes to set")
		}
		_, err = s.Sign(ctx, digest[:], crypto.SHA256)
		require.ErrorIs(t, err, secrets.ErrWrongKind)
		_, err = s.Decrypt(ctx, []byte("x"), nil)
		require.ErrorIs(t, err, secrets.ErrWrongKind)
		if s.Kind() == secrets.KindSecret {
			for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
				tag, err := s.MAC(ctx, h, kat)
				if h != crypto.SHA256 && errors.Is(err, errors.ErrUnsupported) {
					// A token may refuse a key shorter than the hash (SoftHSM wants a 384-bit
					// key for HMAC-SHA384); it must say so rather than fail otherwise.
					t.Logf("HMAC with %v: %v", h, err)
					continue
				}
				require.NoError(t, err, "HMAC with %v", h)
				require.Len(t, tag, h.Size())
				if key != nil {
					m := hmac.New(h.New, key)
					m.Write(kat)
					require.Equal(t, m.Sum(nil), tag, "HMAC-%v matches the standard library over the exported key", h)
				}
				require.NoError(t, s.VerifyMAC(ctx, h, kat, tag))
				bad := bytes.Clone(tag)
				bad[0] ^= 1
				require.ErrorIs(t, s.VerifyMAC(ctx, h, kat, bad), secrets.ErrVerification)
			}
			_, err = s.MAC(ctx, crypto.MD5, kat)
			require.Error(t, err, "HMAC-MD5 is refused")
			_, err = s.Seal(ctx, kat, nil)
			require.ErrorIs(t, err, secrets.ErrWrongKind, "AES-GCM needs an AES key")
			return
		}
		sealed, err := s.Seal(ctx, kat, []byte("aad"))
		if opts.expected(t, st, OpAESGCM, err) {
			return
		}
		require.NoError(t, err)
		require.Len(t, sealed, 12+len(kat)+16)
		pt, err := s.Open(ctx, sealed, []byte("aad"))
		require.NoError(t, err)
		require.Equal(t, kat, pt)
		_, err = s.Open(ctx, sealed, []byte("other aad"))
		require.ErrorIs(t, err, secrets.ErrVerification)
		bad := bytes.Clone(sealed)
		bad[len(bad)-1] ^= 1
		_, err = s.Open(ctx, bad, []byte("aad"))
		require.ErrorIs(t, err, secrets.ErrVerification)
		_, err = s.Open(ctx, sealed[:10], nil)
		require.ErrorIs(t, err, secrets.ErrVerification)
		if key != nil {
			block, err := aes.NewCipher(key)
			require.NoError(t, err)
			gcm, err := cipher.NewGCM(block)
			require.NoError(t, err)
			pt, err := gcm.Open(nil, sealed[:12], sealed[12:], []byte("aad"))
			require.NoError(t, err, "crypto/cipher opens what Seal made")
			require.Equal(t, kat, pt)
			nonce := make([]byte, 12)
			rand.Read(nonce)
			std := gcm.Seal(bytes.Clone(nonce), nonce, kat, nil)
			pt, err = s.Open(ctx, std, nil)
			require.NoError(t, err, "Open opens what crypto/cipher sealed")
			require.Equal(t, kat, pt)
		}
	case secrets.KindRSA:
		pub, ok := s.Public().(*rsa.PublicKey)
		require.True(t, ok, "an RSA entry has an *rsa.PublicKey, have %T", s.Public())
		if c := s.Certificate(); c != nil {
			require.True(t, pub.Equal(c.PublicKey), "the certificate holds the entry's public key")
		}
		sig, err := s.Sign(ctx, digest[:], crypto.SHA256)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
		pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err = s.Sign(ctx, digest[:], pss)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, pss))
		_, err = s.Sign(ctx, digest[:5], crypto.SHA256)
		require.Error(t, err, "a digest of the wrong size is refused")

		ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, kat[:32])
		require.NoError(t, err)
		pt, err := s.Decrypt(ctx, ct, nil)
		require.NoError(t, err)
		require.Equal(t, kat[:32], pt)
		ct, err = rsa.EncryptOAEP(sha1New(), rand.Reader, pub, kat[:32], nil)
		require.NoError(t, err)
		pt, err = s.Decrypt(ctx, ct, &rsa.OAEPOptions{Hash: crypto.SHA1})
		require.NoError(t, err)
		require.Equal(t, kat[:32], pt)
		ct, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, kat[:32], nil)
		require.NoError(t, err)
		pt, err = s.Decrypt(ctx, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
		if err != nil {
			require.ErrorIs(t, err, errors.ErrUnsupported, "OAEP with SHA-256 works or is reported unsupported")
		} else {
			require.Equal(t, kat[:32], pt)
		}
		_, err = s.Decrypt(ctx, kat, nil)
		require.ErrorIs(t, err, secrets.ErrVerification, "garbage does not decrypt, and says so without detail")
		bad, err := rsa.EncryptOAEP(sha1New(), rand.Reader, pub, kat[:32], nil)
		require.NoError(t, err)
		bad[len(bad)/2] ^= 1
		_, err = s.Decrypt(ctx, bad, &rsa.OAEPOptions{Hash: crypto.SHA1})
		require.ErrorIs(t, err, secrets.ErrVerification, "a tampered OAEP ciphertext does not decrypt")

		signer, err := s.Signer()
		require.NoError(t, err)
		sig, err = signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
		dec, err := s.Decrypter()
		require.NoError(t, err)
		require.True(t, pub.Equal(dec.Public()))
		_, err = s.MAC(ctx, crypto.SHA256, kat)
		require.ErrorIs(t, err, secrets.ErrWrongKind)
		_, err = s.Export(ctx)
		require.ErrorIs(t, err, secrets.ErrWrongKind)
	case secrets.KindEC:
		pub, ok := s.Public().(*ecdsa.PublicKey)
		require.True(t, ok, "an EC entry has an *ecdsa.PublicKey, have %T", s.Public())
		sig, err := s.Sign(ctx, digest[:], crypto.SHA256)
		require.NoError(t, err)
		require.True(t, ecdsa.VerifyASN1(pub, digest[:], sig), "ECDSA signature verifies with crypto/ecdsa")
		signer, err := s.Signer()
		require.NoError(t, err)
		sig, err = signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		require.NoError(t, err)
		require.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
		_, err = s.Decrypt(ctx, kat, nil)
		require.ErrorIs(t, err, secrets.ErrWrongKind)
		_, err = s.Decrypter()
		require.ErrorIs(t, err, secrets.ErrWrongKind)
	case secrets.KindCertificate:
		require.NotNil(t, s.Certificate())
		require.NotNil(t, s.Public())
		_, err := s.Sign(ctx, digest[:], crypto.SHA256)
		require.ErrorIs(t, err, secrets.ErrWrongKind)
		_, err = s.Signer()
		require.ErrorIs(t, err, secrets.ErrWrongKind)
		_, err = s.MAC(ctx, crypto.SHA256, kat)
		require.ErrorIs(t, err, secrets.ErrWrongKind)
		_, err = s.Export(ctx)
		require.ErrorIs(t, err, secrets.ErrWrongKind)
	default:
		t.Fatalf("unexpected kind %v", s.Kind())
	}
}

func sha1New() interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
	Reset()
	Size() int
	BlockSize() int
} {
	return crypto.SHA1.New()
}

func concurrent(t *testing.T, s secrets.Store, want []Want, opts Options) {
	gcm := opts.Expect == nil || opts.Expect(s, OpAESGCM) == nil
	const workers, rounds = 8, 10
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*len(want))
	digest := sha256.Sum256(kat)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				for _, wnt := range want {
					e, err := s.Entry(ctx, wnt.Alias)
					if err != nil {
						errs <- err
						continue
					}
					sec := secrets.NewSecret(s.Name(), e)
					switch wnt.Kind {
					case secrets.KindSecret:
						_, err = sec.MAC(ctx, crypto.SHA256, kat)
					case secrets.KindAES:
						if !gcm {
							break // an expected row: see Entry
						}
						var b []byte
						if b, err = sec.Seal(ctx, kat, nil); err == nil {
							_, err = sec.Open(ctx, b, nil)
						}
					case secrets.KindRSA, secrets.KindEC:
						_, err = sec.Sign(ctx, digest[:], crypto.SHA256)
					case secrets.KindCertificate:
						if sec.Public() == nil {
							err = errors.New("certificate entry without public key")
						}
					}
					if err != nil {
						errs <- err
					}
				}
				if _, err := s.Aliases(ctx); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func cancelled(t *testing.T, s secrets.Store, want []Want) {
	live := context.Background()
	ctx, cancel := context.WithCancel(live)
	cancel()
	_, err := s.Entry(ctx, "anything")
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Aliases(ctx)
	require.ErrorIs(t, err, context.Canceled)
	digest := sha256.Sum256(kat)
	for _, w := range want {
		e, err := s.Entry(live, w.Alias)
		require.NoError(t, err)
		if x, ok := e.(secrets.EntryMAC); ok {
			_, err := x.MAC(ctx, crypto.SHA256, kat)
			require.ErrorIs(t, err, context.Canceled, "MAC on %s", w.Alias)
		}
		if x, ok := e.(secrets.EntryAEAD); ok {
			_, err := x.Seal(ctx, kat, nil)
			require.ErrorIs(t, err, context.Canceled, "Seal on %s", w.Alias)
		}
		if x, ok := e.(secrets.EntrySigner); ok {
			_, err := x.Sign(ctx, digest[:], crypto.SHA256)
			require.ErrorIs(t, err, context.Canceled, "Sign on %s", w.Alias)
		}
		if x, ok := e.(secrets.EntryDecrypter); ok {
			_, err := x.Decrypt(ctx, kat, nil)
			require.ErrorIs(t, err, context.Canceled, "Decrypt on %s", w.Alias)
		}
		if x, ok := e.(secrets.EntryExporter); ok {
			_, err := x.Export(ctx)
			require.ErrorIs(t, err, context.Canceled, "Export on %s", w.Alias)
		}
	}
}

func writes(t *testing.T, s secrets.Store, opts Options) {
	ctx := context.Background()
	var changes chan secrets.Change
	if n, ok := s.(secrets.Notifier); ok {
		changes = make(chan secrets.Change, 64)
		unsub := n.Subscribe(func(c secrets.Change) {
			select {
			case changes <- c:
			default:
			}
		})
		defer unsub()
	}
	expectChange := func(alias string) {
		if changes == nil {
			return
		}
		for {
			select {
			case c := <-changes:
				if c.Aliases == nil || slices.Contains(c.Aliases, alias) {
					assert.Equal(t, s.Name(), c.Store)
					return
				}
			default:
				t.Errorf("no change notified for %s", alias)
				return
			}
		}
	}
	readOnly := func(err error) bool { return errors.Is(err, secrets.ErrReadOnly) }

	if g, ok := s.(secrets.Generator); ok {
		t.Run("Generate", func(t *testing.T) {
			specs := map[string]secrets.KeySpec{
				"secretstest-gen-hmac": {Kind: secrets.KindSecret, Extractable: true},
				"secretstest-gen-aes":  {Kind: secrets.KindAES, Bits: 256, Extractable: true},
				"secretstest-gen-rsa":  {Kind: secrets.KindRSA, Subject: pkix.Name{CommonName: "secretstest"}},
				"secretstest-gen-ec":   {Kind: secrets.KindEC, Subject: pkix.Name{CommonName: "secretstest"}},
			}
			ops := map[string]Op{"secretstest-gen-hmac": OpGenerateSecret, "secretstest-gen-aes": OpGenerateAES,
				"secretstest-gen-rsa": OpGenerateRSA, "secretstest-gen-ec": OpGenerateEC}
			var made []string
			for _, alias := range []string{"secretstest-gen-hmac", "secretstest-gen-aes", "secretstest-gen-rsa", "secretstest-gen-ec"} {
				spec := specs[alias]
				e, err := g.Generate(ctx, alias, spec, false)
				if readOnly(err) {
					t.Logf("store is read-only: %v", err)
					return
				}
				if opts.expected(t, s, ops[alias], err) {
					continue
				}
				made = append(made, alias)
				require.NoError(t, err, "generate %s", alias)
				require.Equal(t, spec.Kind, e.Kind())
				expectChange(alias)
				e, err = s.Entry(ctx, alias)
				require.NoError(t, err)
				checkEntry(t, s, secrets.NewSecret(s.Name(), e), spec.Extractable, opts)
				if spec.Kind.Private() {
					require.NotNil(t, secrets.NewSecret(s.Name(), e).Certificate(), "a generated key pair has a certificate")
				}
				_, err = g.Generate(ctx, alias, spec, false)
				require.ErrorIs(t, err, secrets.ErrExists)
			}
			// With overwrite, Generate replaces the entry, as Import with overwrite does: the
			// first entry the store could make (an expected row makes none) is replaced, and
			// the new key differs (its exported value for a secret key, its public key for a
			// key pair).
			if len(made) > 0 {
				alias := made[0]
				keyOf := func(e secrets.Entry) any {
					sec := secrets.NewSecret(s.Name(), e)
					if e.Kind().Private() {
						return sec.Public()
					}
					k, err := sec.Export(ctx)
					require.NoError(t, err)
					return k
				}
				old, err := s.Entry(ctx, alias)
				require.NoError(t, err)
				oldKey := keyOf(old)
				_, err = g.Generate(ctx, alias, specs[alias], true)
				require.NoError(t, err, "generate %s with overwrite", alias)
				expectChange(alias)
				e, err := s.Entry(ctx, alias)
				require.NoError(t, err)
				require.NotEqual(t, oldKey, keyOf(e), "an overwriting Generate serves a new key")
			}
			aliases, err := s.Aliases(ctx)
			require.NoError(t, err)
			for _, alias := range made {
				require.Contains(t, aliases, alias)
			}
		})
	}
	if im, ok := s.(secrets.Importer); ok {
		t.Run("Import", func(t *testing.T) {
			k1 := bytes.Repeat([]byte{1}, 32)
			k2 := bytes.Repeat([]byte{2}, 32)
			_, err := im.Import(ctx, "secretstest-imported", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: k1, Extractable: true}, false)
			if readOnly(err) {
				t.Logf("store is read-only: %v", err)
				return
			}
			if opts.expected(t, s, OpImportSecret, err) {
				return
			}
			require.NoError(t, err)
			expectChange("secretstest-imported")
			e, err := s.Entry(ctx, "secretstest-imported")
			require.NoError(t, err)
			got, err := secrets.NewSecret(s.Name(), e).Export(ctx)
			require.NoError(t, err)
			require.Equal(t, k1, got)
			_, err = im.Import(ctx, "secretstest-imported", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: k2, Extractable: true}, false)
			require.ErrorIs(t, err, secrets.ErrExists)
			_, err = im.Import(ctx, "secretstest-imported", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: k2, Extractable: true}, true)
			require.NoError(t, err)
			e, err = s.Entry(ctx, "secretstest-imported")
			require.NoError(t, err)
			got, err = secrets.NewSecret(s.Name(), e).Export(ctx)
			require.NoError(t, err)
			require.Equal(t, k2, got, "an overwrite serves the new key")
		})
	}
	if d, ok := s.(secrets.Deleter); ok {
		t.Run("Delete", func(t *testing.T) {
			aliases, err := s.Aliases(ctx)
			require.NoError(t, err)
			var made []string
			for _, a := range aliases {
				if strings.HasPrefix(a, "secretstest-") {
					made = append(made, a)
				}
			}
			if len(made) == 0 {
				err := d.Delete(ctx, "secretstest-no-such-alias")
				if !readOnly(err) {
					require.ErrorIs(t, err, secrets.ErrNotFound)
				}
				return
			}
			for _, victim := range made {
				require.NoError(t, d.Delete(ctx, victim), "delete %s", victim)
				expectChange(victim)
				_, err = s.Entry(ctx, victim)
				require.ErrorIs(t, err, secrets.ErrNotFound)
				require.ErrorIs(t, d.Delete(ctx, victim), secrets.ErrNotFound)
			}
		})
	}
}
