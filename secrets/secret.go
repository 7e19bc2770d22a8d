package secrets

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/x509"
	"fmt"
	"io"
)

// A Secret is one key entry served by a Provider: the entry, the store that holds it, and the
// secret id and purpose it was resolved for. Its operations take a context first, return
// errors (never panic) and run where the key lives: inside the token for an HSM store. A
// Secret is immutable and safe for concurrent use; it stays usable after the Provider's cache
// drops it.
type Secret struct {
	entry    Entry
	store    string
	secretID string
	purpose  Purpose
}

// NewSecret wraps an entry of the named store. Providers make Secrets; NewSecret is for stores'
// tests and for callers holding an Entry directly.
func NewSecret(store string, e Entry) *Secret { return &Secret{entry: e, store: store} }

// Alias returns the entry's alias (IDM's stableId).
func (s *Secret) Alias() string { return s.entry.Alias() }

// Store returns the name of the store that served the entry.
func (s *Secret) Store() string { return s.store }

// Kind returns the kind of key.
func (s *Secret) Kind() Kind { return s.entry.Kind() }

// Algorithm returns the Java algorithm name of the key ("HmacSHA256", "HmacSHA512", "AES",
// "RSA", "EC") when the store records one (EntryAlgorithm), else keytool's default for the kind.
func (s *Secret) Algorithm() string {
	if a, ok := s.entry.(EntryAlgorithm); ok {
		if n := a.Algorithm(); n != "" {
			return n
		}
	}
	return defaultAlgorithm(s.entry.Kind())
}

// Certificate returns the leaf certificate, or nil when the entry has none.
func (s *Secret) Certificate() *x509.Certificate {
	if c := s.entry.Chain(); len(c) > 0 {
		return c[0]
	}
	return nil
}

// Chain returns the certificate chain, leaf first, or nil.
func (s *Secret) Chain() []*x509.Certificate { return s.entry.Chain() }

// Public returns the public key, or nil for a secret key.
func (s *Secret) Public() crypto.PublicKey { return s.entry.Public() }

func (s *Secret) err(op string, err error) error {
	return &KeyError{Op: op, Store: s.store, Alias: s.entry.Alias(), SecretID: s.secretID, Purpose: s.purpose, Err: err}
}

func (s *Secret) wrongKind(op string) error {
	return s.err(op, fmt.Errorf("%w: a %v key cannot %s", ErrWrongKind, s.entry.Kind(), op))
}

// Sign signs digest, the hash of a message: RSA PKCS#1 v1.5 when opts is a crypto.Hash,
// RSA-PSS when opts is *rsa.PSSOptions, ECDSA (ASN.1) for EC keys. It fails with ErrWrongKind
// for secret keys and certificates.
func (s *Secret) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := s.entry.(EntrySigner)
	if !ok {
		return nil, s.wrongKind("sign")
	}
	sig, err := e.Sign(ctx, digest, opts)
	if err != nil {
		return nil, s.err("sign", err)
	}
	return sig, nil
}

// Decrypt decrypts with an RSA private key: PKCS#1 v1.5 when opts is nil or
// *rsa.PKCS1v15DecryptOptions, OAEP when *rsa.OAEPOptions. A failed decryption wraps
// ErrVerification and says nothing more (no padding oracle).
func (s *Secret) Decrypt(ctx context.Context, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := s.entry.(EntryDecrypter)
	if !ok {
		return nil, s.wrongKind("decrypt")
	}
	pt, err := e.Decrypt(ctx, ciphertext, opts)
	if err != nil {
		return nil, s.err("decrypt", err)
	}
	return pt, nil
}

// MAC returns the HMAC of msg under the secret key with hash h (crypto.SHA256, SHA384 or
// SHA512).
func (s *Secret) MAC(ctx context.Context, h crypto.Hash, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := s.entry.(EntryMAC)
	if !ok {
		return nil, s.wrongKind("compute an HMAC")
	}
	tag, err := e.MAC(ctx, h, msg)
	if err != nil {
		return nil, s.err("mac", err)
	}
	return tag, nil
}

// VerifyMAC checks tag against the HMAC of msg, in constant time. A mismatch wraps
// ErrVerification.
func (s *Secret) VerifyMAC(ctx context.Context, h crypto.Hash, msg, tag []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if v, ok := s.entry.(EntryMACVerifier); ok {
		if err := v.VerifyMAC(ctx, h, msg, tag); err != nil {
			return s.err("verify mac", err)
		}
		return nil
	}
	want, err := s.MAC(ctx, h, msg)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, tag) {
		return s.err("verify mac", ErrVerification)
	}
	return nil
}

// Seal encrypts and authenticates plaintext and aad with AES-GCM under an AES key, returning
// nonce (12 bytes) ‖ ciphertext ‖ tag, the layout cipher.AEAD.Seal(nonce, nonce, ...) makes.
// A generic secret is ErrWrongKind: AES-GCM needs an AES key.
func (s *Secret) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := s.entry.(EntryAEAD)
	if !ok {
		return nil, s.wrongKind("seal (AES-GCM needs an AES key)")
	}
	out, err := e.Seal(ctx, plaintext, aad)
	if err != nil {
		return nil, s.err("seal", err)
	}
	return out, nil
}

// Open reverses Seal. Tampered input wraps ErrVerification.
func (s *Secret) Open(ctx context.Context, sealed, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := s.entry.(EntryAEAD)
	if !ok {
		return nil, s.wrongKind("open (AES-GCM needs an AES key)")
	}
	out, err := e.Open(ctx, sealed, aad)
	if err != nil {
		return nil, s.err("open", err)
	}
	return out, nil
}

// Export returns a copy of the raw secret key. It fails with an error wrapping
// ErrNotExtractable when the store keeps the key inside (an HSM key with CKA_EXTRACTABLE=false
// or CKA_SENSITIVE=true), and with ErrWrongKind for key pairs and certificates.
func (s *Secret) Export(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := s.entry.(EntryExporter)
	if !ok {
		return nil, s.wrongKind("export")
	}
	k, err := e.Export(ctx)
	if err != nil {
		return nil, s.err("export", err)
	}
	return k, nil
}

// Signer returns a crypto.Signer over the entry, for crypto/x509, crypto/tls and go-jose. Its
// Sign ignores the rand argument (the store supplies randomness) and uses
// context.Background(). It fails with ErrWrongKind unless the entry holds a private key.
func (s *Secret) Signer() (crypto.Signer, error) {
	if _, ok := s.entry.(EntrySigner); !ok || s.entry.Public() == nil {
		return nil, s.wrongKind("sign")
	}
	return signer{s}, nil
}

// Decrypter returns a crypto.Decrypter over an RSA entry (see Signer).
func (s *Secret) Decrypter() (crypto.Decrypter, error) {
	if _, ok := s.entry.(EntryDecrypter); !ok || s.entry.Public() == nil {
		return nil, s.wrongKind("decrypt")
	}
	return decrypter{s}, nil
}

type signer struct{ s *Secret }

func (a signer) Public() crypto.PublicKey { return a.s.entry.Public() }
func (a signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return a.s.Sign(context.Background(), digest, opts)
}

type decrypter struct{ s *Secret }

func (a decrypter) Public() crypto.PublicKey { return a.s.entry.Public() }
func (a decrypter) Decrypt(_ io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return a.s.Decrypt(context.Background(), msg, opts)
}

// defaultAlgorithm returns the Java algorithm name keytool uses for a kind of key: HmacSHA256,
// AES, RSA, EC; "" for certificates and unknown kinds.
func defaultAlgorithm(k Kind) string {
	switch k {
	case KindSecret:
		return "HmacSHA256"
	case KindAES:
		return "AES"
	case KindRSA:
		return "RSA"
	case KindEC:
		return "EC"
	}
	return ""
}
