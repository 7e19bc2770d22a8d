package storekit

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/secretstores/secretstores/secrets"
)

// NewSoftwareEntry returns an Entry whose key lives in process memory: what file-based stores
// and the in-memory test store serve. It implements the operations that fit its kind:
// EntryMAC and EntryExporter for secrets.KindSecret; those and EntryAEAD for secrets.KindAES; EntrySigner
// for secrets.KindRSA and secrets.KindEC; EntryDecrypter for secrets.KindRSA. The key bytes are copied.
//
// It fails when the material does not match its kind (an AES key of 20 bytes, an RSA kind with
// an ECDSA key, a key pair whose certificate holds another public key).
func NewSoftwareEntry(alias string, km secrets.KeyMaterial) (secrets.Entry, error) {
	base := softEntry{alias: alias, kind: km.Kind, chain: km.Chain, algorithm: km.Algorithm}
	if base.algorithm == "" {
		base.algorithm = defaultAlgorithm(km.Kind)
	}
	switch km.Kind {
	case secrets.KindSecret:
		if len(km.Secret) == 0 {
			return nil, fmt.Errorf("secrets: alias %s: empty secret key", alias)
		}
		return &softSecret{softEntry: base, key: clone(km.Secret)}, nil
	case secrets.KindAES:
		block, err := aes.NewCipher(km.Secret)
		if err != nil {
			return nil, fmt.Errorf("secrets: alias %s: AES key of %d bytes: want 16, 24 or 32", alias, len(km.Secret))
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secrets: alias %s: %w", alias, err)
		}
		return &softAES{softSecret: softSecret{softEntry: base, key: clone(km.Secret)}, gcm: gcm}, nil
	case secrets.KindRSA:
		k, ok := km.Private.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("secrets: alias %s: kind RSA needs an *rsa.PrivateKey, have %T", alias, km.Private)
		}
		if err := matchChain(alias, &k.PublicKey, km.Chain); err != nil {
			return nil, err
		}
		base.public = &k.PublicKey
		return &softRSA{softSigner{softEntry: base, key: k}}, nil
	case secrets.KindEC:
		k, ok := km.Private.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("secrets: alias %s: kind EC needs an *ecdsa.PrivateKey, have %T", alias, km.Private)
		}
		if err := matchChain(alias, &k.PublicKey, km.Chain); err != nil {
			return nil, err
		}
		base.public = &k.PublicKey
		return &softSigner{softEntry: base, key: k}, nil
	case secrets.KindCertificate:
		if len(km.Chain) == 0 || km.Chain[0] == nil {
			return nil, fmt.Errorf("secrets: alias %s: a certificate entry needs a certificate", alias)
		}
		base.public = km.Chain[0].PublicKey
		return &base, nil
	}
	return nil, fmt.Errorf("secrets: alias %s: cannot make a software entry of kind %v", alias, km.Kind)
}

// defaultAlgorithm is keytool's algorithm name for a kind of key, as [secrets.Secret.Algorithm]
// reports it for an entry that records none.
func defaultAlgorithm(k secrets.Kind) string {
	return secrets.NewSecret("", &softEntry{kind: k}).Algorithm()
}

func matchChain(alias string, pub interface{ Equal(crypto.PublicKey) bool }, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return nil
	}
	if chain[0] == nil || !pub.Equal(chain[0].PublicKey) {
		return fmt.Errorf("secrets: alias %s: the certificate does not hold the entry's public key", alias)
	}
	return nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

type softEntry struct {
	alias     string
	kind      secrets.Kind
	chain     []*x509.Certificate
	public    crypto.PublicKey
	algorithm string
}

func (e *softEntry) Algorithm() string { return e.algorithm }

func (e *softEntry) Alias() string              { return e.alias }
func (e *softEntry) Kind() secrets.Kind         { return e.kind }
func (e *softEntry) Chain() []*x509.Certificate { return e.chain }
func (e *softEntry) Public() crypto.PublicKey   { return e.public }

type softSecret struct {
	softEntry
	key []byte
}

// CheckMACHash returns nil when h is one of the HMAC hashes this module supports (SHA-256,
// SHA-384, SHA-512), else an error wrapping errors.ErrUnsupported.
func CheckMACHash(h crypto.Hash) error {
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return nil
	}
	return fmt.Errorf("secrets: HMAC with %v: %w (use SHA-256, SHA-384 or SHA-512)", h, errors.ErrUnsupported)
}

func (e *softSecret) MAC(ctx context.Context, h crypto.Hash, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckMACHash(h); err != nil {
		return nil, err
	}
	m := hmac.New(h.New, e.key)
	m.Write(msg)
	return m.Sum(nil), nil
}

func (e *softSecret) Export(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return clone(e.key), nil
}

type softAES struct {
	softSecret
	gcm cipher.AEAD
}

// GCMNonceSize is the nonce length of Seal's output (prepended to the ciphertext).
const GCMNonceSize = 12

func (e *softAES) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]byte, GCMNonceSize, GCMNonceSize+len(plaintext)+e.gcm.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return e.gcm.Seal(out, out, plaintext, aad), nil
}

func (e *softAES) Open(ctx context.Context, sealed, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(sealed) < GCMNonceSize+e.gcm.Overhead() {
		return nil, fmt.Errorf("secrets: open: sealed data of %d bytes is too short: %w", len(sealed), secrets.ErrVerification)
	}
	pt, err := e.gcm.Open(nil, sealed[:GCMNonceSize], sealed[GCMNonceSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("secrets: open: %w", secrets.ErrVerification)
	}
	return pt, nil
}

type softSigner struct {
	softEntry
	key crypto.Signer
}

func (e *softSigner) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckDigest(digest, opts); err != nil {
		return nil, err
	}
	return e.key.Sign(rand.Reader, digest, opts)
}

// CheckDigest returns an error when digest is not opts.HashFunc()'s size or the hash is not
// one this module signs with (SHA-1 for legacy verification aside: SHA-224 to SHA-512).
func CheckDigest(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil {
		return errors.New("secrets: sign: nil SignerOpts: pass the digest's crypto.Hash")
	}
	h := opts.HashFunc()
	switch h {
	case crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("secrets: sign: hash %v: %w", h, errors.ErrUnsupported)
	}
	if len(digest) != h.Size() {
		return fmt.Errorf("secrets: sign: digest is %d bytes, %v needs %d: pass the hash of the message, not the message", len(digest), h, h.Size())
	}
	return nil
}

type softRSA struct{ softSigner }

func (e *softRSA) Decrypt(ctx context.Context, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch opts.(type) {
	case nil, *rsa.PKCS1v15DecryptOptions, *rsa.OAEPOptions:
	default:
		return nil, fmt.Errorf("secrets: decrypt: options %T: %w (use nil, *rsa.PKCS1v15DecryptOptions or *rsa.OAEPOptions)", opts, errors.ErrUnsupported)
	}
	pt, err := e.key.(*rsa.PrivateKey).Decrypt(rand.Reader, ciphertext, opts)
	if err != nil {
		// One error for every failure: no padding oracle.
		return nil, fmt.Errorf("secrets: decrypt: %w", secrets.ErrVerification)
	}
	return pt, nil
}
