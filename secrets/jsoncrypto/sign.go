package jsoncrypto

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"

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
type Signature struct {
	Alias     string `json:"stableId"`
	SecretID  string `json:"purpose"`
	Algorithm string `json:"alg"`
	Value     []byte `json:"sig"`
}

// Sign signs msg with the active SIGN key of secretID: HS256 for a secret or AES key (the
// HMAC runs where the key lives), RS256 for RSA, ES256/384/512 by curve for EC.
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
		sig, err = s.MAC(ctx, crypto.SHA256, msg)
	} else {
		sig, err = s.Sign(ctx, digest(h, msg), h)
	}
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: sign: %w", err)
	}
	return &Signature{Alias: s.Alias(), SecretID: secretID, Algorithm: alg, Value: sig}, nil
}

// Verify checks sig over msg with the key it names, among the valid VERIFY keys of its
// secret id (so signatures made before a rotation verify while the old alias is mapped).
// The algorithm must be the one the key's kind signs with: an RSA or EC key never checks an
// HS256 tag, nor a secret key an RS256 signature. A mismatch wraps secrets.ErrVerification.
func Verify(ctx context.Context, p *secrets.Provider, sig *Signature, msg []byte) error {
	if p == nil || sig == nil {
		return fmt.Errorf("jsoncrypto: nil Provider or Signature")
	}
	s, err := p.Named(ctx, sig.SecretID, secrets.Verify, sig.Alias)
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
		if err := s.VerifyMAC(ctx, crypto.SHA256, msg, sig.Value); err != nil {
			return bad
		}
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pub, h, digest(h, msg), sig.Value) != nil {
			return bad
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest(h, msg), sig.Value) {
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

func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(msg)
		return d[:]
	default:
		d := sha256.Sum256(msg)
		return d[:]
	}
}
