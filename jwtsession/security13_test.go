package jwtsession_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
)

// The validated-token cache keeps a token no longer than the Provider's lease: with a
// one-minute lease, a token whose keys were deleted is refused after 61 s (it was accepted
// for secrets.DefaultLease, 5 minutes, whatever the Provider's lease).
func TestSecurity6TokenCacheUsesProviderLease(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p, err := secrets.NewProvider([]secrets.Store{e.store}, []secrets.Mapping{
		{SecretID: jwtsession.DefaultSigningID, Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{hmacAlias}},
		{SecretID: jwtsession.DefaultEncryptionID, Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: []string{rsaAlias}},
	}, secrets.ProviderOptions{Lease: time.Minute, Now: e.clock.Now})

	require.NoError(t, err)
	defer p.Close()
	m, err := jwtsession.New(p, jwtsession.Config{Now: e.clock.Now})
	require.NoError(t, err)
	tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "bjensen"})
	require.NoError(t, err)
	_, err = m.Validate(ctx, tok)
	require.NoError(t, err)
	require.NoError(t, e.store.Delete(ctx, hmacAlias))
	require.NoError(t, e.store.Delete(ctx, rsaAlias))
	e.clock.Advance(30 * time.Second)
	_, err = m.Validate(ctx, tok)
	assert.NoError(t, err, "within the lease the cached token is served")
	e.clock.Advance(31 * time.Second)
	_, err = m.Validate(ctx, tok)
	// The token names its keys (kid): once they are gone it reads as an unknown key.
	assert.ErrorIs(t, err, jwtsession.ErrUnknownKey, "61 s after validation, with a one-minute lease")

	// A Provider that caches nothing: the token cache keeps nothing either.
	e2 := newEnv(t)
	p2, err := secrets.NewProvider([]secrets.Store{e2.store}, []secrets.Mapping{
		{SecretID: jwtsession.DefaultSigningID, Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{hmacAlias}},
		{SecretID: jwtsession.DefaultEncryptionID, Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: []string{rsaAlias}},
	}, secrets.ProviderOptions{Lease: -1, Now: e2.clock.Now})

	require.NoError(t, err)
	defer p2.Close()
	m2, err := jwtsession.New(p2, jwtsession.Config{Now: e2.clock.Now})
	require.NoError(t, err)
	tok2, err := m2.Issue(ctx, jwtsession.Claims{Principal: "bjensen"})
	require.NoError(t, err)
	_, err = m2.Validate(ctx, tok2)
	require.NoError(t, err)
	require.NoError(t, e2.store.Delete(ctx, rsaAlias))
	_, err = m2.Validate(ctx, tok2)
	assert.ErrorIs(t, err, jwtsession.ErrUnknownKey, "no lease, no cached token")
}

// The Modern profile's HostPrefix option: the cookie is __Host-session-jwt, Secure, Path=/,
// host-only; a plain session-jwt cookie (as a sibling domain could plant) is not read. The
// IDM profile keeps IDM's cookie name: HostPrefix is refused there, as with Domains or
// Insecure.
func TestSecurity10HostPrefixCookie(t *testing.T) {
	e := newEnv(t)
	p := e.provider([]string{hmacAlias}, []string{rsaAlias})
	m, err := jwtsession.New(p, jwtsession.Config{Profile: jwtsession.Modern, Cookie: jwtsession.CookieConfig{HostPrefix: true}})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	_, err = m.Login(w, httptest.NewRequest(http.MethodPost, "https://app.example.com/login", nil), jwtsession.Claims{Principal: "bjensen"})
	require.NoError(t, err)
	set := w.Result().Cookies()
	require.Len(t, set, 1)
	c := set[0]
	assert.Equal(t, "__Host-session-jwt", c.Name)
	assert.True(t, c.Secure)
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain)
	raw := w.Header().Get("Set-Cookie")
	assert.True(t, strings.HasPrefix(raw, "__Host-session-jwt="), raw)
	assert.NotContains(t, strings.ToLower(raw), "domain=")

	r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	r.AddCookie(&http.Cookie{Name: "__Host-session-jwt", Value: c.Value})
	s, err := m.FromRequest(r)
	require.NoError(t, err)
	assert.Equal(t, "bjensen", s.Principal)
	// A session-jwt cookie, even a valid token, is not the session under the prefix.
	planted := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	planted.AddCookie(&http.Cookie{Name: "session-jwt", Value: c.Value})
	_, err = m.FromRequest(planted)
	assert.ErrorIs(t, err, jwtsession.ErrNoSession)
	// Logout clears the prefixed cookie
	w = httptest.NewRecorder()
	m.Logout(w, r)
	cl := w.Result().Cookies()
	require.Len(t, cl, 1)
	assert.Equal(t, "__Host-session-jwt", cl[0].Name)
	assert.True(t, cl[0].Secure)
	assert.Equal(t, -1, cl[0].MaxAge)

	for name, cfg := range map[string]jwtsession.Config{
		"IDM profile": {Cookie: jwtsession.CookieConfig{HostPrefix: true}},
		"Domains":     {Profile: jwtsession.Modern, Cookie: jwtsession.CookieConfig{HostPrefix: true, Domains: []string{"example.com"}}},
		"Insecure":    {Profile: jwtsession.Modern, Cookie: jwtsession.CookieConfig{HostPrefix: true, Insecure: true}},
	} {
		_, err := jwtsession.New(p, cfg)
		assert.ErrorContains(t, err, "HostPrefix", name)
	}
	// The IDM profile's cookie stays IDM's.
	mi, err := jwtsession.New(p, jwtsession.Config{})
	require.NoError(t, err)
	w = httptest.NewRecorder()
	_, err = mi.Login(w, httptest.NewRequest(http.MethodPost, "/login", nil), jwtsession.Claims{Principal: "bjensen"})
	require.NoError(t, err)
	assert.Equal(t, "session-jwt", w.Result().Cookies()[0].Name)
}
