package jwtsession_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/secretstores/secretstores/jwtsession"
)

// The raw floor: the same nested JWS(JWE) with the same keys, written directly against
// go-jose, with signer and encrypter made once (as the Manager caches them).
type rawJose struct {
	hmacKey []byte
	priv    *rsa.PrivateKey
	signer  jose.Signer
	enc     jose.Encrypter
	now     func() time.Time
}

func newRawJose(b *testing.B, e *env) *rawJose {
	r := &rawJose{hmacKey: e.hmac[hmacAlias], priv: rsaKey(b, 0).Private.(*rsa.PrivateKey), now: e.clock.Now}
	var err error
	r.enc, err = jose.NewEncrypter(jose.A128CBC_HS256, jose.Recipient{Algorithm: jose.RSA1_5, Key: &r.priv.PublicKey}, nil)
	if err != nil {
		b.Fatal(err)
	}
	r.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: r.hmacKey}, (&jose.SignerOptions{}).WithType("JWT").WithContentType("JWT"))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func (r *rawJose) issue(prn string) (string, error) {
	var id [32]byte
	rand.Read(id[:]) // jti and sessionId, as Issue makes them
	now := r.now().Unix()
	claims, err := json.Marshal(map[string]any{"jti": "6d1f0c2e-6f3a-4b8e-9a1d-2c3b4a5d6e7f", "sessionId": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
		"iat": now, "nbf": now, "exp": now + 7200, "tokenIdleTimeSeconds": now + 1800, "prn": prn})
	if err != nil {
		return "", err
	}
	obj, err := r.enc.Encrypt(claims)
	if err != nil {
		return "", err
	}
	inner, err := obj.CompactSerialize()
	if err != nil {
		return "", err
	}
	sig, err := r.signer.Sign([]byte(inner))
	if err != nil {
		return "", err
	}
	return sig.CompactSerialize()
}

func (r *rawJose) validate(tok string) (map[string]any, error) {
	s, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return nil, err
	}
	p, err := s.Verify(r.hmacKey)
	if err != nil {
		return nil, err
	}
	e, err := jose.ParseEncryptedCompact(string(p), []jose.KeyAlgorithm{jose.RSA1_5}, []jose.ContentEncryption{jose.A128CBC_HS256})
	if err != nil {
		return nil, err
	}
	pt, err := e.Decrypt(r.priv)
	if err != nil {
		return nil, err
	}
	var c map[string]any
	if err := json.Unmarshal(pt, &c); err != nil {
		return nil, err
	}
	if exp, _ := c["exp"].(float64); int64(exp) <= r.now().Unix() {
		return nil, errors.New("expired")
	}
	return c, nil
}

func (r *rawJose) verifyHS256(tok string) error {
	s, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return err
	}
	_, err = s.Verify(r.hmacKey)
	return err
}

func BenchmarkIssue(b *testing.B) {
	e := newEnv(b)
	m := e.manager(jwtsession.Config{})
	raw := newRawJose(b, e)
	b.Run("jwtsession", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Issue(ctx, jwtsession.Claims{Principal: "bjensen"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-jose", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := raw.issue("bjensen"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	e := newEnv(b)
	cold := e.manager(jwtsession.Config{CacheSize: -1})
	warm := e.manager(jwtsession.Config{})
	raw := newRawJose(b, e)
	tok, err := cold.Issue(ctx, jwtsession.Claims{Principal: "bjensen"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := raw.validate(tok); err != nil {
		b.Fatal(err)
	}
	b.Run("cold/jwtsession", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cold.Validate(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold/go-jose", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := raw.validate(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	if _, err := warm.Validate(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.Run("warm/jwtsession", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := warm.Validate(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm/go-jose-HS256-verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := raw.verifyHS256(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
