package jwtsession_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secretstores/secretstores/jwtsession"
)

var fuzzSentinels = []error{jwtsession.ErrTooLarge, jwtsession.ErrMalformed, jwtsession.ErrAlgorithm, jwtsession.ErrUnknownKey,
	jwtsession.ErrSignature, jwtsession.ErrDecryption, jwtsession.ErrClaims, jwtsession.ErrExpired,
	jwtsession.ErrIdleExpired, jwtsession.ErrNotYetValid, jwtsession.ErrMaxLife}

// FuzzValidate feeds Validate arbitrary tokens. With signInner set, the input is taken as
// the outer payload and signed with the real HMAC key, so the fuzzer reaches the inner
// JWE, decryption and claims parsing past the signature. Validate must not panic, must
// fail with exactly the package's sentinels, and a token it accepts must validate again
// to the same session.
func FuzzValidate(f *testing.F) {
	e := newEnv(f)
	m := e.manager(jwtsession.Config{})
	now := e.clock.Now()
	valid, err := m.Issue(ctx, jwtsession.Claims{Principal: "p", Extra: map[string]any{"x": []any{1, "a"}}})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	inner := string(unb64(f, parts[1]))
	f.Add(valid, false)
	f.Add(inner, true)
	f.Add(e.forge(`{"typ":"JWE","alg":"HS256"}`, innerIDM, claimsAt(now, time.Hour, time.Minute)), false)
	f.Add(jwe(innerIDM, []byte(claimsAt(now, time.Hour, time.Minute)), e.rsaPub(rsaAlias)), true)
	f.Add(jwe(innerIDM, []byte(`{"exp":1,"exp":2}`), e.rsaPub(rsaAlias)), true)
	f.Add(jwe(innerIDM, []byte(`{"exp":1e999,"tokenIdleTimeSeconds":"x"}`), e.rsaPub(rsaAlias)), true)
	f.Add(jwe(`{"alg":"RSA1_5","enc":"A128CBC-HS256","kid":"openidm-localhost"}`, []byte(`[]`), e.rsaPub(rsaAlias)), true)
	f.Add(jws(`{"alg":"none"}`, inner, nil), false)
	f.Add(parts[0]+"."+parts[1]+".", false)
	f.Add("..", false)
	f.Add("....", true)
	f.Add("", false)

	f.Fuzz(func(t *testing.T, data string, signInner bool) {
		tok := data
		if signInner {
			tok = jws(outerIDM, data, e.hmac[hmacAlias])
		}
		s, err := m.Validate(ctx, tok)
		if err != nil {
			if s != nil {
				t.Fatal("session with error")
			}
			n := 0
			for _, se := range fuzzSentinels {
				if errors.Is(err, se) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error wraps %d sentinels: %v", n, err)
			}
			return
		}
		if s.Token != tok {
			t.Fatal("session of another token")
		}
		again, err := m.Validate(ctx, tok)
		if err != nil || again.ID != s.ID || !again.Expiry.Equal(s.Expiry) {
			t.Fatalf("accepted token does not validate again: %v", err)
		}
	})
}
