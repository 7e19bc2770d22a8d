package jwtsession

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"github.com/go-jose/go-jose/v4"

	"github.com/secretstores/secretstores/secrets"
)

// macHash is the HMAC hash of a JWS algorithm.
func macHash(alg jose.SignatureAlgorithm) (crypto.Hash, bool) {
	switch alg {
	case jose.HS256:
		return crypto.SHA256, true
	case jose.HS384:
		return crypto.SHA384, true
	case jose.HS512:
		return crypto.SHA512, true
	}
	return 0, false
}

// storeMAC is a go-jose OpaqueSigner and OpaqueVerifier over Secret.MAC and
// Secret.VerifyMAC: the HMAC key never leaves its store.
type storeMAC struct {
	ctx context.Context
	sec *secrets.Secret
	alg jose.SignatureAlgorithm
	// err, when set, receives a failure of the store (not a MAC mismatch) in
	// VerifyPayload: go-jose turns every verifier error into ErrCryptoFailure, and a store
	// fault must not read as a forged token.
	err *error
}

func (s storeMAC) Public() *jose.JSONWebKey        { return nil }
func (s storeMAC) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{s.alg} }
func (s storeMAC) SignPayload(p []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	h, ok := macHash(alg)
	if !ok || alg != s.alg {
		return nil, jose.ErrUnsupportedAlgorithm
	}
	return s.sec.MAC(s.ctx, h, p)
}
func (s storeMAC) VerifyPayload(p, sig []byte, alg jose.SignatureAlgorithm) error {
	h, ok := macHash(alg)
	if !ok || alg != s.alg {
		return jose.ErrUnsupportedAlgorithm
	}
	err := s.sec.VerifyMAC(s.ctx, h, p, sig)
	if err != nil && s.err != nil && !errors.Is(err, secrets.ErrVerification) {
		*s.err = err
	}
	return err
}

// storeKeyDecrypter is a go-jose OpaqueKeyDecrypter over Secret.Decrypt: the RSA
// decryption of the content key runs where the key lives.
type storeKeyDecrypter struct {
	ctx     context.Context
	sec     *secrets.Secret
	cekSize int
	err     error // a failure of the store (not of the ciphertext), reported to the caller
}

// DecryptKey unwraps the CEK. For RSA1_5 it follows RFC 3218 / RFC 7516 §11.5: a padding
// failure or a key of the wrong size yields a random key of the right size, chosen in
// constant time, so the failure shows only as an authentication-tag mismatch (no
// Bleichenbacher oracle).
func (d *storeKeyDecrypter) DecryptKey(ek []byte, h jose.Header) ([]byte, error) {
	pub, ok := d.sec.Public().(*rsa.PublicKey)
	if !ok {
		return nil, secrets.ErrWrongKind
	}
	switch jose.KeyAlgorithm(h.Algorithm) {
	case jose.RSA1_5:
		if len(ek) != pub.Size() {
			return nil, errors.New("encrypted key has the wrong size")
		}
		fake := make([]byte, d.cekSize)
		if _, err := rand.Read(fake); err != nil {
			return nil, err
		}
		// SessionKeyLen lets a software key answer as crypto/rsa does (a random key, no
		// error); a store that ignores it reports a padding failure as ErrVerification.
		cek, err := d.sec.Decrypt(d.ctx, ek, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: d.cekSize})
		if err != nil && !errors.Is(err, secrets.ErrVerification) {
			d.err = err // the store failed (closed, cancelled, HSM fault): not a padding signal
			return nil, err
		}
		good := 0
		padded := make([]byte, d.cekSize)
		if err == nil {
			good = subtle.ConstantTimeEq(int32(len(cek)), int32(d.cekSize))
			copy(padded, cek)
		}
		subtle.ConstantTimeCopy(good, fake, padded)
		return fake, nil
	case jose.RSA_OAEP, jose.RSA_OAEP_256:
		hash := crypto.SHA1
		if jose.KeyAlgorithm(h.Algorithm) == jose.RSA_OAEP_256 {
			hash = crypto.SHA256
		}
		cek, err := d.sec.Decrypt(d.ctx, ek, &rsa.OAEPOptions{Hash: hash})
		if err != nil {
			if !errors.Is(err, secrets.ErrVerification) {
				d.err = err
			}
			return nil, err
		}
		return cek, nil
	}
	return nil, jose.ErrUnsupportedAlgorithm
}

// hmacKeys holds exported HMAC keys per resolved Secret, so a key is exported once per
// Provider lease rather than per token.
type hmacKeys struct {
	mu   sync.Mutex
	keys map[*secrets.Secret][]byte
	min  int
}

func (k *hmacKeys) get(ctx context.Context, sec *secrets.Secret) ([]byte, error) {
	k.mu.Lock()
	key, ok := k.keys[sec]
	k.mu.Unlock()
	if ok {
		return key, nil
	}
	key, err := exportHMAC(ctx, sec, k.min)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.keys == nil || len(k.keys) >= 64 { // stale Secrets of past leases: start over
		k.keys = make(map[*secrets.Secret][]byte)
	}
	k.keys[sec] = key
	k.mu.Unlock()
	return key, nil
}

func exportHMAC(ctx context.Context, sec *secrets.Secret, min int) ([]byte, error) {
	if !sec.Kind().Symmetric() {
		return nil, fmt.Errorf("signing key %q in store %q is %v, not an HMAC (generic secret) key: %w",
			sec.Alias(), sec.Store(), sec.Kind(), secrets.ErrWrongKind)
	}
	key, err := sec.Export(ctx)
	if err != nil {
		if errors.Is(err, secrets.ErrNotExtractable) {
			return nil, fmt.Errorf("the session HMAC key %q in store %q must be exported, as IDM does: "+
				"create it extractable and not sensitive (PKCS#11 CKA_EXTRACTABLE=true, CKA_SENSITIVE=false; "+
				"in a SunPKCS11 config: attributes(generate,CKO_SECRET_KEY,CKK_GENERIC_SECRET) = "+
				"{ CKA_EXTRACTABLE = true  CKA_SENSITIVE = false }), or set Config.MACInStore: %w",
				sec.Alias(), sec.Store(), err)
		}
		return nil, fmt.Errorf("exporting the session HMAC key: %w", err)
	}
	if len(key) < min {
		n := len(key)
		clear(key)
		return nil, fmt.Errorf("the session HMAC key %q in store %q has %d bytes; at least %d are needed (IDM requires 32, HS512 64): %w",
			sec.Alias(), sec.Store(), n, min, secrets.ErrWrongKind)
	}
	return key, nil
}
