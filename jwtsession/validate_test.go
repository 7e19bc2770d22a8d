package jwtsession_test

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/jwtsession"
)

const (
	outerIDM = `{"typ":"JWT","alg":"HS256","cty":"JWT"}`
	innerIDM = `{"alg":"RSA1_5","enc":"A128CBC-HS256"}`
)

// claimsAt renders IDM claims issued at now with the given lifetimes.
func claimsAt(now time.Time, life, idle time.Duration) string {
	return fmt.Sprintf(`{"jti":"j-1","iat":%d,"nbf":%d,"exp":%d,"tokenIdleTimeSeconds":%d,"prn":"bjensen","sessionId":"s-1"}`,
		now.Unix(), now.Unix(), now.Add(life).Unix(), now.Add(idle).Unix())
}

// forge builds a token from literal headers and claims with the env's default keys.
func (e *env) forge(outer, inner, claims string) string {
	return jws(outer, jwe(inner, []byte(claims), e.rsaPub(rsaAlias)), e.hmac[hmacAlias])
}

// resign replaces the signature of tok's payload-modified form: f edits the inner JWE.
func (e *env) resign(t testing.TB, tok string, f func(parts []string)) string {
	p := strings.Split(tok, ".")
	ip := strings.Split(string(unb64(t, p[1])), ".")
	f(ip)
	return jws(string(unb64(t, p[0])), strings.Join(ip, "."), e.hmac[hmacAlias])
}

func flip(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestForgedHandmadeTokensAccepted(t *testing.T) {
	// The independent encoder makes tokens Validate accepts: the suite below is
	// meaningful only if its baseline validates.
	e := newEnv(t)
	m := e.manager(jwtsession.Config{})
	now := e.clock.Now()
	for name, outer := range map[string]string{
		"IDM 8":            outerIDM,
		"IDM 2013-14":      `{"typ":"JWE","alg":"HS256"}`,
		"other order":      `{"alg":"HS256","cty":"JWT","typ":"JWT"}`,
		"lower-case types": `{"typ":"jwt","alg":"HS256","cty":"jwt"}`,
		"kid":              `{"typ":"JWT","alg":"HS256","cty":"JWT","kid":"` + hmacAlias + `"}`,
	} {
		for iname, inner := range map[string]string{"plain": innerIDM, "typ JWT": `{"typ":"JWT","alg":"RSA1_5","enc":"A128CBC-HS256"}`} {
			s, err := m.Validate(ctx, e.forge(outer, inner, claimsAt(now, 2*time.Hour, 30*time.Minute)))
			if assert.NoError(t, err, name+"/"+iname) {
				assert.Equal(t, "bjensen", s.Principal)
			}
		}
	}
}

// TestNegative is the suite of forged and broken tokens: each is rejected with the
// sentinel that names its fault.
func TestNegative(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{MaxTokenSize: 6000, LimitLifetime: true})
	now := e.clock.Now()
	good := claimsAt(now, 2*time.Hour, 30*time.Minute)
	valid, err := m.Issue(ctx, jwtsession.Claims{Principal: "bjensen"})
	require.NoError(t, err)
	vp := strings.Split(valid, ".")
	inner := string(unb64(t, vp[1]))
	otherKey := make([]byte, 32)
	otherKey[0] = 1

	// A token whose JWE is outside and JWS inside: go-jose's ParseSignedAndEncrypted order.
	swapped := func() string {
		enc, err := jose.NewEncrypter(jose.A128CBC_HS256, jose.Recipient{Algorithm: jose.RSA1_5, Key: e.rsaPub(rsaAlias)},
			(&jose.EncrypterOptions{}).WithContentType("JWT"))
		require.NoError(t, err)
		obj, err := enc.Encrypt([]byte(jws(`{"alg":"HS256","typ":"JWT"}`, good, e.hmac[hmacAlias])))
		require.NoError(t, err)
		s, err := obj.CompactSerialize()
		require.NoError(t, err)
		return s
	}()

	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", jwtsession.ErrMalformed},
		{"one part", "abc", jwtsession.ErrMalformed},
		{"two parts", vp[0] + "." + vp[1], jwtsession.ErrMalformed},
		{"four parts", valid + ".x", jwtsession.ErrMalformed},
		{"truncated", valid[:len(valid)/2], jwtsession.ErrMalformed},
		{"truncated signature", valid[:len(valid)-5], jwtsession.ErrSignature},
		{"oversized", valid + strings.Repeat("A", 6000), jwtsession.ErrTooLarge},
		{"swapped nesting (JWE outside)", swapped, jwtsession.ErrMalformed},
		{"alg none", b64([]byte(`{"typ":"JWT","alg":"none","cty":"JWT"}`)) + "." + vp[1] + ".", jwtsession.ErrAlgorithm},
		{"alg none, no cty", jws(`{"alg":"none"}`, inner, nil)[:len(jws(`{"alg":"none"}`, inner, nil))-43], jwtsession.ErrAlgorithm},
		{"HS/RS confusion: RS256", jws(`{"typ":"JWT","alg":"RS256","cty":"JWT"}`, inner, e.hmac[hmacAlias]), jwtsession.ErrAlgorithm},
		{"HS512", jws(`{"typ":"JWT","alg":"HS512","cty":"JWT"}`, inner, e.hmac[hmacAlias]), jwtsession.ErrAlgorithm},
		{"wrong HMAC key", jws(outerIDM, inner, otherKey), jwtsession.ErrSignature},
		{"tampered outer header bytes", jws(outerIDM+" ", inner, e.hmac[hmacAlias])[:len(b64([]byte(outerIDM+" ")))] + valid[len(vp[0]):], jwtsession.ErrSignature},
		{"tampered outer payload", vp[0] + "." + flip(vp[1]) + "." + vp[2], jwtsession.ErrSignature},
		{"tampered signature", vp[0] + "." + vp[1] + "." + flip(vp[2]), jwtsession.ErrSignature},
		{"cty mismatch", jws(`{"typ":"JWT","alg":"HS256","cty":"JSON"}`, inner, e.hmac[hmacAlias]), jwtsession.ErrAlgorithm},
		{"no typ", jws(`{"alg":"HS256","cty":"JWT"}`, inner, e.hmac[hmacAlias]), jwtsession.ErrAlgorithm},
		{"typ JWE with cty", jws(`{"typ":"JWE","alg":"HS256","cty":"JWT"}`, inner, e.hmac[hmacAlias]), jwtsession.ErrAlgorithm},
		{"crit header", jws(`{"typ":"JWT","alg":"HS256","cty":"JWT","crit":["exp"]}`, inner, e.hmac[hmacAlias]), jwtsession.ErrAlgorithm},
		{"jwk header", jws(`{"typ":"JWT","alg":"HS256","cty":"JWT","jwk":{"kty":"oct","k":"AAAA"}}`, inner, e.hmac[hmacAlias]), jwtsession.ErrAlgorithm},
		{"duplicate header member", jws(`{"typ":"JWT","alg":"HS256","cty":"JWT","alg":"HS256"}`, inner, e.hmac[hmacAlias]), jwtsession.ErrMalformed},
		{"header not JSON", jws(`{"typ":"JWT",`, inner, e.hmac[hmacAlias]), jwtsession.ErrMalformed},
		{"header not an object", jws(`["HS256"]`, inner, e.hmac[hmacAlias]), jwtsession.ErrMalformed},
		{"bad base64 header", "!!" + valid[2:], jwtsession.ErrMalformed},
		{"padded base64 header", vp[0] + "=." + vp[1] + "." + vp[2], jwtsession.ErrMalformed},
		{"bad base64 signature", vp[0] + "." + vp[1] + ".***", jwtsession.ErrMalformed},
		{"unknown kid", jws(`{"typ":"JWT","alg":"HS256","cty":"JWT","kid":"nope"}`, inner, e.hmac[hmacAlias]), jwtsession.ErrUnknownKey},
		{"payload not a JWE", jws(outerIDM, good, e.hmac[hmacAlias]), jwtsession.ErrMalformed},
		{"inner alg RSA-OAEP", e.forge(outerIDM, `{"alg":"RSA-OAEP","enc":"A128CBC-HS256"}`, good), jwtsession.ErrAlgorithm},
		{"inner alg dir", e.forge(outerIDM, `{"alg":"dir","enc":"A128CBC-HS256"}`, good), jwtsession.ErrAlgorithm},
		{"inner enc A256GCM", e.forge(outerIDM, `{"alg":"RSA1_5","enc":"A256GCM"}`, good), jwtsession.ErrAlgorithm},
		{"inner zip", e.forge(outerIDM, `{"alg":"RSA1_5","enc":"A128CBC-HS256","zip":"DEF"}`, good), jwtsession.ErrAlgorithm},
		{"inner cty", e.forge(outerIDM, `{"alg":"RSA1_5","enc":"A128CBC-HS256","cty":"JWT"}`, good), jwtsession.ErrAlgorithm},
		{"inner unknown kid", e.forge(outerIDM, `{"alg":"RSA1_5","enc":"A128CBC-HS256","kid":"nope"}`, good), jwtsession.ErrUnknownKey},
		{"tampered inner header (re-signed)", e.resign(t, valid, func(p []string) { p[0] = b64([]byte(innerIDM + " ")) }), jwtsession.ErrDecryption},
		{"tampered encrypted key (re-signed)", e.resign(t, valid, func(p []string) { p[1] = flip(p[1]) }), jwtsession.ErrDecryption},
		{"short encrypted key (re-signed)", e.resign(t, valid, func(p []string) { p[1] = p[1][:40] }), jwtsession.ErrDecryption},
		{"tampered IV (re-signed)", e.resign(t, valid, func(p []string) { p[2] = flip(p[2]) }), jwtsession.ErrDecryption},
		{"tampered ciphertext (re-signed)", e.resign(t, valid, func(p []string) { p[3] = flip(p[3]) }), jwtsession.ErrDecryption},
		{"tampered tag (re-signed)", e.resign(t, valid, func(p []string) { p[4] = flip(p[4]) }), jwtsession.ErrDecryption},
		{"truncated tag (re-signed)", e.resign(t, valid, func(p []string) { p[4] = p[4][:10] }), jwtsession.ErrDecryption},
		{"encrypted to another RSA key", jws(outerIDM, jwe(innerIDM, []byte(good), &rsaKey(t, 1).Private.(*rsaPrivateKey).PublicKey), e.hmac[hmacAlias]), jwtsession.ErrDecryption},
		{"duplicate claim", e.forge(outerIDM, innerIDM, strings.Replace(good, `{`, fmt.Sprintf(`{"exp":%d,`, now.Add(time.Hour).Unix()), 1)), jwtsession.ErrClaims},
		{"claims not an object", e.forge(outerIDM, innerIDM, `[1,2]`), jwtsession.ErrClaims},
		{"claims not JSON", e.forge(outerIDM, innerIDM, `{"exp":`), jwtsession.ErrClaims},
		{"exp a string", e.forge(outerIDM, innerIDM, strings.Replace(good, `"exp":`, `"exp":"1"`+`,"x":`, 1)), jwtsession.ErrClaims},
		{"exp missing", e.forge(outerIDM, innerIDM, strings.Replace(good, `"exp":`, `"x":`, 1)), jwtsession.ErrClaims},
		{"idle deadline missing", e.forge(outerIDM, innerIDM, strings.Replace(good, `"tokenIdleTimeSeconds":`, `"x":`, 1)), jwtsession.ErrClaims},
		{"prn a number", e.forge(outerIDM, innerIDM, strings.Replace(good, `"prn":"bjensen"`, `"prn":7`, 1)), jwtsession.ErrClaims},
		{"negative exp", e.forge(outerIDM, innerIDM, strings.Replace(good, `"exp":`, `"exp":-5,"x":`, 1)), jwtsession.ErrClaims},
		{"huge exp", e.forge(outerIDM, innerIDM, strings.Replace(good, `"exp":`, `"exp":1e300,"x":`, 1)), jwtsession.ErrClaims},
		{"expired", e.forge(outerIDM, innerIDM, claimsAt(now.Add(-3*time.Hour), 2*time.Hour, 30*time.Minute)), jwtsession.ErrExpired},
		{"idle-expired", e.forge(outerIDM, innerIDM, claimsAt(now.Add(-31*time.Minute), 2*time.Hour, 30*time.Minute)), jwtsession.ErrIdleExpired},
		{"not yet valid", e.forge(outerIDM, innerIDM, claimsAt(now.Add(10*time.Second), 2*time.Hour, 30*time.Minute)), jwtsession.ErrNotYetValid},
		{"past max life", e.forge(outerIDM, innerIDM, claimsAt(now, 5*time.Hour, 30*time.Minute)), jwtsession.ErrMaxLife},
		{"idle beyond timeout", e.forge(outerIDM, innerIDM, claimsAt(now, 2*time.Hour, 3*time.Hour)), jwtsession.ErrMaxLife},
	}
	sentinels := []error{jwtsession.ErrTooLarge, jwtsession.ErrMalformed, jwtsession.ErrAlgorithm, jwtsession.ErrUnknownKey,
		jwtsession.ErrSignature, jwtsession.ErrDecryption, jwtsession.ErrClaims, jwtsession.ErrExpired,
		jwtsession.ErrIdleExpired, jwtsession.ErrNotYetValid, jwtsession.ErrMaxLife}
	require.GreaterOrEqual(t, len(cases), 30)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := m.Validate(ctx, c.tok)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, c.want)
			n := 0
			for _, se := range sentinels {
				if errors.Is(err, se) {
					n++
				}
			}
			assert.Equal(t, 1, n, "exactly one sentinel: %v", err)
			assert.NotContains(t, err.Error(), string(e.hmac[hmacAlias]))
		})
	}
}

type rsaPrivateKey = rsa.PrivateKey
