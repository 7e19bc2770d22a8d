package jsoncrypto

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/secretstores/secretstores/secrets"
)

// Signature algorithms, named as in JWS (RFC 7518).
const (
	HS256 = "HS256" // HMAC-SHA256: a secret or AES key
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256: an RSA key
	ES256 = "ES256" // ECDSA P-256 with SHA-256 (ASN.1 DER signature)
	ES384 = "ES384" // ECDSA P-384 with SHA-384
	ES512 = "ES512" // ECDSA P-521 with SHA-512
)

// A Signature is a detached signature (or MAC) of a message, carrying what Verify needs to
// pick the key without trial: the alias and the secret id. It marshals to JSON as
// {"stableId", "purpose", "alg", "sig" (standard base64)}.
//
// What is signed is not the message alone but the message bound to the secret id, the alias
// and the algorithm (signedInput), so a signature made for one secret id never verifies for
// another, even where both map the same key. This format is this library's own (IDM has no
// detached-signature format); signatures over the message alone, as made before this binding,
// do not verify (secrets.ErrVerification): sign again.
type Signature struct {
	Alias     string `json:"stableId"`
	SecretID  string `json:"purpose"`
	Algorithm string `json:"alg"`
	Value     []byte `json:"sig"`
}

// sigContext opens the signed input: a name for the format and its version.
const sigContext = "secretstores/jsoncrypto detached signature v1\x00"

// signedInput is what Sign signs: sigContext, then the secret id, the alias and the
// algorithm, each as a 4-byte big-endian length and its UTF-8 bytes, then the message.
func signedInput(w io.Writer, secretID, alias, alg string, msg []byte) {
	io.WriteString(w, sigContext)
	for _, f := range [...]string{secretID, alias, alg} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		w.Write(n[:])
		io.WriteString(w, f)
	}
	w.Write(msg)
}

// signedDigest is the hash h of signedInput; signedBytes the input itself (for a MAC, which
// the store computes over the whole input).
func signedDigest(h crypto.Hash, secretID, alias, alg string, msg []byte) []byte {
	d := h.New()
	signedInput(d, secretID, alias, alg, msg)
	return d.Sum(nil)
}

func signedBytes(secretID, alias, alg string, msg []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(sigContext) + 12 + len(secretID) + len(alias) + len(alg) + len(msg))
	signedInput(&b, secretID, alias, alg, msg)
	return b.Bytes()
}

// Sign signs msg, bound to secretID, the key's alias and the algorithm, with the active SIGN
// key of secretID: HS256 for a secret or AES key (the HMAC runs where the key lives), RS256
// for RSA, ES256/384/512 by curve for EC.
func Sign(ctx context.Context, p *secrets.Provider, secretID string, msg []byte) (*Signature, error) {
	if p == nil {
		return nil, fmt.Errorf("jsoncrypto: nil Provider")
	}
	s, err := p.Active(ctx, secretID, secrets.Sign)
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: sign: %w", err)
	}
	alg, h, err := algFor(s)
	if err != nil {
		return nil, err
	}
	var sig []byte
	if alg == HS256 {
		sig, err = s.MAC(ctx, crypto.SHA256, signedBytes(secretID, s.Alias(), alg, msg))
	} else {
		sig, err = s.Sign(ctx, signedDigest(h, secretID, s.Alias(), alg, msg), h)
	}
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: sign: %w", err)
	}
	return &Signature{Alias: s.Alias(), SecretID: secretID, Algorithm: alg, Value: sig}, nil
}

// Verify checks sig over msg for secretID, the secret id the caller expects: a signature
// naming another secret id is refused before any key is looked up, and the secret id is part
// of the signed input. The key is the one sig names among the valid VERIFY keys of secretID
// (so signatures made before a rotation verify while the old alias is mapped). The algorithm
// must be the one the key's kind signs with: an RSA or EC key never checks an HS256 tag, nor
// a secret key an RS256 signature. Every refusal of the signature wraps
// secrets.ErrVerification, including a signature naming an alias secretID does not map (that
// error also wraps ErrNotFound); the Provider's other errors (ErrNoMapping, ErrUnavailable)
// are returned as they are.
func Verify(ctx context.Context, p *secrets.Provider, secretID string, sig *Signature, msg []byte) error {
	if p == nil || sig == nil {
		return fmt.Errorf("jsoncrypto: nil Provider or Signature")
	}
	if sig.SecretID != secretID {
		return fmt.Errorf("jsoncrypto: the signature is for secret id %q, not %q: %w",
			clip(sig.SecretID), secretID, secrets.ErrVerification)
	}
	s, err := p.Named(ctx, secretID, secrets.Verify, sig.Alias)
	if errors.Is(err, secrets.ErrNotFound) {
		// The signature names a key secretID does not map: a refusal of the signature,
		// which a caller must not take for a store fault.
		return fmt.Errorf("jsoncrypto: the signature names key %q, not a valid VERIFY key of %q: %w: %w",
			clip(sig.Alias), secretID, secrets.ErrVerification, err)
	}
	if err != nil {
		return fmt.Errorf("jsoncrypto: verify: %w", err)
	}
	alg, h, err := algFor(s)
	if err != nil {
		return err
	}
	if alg != sig.Algorithm {
		return fmt.Errorf("jsoncrypto: signature says %q but key %q (%v) signs %s: %w",
			clip(sig.Algorithm), s.Alias(), s.Kind(), alg, secrets.ErrVerification)
	}
	bad := fmt.Errorf("jsoncrypto: %s signature by %q does not verify: %w", alg, s.Alias(), secrets.ErrVerification)
	switch pub := s.Public().(type) {
	case nil:
		if err := s.VerifyMAC(ctx, crypto.SHA256, signedBytes(secretID, sig.Alias, alg, msg), sig.Value); err != nil {
			if errors.Is(err, secrets.ErrVerification) {
				return bad
			}
			return fmt.Errorf("jsoncrypto: verify: %w", err)
		}
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pub, h, signedDigest(h, secretID, sig.Alias, alg, msg), sig.Value) != nil {
			return bad
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, signedDigest(h, secretID, sig.Alias, alg, msg), sig.Value) {
			return bad
		}
	default:
		return fmt.Errorf("jsoncrypto: key %q: public key %T: %w", s.Alias(), pub, secrets.ErrWrongKind)
	}
	return nil
}

// algFor returns the algorithm a key signs with.
func algFor(s *secrets.Secret) (string, crypto.Hash, error) {
	if s.Kind().Symmetric() {
		return HS256, crypto.SHA256, nil
	}
	switch pub := s.Public().(type) {
	case *rsa.PublicKey:
		return RS256, crypto.SHA256, nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return ES256, crypto.SHA256, nil
		case elliptic.P384():
			return ES384, crypto.SHA384, nil
		case elliptic.P521():
			return ES512, crypto.SHA512, nil
		}
	}
	return "", 0, fmt.Errorf("jsoncrypto: key %q (%v) cannot sign or verify: %w", s.Alias(), s.Kind(), secrets.ErrWrongKind)
}
