package jwtsession_test

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/jwtsession"
)

var ctx = context.Background()

func headerOf(t testing.TB, part string) map[string]any {
	t.Helper()
	var h map[string]any
	require.NoError(t, json.Unmarshal(unb64(t, part), &h))
	return h
}

func TestRoundTripIDM(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{})
	claims := jwtsession.Claims{
		Principal: "openidm-admin",
		Context:   map[string]any{"roles": []any{"internal/role/openidm-admin"}, "id": "openidm-admin"},
		Extra:     map[string]any{"custom": "value"},
	}
	tok, err := m.Issue(ctx, claims)
	require.NoError(t, err)
	s, err := m.Validate(ctx, tok)
	require.NoError(t, err)

	now := e.clock.Now()
	assert.Equal(t, "openidm-admin", s.Principal)
	assert.Equal(t, claims.Context["id"], s.Context["id"])
	assert.Equal(t, []any{"internal/role/openidm-admin"}, s.Context["roles"])
	assert.Equal(t, "value", s.Extra["custom"])
	assert.Len(t, s.ID, 36)
	assert.Len(t, s.SessionID, 36)
	assert.NotEqual(t, s.ID, s.SessionID)
	assert.Equal(t, now, s.IssuedAt)
	assert.Equal(t, now, s.NotBefore)
	assert.Equal(t, now.Add(jwtsession.DefaultMaxLife), s.Expiry)
	assert.Equal(t, now.Add(jwtsession.DefaultIdleTimeout), s.IdleExpiry)
	assert.Equal(t, hmacAlias, s.SigningKey)
	assert.Equal(t, rsaAlias, s.EncryptionKey)
	assert.Equal(t, tok, s.Token)

	// A given session id is kept; jti differs per token.
	claims.SessionID = "fixed-session"
	tok2, err := m.Issue(ctx, claims)
	require.NoError(t, err)
	s2, err := m.Validate(ctx, tok2)
	require.NoError(t, err)
	assert.Equal(t, "fixed-session", s2.SessionID)
	assert.NotEqual(t, s.ID, s2.ID)

	// Reserved claims cannot be smuggled through Extra.
	_, err = m.Issue(ctx, jwtsession.Claims{Extra: map[string]any{"exp": 1}})
	assert.Error(t, err)
}

// The token is exactly IDM's layout, checked with an independent decoder.
func TestHeadersAndClaimsAsIDM(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{})
	tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "bjensen"})
	require.NoError(t, err)
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	// IDM 7's member sets: kid = alias on both layers, typ on the inner JWE.
	assert.Equal(t, map[string]any{"typ": "JWT", "kid": hmacAlias, "cty": "JWT", "alg": "HS256"}, headerOf(t, parts[0]))
	// The signature is HMAC-SHA-256 with the raw key bytes.
	assert.Equal(t, tok, jws(string(unb64(t, parts[0])), string(unb64(t, parts[1])), e.hmac[hmacAlias]))

	inner := string(unb64(t, parts[1]))
	ip := strings.Split(inner, ".")
	require.Len(t, ip, 5)
	assert.Equal(t, map[string]any{"typ": "JWT", "kid": rsaAlias, "enc": "A128CBC-HS256", "alg": "RSA1_5"}, headerOf(t, ip[0]))
	assert.Len(t, unb64(t, ip[1]), 256) // RSA-2048 wrapped key
	assert.Len(t, unb64(t, ip[2]), 16)  // IV
	assert.Len(t, unb64(t, ip[4]), 16)  // truncated HMAC tag

	var c map[string]any
	require.NoError(t, json.Unmarshal(decryptJWE(t, inner, rsaKey(t, 0).Private.(*rsa.PrivateKey)), &c))
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	assert.ElementsMatch(t, []string{"jti", "iat", "nbf", "exp", "tokenIdleTimeSeconds", "prn", "sessionId"}, keys)
	now := e.clock.Now().Unix()
	assert.Equal(t, float64(now), c["iat"])
	assert.Equal(t, float64(now), c["nbf"])
	assert.Equal(t, float64(now+7200), c["exp"])
	assert.Equal(t, float64(now+1800), c["tokenIdleTimeSeconds"])
	assert.Equal(t, "bjensen", c["prn"])
}
