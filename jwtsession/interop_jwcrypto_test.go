package jwtsession_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/jwtsession"
)

// debianPython is the interpreter that has Debian's python3-jwcrypto; the python3 first
// on PATH may be another install.
const debianPython = "/usr/bin/python3"

func jwcrypto(t *testing.T) func(cmd string, req map[string]any) map[string]any {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		testenv.Missing(t, testenv.JWCrypto, debianPython+" not found")
	}
	if out, err := exec.Command(debianPython, "-c", "import jwcrypto").CombinedOutput(); err != nil {
		testenv.Missing(t, testenv.JWCrypto, "python3-jwcrypto not importable from "+debianPython+": "+string(out))
	}
	return func(cmd string, req map[string]any) map[string]any {
		t.Helper()
		in, err := json.Marshal(req)
		require.NoError(t, err)
		c := exec.Command(debianPython, "testdata/jwcrypto_interop.py", cmd)
		c.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		require.NoError(t, err, "jwcrypto %s: %s", cmd, stderr.String())
		var res map[string]any
		require.NoError(t, json.Unmarshal(out, &res))
		return res
	}
}

func privatePEM(t testing.TB, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func publicPEM(t testing.TB, k *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Tokens from Issue, verified and decrypted by jwcrypto.
func TestJWCryptoValidatesIssued(t *testing.T) {
	py := jwcrypto(t)
	e := newEnv(t)
	priv := rsaKey(t, 0).Private.(*rsa.PrivateKey)
	for _, tc := range []struct {
		profile   jwtsession.Profile
		outer     map[string]any
		inner     map[string]any
		innerAlgs []string
		kid       bool
	}{
		// The member sets of a real IDM 7 session-jwt (kid = alias on both layers, inner typ).
		{jwtsession.IDM, map[string]any{"typ": "JWT", "kid": hmacAlias, "cty": "JWT", "alg": "HS256"}, map[string]any{"typ": "JWT", "kid": rsaAlias, "enc": "A128CBC-HS256", "alg": "RSA1_5"}, []string{"RSA1_5", "A128CBC-HS256"}, true},
		{jwtsession.Modern, map[string]any{"typ": "JWT", "alg": "HS256", "cty": "JWT", "kid": hmacAlias}, map[string]any{"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": rsaAlias}, []string{"RSA-OAEP-256", "A256GCM"}, true},
	} {
		t.Run(tc.profile.String(), func(t *testing.T) {
			m := e.manager(jwtsession.Config{Profile: tc.profile})
			s, err := m.NewSession(ctx, jwtsession.Claims{Principal: "bjensen", Context: map[string]any{"roles": []any{"internal/role/openidm-authorized"}}, Extra: map[string]any{"n": 7}})
			require.NoError(t, err)
			res := py("verify", map[string]any{
				"token": s.Token, "hmac_key": b64(e.hmac[hmacAlias]), "rsa_private_pem": privatePEM(t, priv),
				"outer_algs": []string{"HS256"}, "inner_algs": tc.innerAlgs,
			})
			assert.Equal(t, tc.outer, res["outer_header"])
			assert.Equal(t, tc.inner, res["inner_header"])
			c := res["claims"].(map[string]any)
			assert.Equal(t, "bjensen", c["prn"])
			assert.Equal(t, s.ID, c["jti"])
			assert.Equal(t, s.SessionID, c["sessionId"])
			assert.Equal(t, float64(s.Expiry.Unix()), c["exp"])
			assert.Equal(t, float64(s.IdleExpiry.Unix()), c["tokenIdleTimeSeconds"])
			assert.Equal(t, float64(s.IssuedAt.Unix()), c["iat"])
			assert.Equal(t, float64(7), c["n"])
			assert.Equal(t, map[string]any{"roles": []any{"internal/role/openidm-authorized"}}, c["org.forgerock.authentication.context"])
		})
	}
}

// The exact protected headers of a real IDM 7.x session-jwt cookie (member order as IDM
// wrote them).
const (
	idm7Outer = `{"typ":"JWT","kid":"openidm-jwtsessionhmac-key","cty":"JWT","alg":"HS256"}`
	idm7Inner = `{"typ":"JWT","kid":"openidm-localhost","enc":"A128CBC-HS256","alg":"RSA1_5"}`
)

// Tokens built by jwcrypto with IDM 7's header bytes, accepted by the IDM profile; the kid
// selects the key (a kid naming no valid key is refused without trying the others).
func TestJWCryptoIDM7Headers(t *testing.T) {
	py := jwcrypto(t)
	e := newEnv(t)
	e.addHMAC("hmac-other", 32)
	m, err := jwtsession.New(e.provider([]string{"hmac-other", hmacAlias}, []string{rsaAlias}), jwtsession.Config{Now: e.clock.Now})
	require.NoError(t, err)
	now := e.clock.Now()
	claims := map[string]any{
		"jti": "3f0b8a1e-4f5e-4a8e-9c1d-1c2b3a4d5e6f", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(2 * time.Hour).Unix(), "tokenIdleTimeSeconds": now.Add(30 * time.Minute).Unix(),
		"prn": "openidm-admin", "sessionId": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
		"org.forgerock.authentication.context": map[string]any{"id": "openidm-admin"},
	}
	res := py("issue", map[string]any{
		"hmac_key": b64(e.hmac[hmacAlias]), "rsa_public_pem": publicPEM(t, e.rsaPub(rsaAlias)), "claims": claims,
		"outer_header": idm7Outer, "inner_header": idm7Inner,
	})
	tok := res["token"].(string)
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	assert.Equal(t, idm7Outer, string(unb64(t, parts[0])), "jwcrypto kept IDM 7's outer header bytes")
	assert.Equal(t, idm7Inner, string(unb64(t, strings.SplitN(string(unb64(t, parts[1])), ".", 2)[0])), "and the inner ones")
	s, err := m.Validate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, "openidm-admin", s.Principal)
	assert.Equal(t, hmacAlias, s.SigningKey, "the kid chose the second valid key")
	assert.Equal(t, rsaAlias, s.EncryptionKey)

	// The kid names a key the mapping does not list: refused as unknown.
	res = py("issue", map[string]any{
		"hmac_key": b64(e.hmac[hmacAlias]), "rsa_public_pem": publicPEM(t, e.rsaPub(rsaAlias)), "claims": claims,
		"outer_header": strings.Replace(idm7Outer, hmacAlias, "retired-key", 1), "inner_header": idm7Inner,
	})
	_, err = m.Validate(ctx, res["token"].(string))
	assert.ErrorIs(t, err, jwtsession.ErrUnknownKey)
}

// Tokens built by jwcrypto in IDM's layout (both outer headers IDM has written),
// accepted by Validate; a jwcrypto token with a wrong key is refused.
func TestJWCryptoIssuedValidates(t *testing.T) {
	py := jwcrypto(t)
	e := newEnv(t)
	m := e.manager(jwtsession.Config{})
	now := e.clock.Now()
	claims := map[string]any{
		"jti": "3f0b8a1e-4f5e-4a8e-9c1d-1c2b3a4d5e6f", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(2 * time.Hour).Unix(), "tokenIdleTimeSeconds": now.Add(30 * time.Minute).Unix(),
		"prn": "openidm-admin", "sessionId": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
		"org.forgerock.authentication.context": map[string]any{"id": "openidm-admin"},
	}
	for name, outer := range map[string]map[string]any{
		"IDM 8":       {"typ": "JWT", "alg": "HS256", "cty": "JWT"},
		"IDM 2013-14": {"typ": "JWE", "alg": "HS256"},
	} {
		t.Run(name, func(t *testing.T) {
			res := py("issue", map[string]any{
				"hmac_key": b64(e.hmac[hmacAlias]), "rsa_public_pem": publicPEM(t, e.rsaPub(rsaAlias)), "claims": claims,
				"outer_header": outer, "inner_header": map[string]any{"typ": "JWT", "alg": "RSA1_5", "enc": "A128CBC-HS256"},
			})
			s, err := m.Validate(ctx, res["token"].(string))
			require.NoError(t, err)
			assert.Equal(t, "openidm-admin", s.Principal)
			assert.Equal(t, claims["jti"], s.ID)
			assert.Equal(t, claims["sessionId"], s.SessionID)
			assert.Equal(t, now.Add(2*time.Hour), s.Expiry)
			assert.Equal(t, map[string]any{"id": "openidm-admin"}, s.Context)
		})
	}
	t.Run("wrong HMAC key", func(t *testing.T) {
		res := py("issue", map[string]any{
			"hmac_key": b64(make([]byte, 32)), "rsa_public_pem": publicPEM(t, e.rsaPub(rsaAlias)), "claims": claims,
			"outer_header": map[string]any{"typ": "JWT", "alg": "HS256", "cty": "JWT"}, "inner_header": map[string]any{"alg": "RSA1_5", "enc": "A128CBC-HS256"},
		})
		_, err := m.Validate(ctx, res["token"].(string))
		assert.ErrorIs(t, err, jwtsession.ErrSignature)
	})
	t.Run("Modern", func(t *testing.T) {
		mm := e.manager(jwtsession.Config{Profile: jwtsession.Modern})
		res := py("issue", map[string]any{
			"hmac_key": b64(e.hmac[hmacAlias]), "rsa_public_pem": publicPEM(t, e.rsaPub(rsaAlias)), "claims": claims,
			"outer_header": map[string]any{"typ": "JWT", "alg": "HS256", "cty": "JWT", "kid": hmacAlias},
			"inner_header": map[string]any{"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": rsaAlias},
		})
		s, err := mm.Validate(ctx, res["token"].(string))
		require.NoError(t, err)
		assert.Equal(t, "openidm-admin", s.Principal)
		// The IDM profile refuses Modern algorithms.
		_, err = m.Validate(ctx, res["token"].(string))
		assert.ErrorIs(t, err, jwtsession.ErrAlgorithm)
	})
}
