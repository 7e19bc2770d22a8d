package jwtsession_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/jwtsession"
)

func TestCookies(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{})
	rec := httptest.NewRecorder()
	s, err := m.Login(rec, httptest.NewRequest("POST", "/login", nil), jwtsession.Claims{Principal: "p"})
	require.NoError(t, err)
	cs := rec.Result().Cookies()
	require.Len(t, cs, 1)
	c := cs[0]
	assert.Equal(t, "session-jwt", c.Name)
	assert.Equal(t, s.Token, c.Value)
	assert.Equal(t, "/", c.Path)
	assert.True(t, c.HttpOnly)
	assert.True(t, c.Secure)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Zero(t, c.MaxAge, "session-only by default (IDM 8.1)")
	assert.Empty(t, c.Domain)

	// Logout: empty value, Max-Age 0.
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/logout", nil)
	req.AddCookie(c)
	m.Logout(rec, req)
	hdr := rec.Result().Header.Values("Set-Cookie")
	require.Len(t, hdr, 1)
	assert.Contains(t, hdr[0], "session-jwt=;")
	assert.Contains(t, hdr[0], "Max-Age=0")
	assert.Contains(t, hdr[0], "Path=/")

	// Persistent cookies get Max-Age = exp − now; one cookie per domain.
	pm := e.manager(jwtsession.Config{Cookie: jwtsession.CookieConfig{Persistent: true, Domains: []string{"example.com", "example.org"}, Insecure: true, NoHTTPOnly: true, SameSite: http.SameSiteStrictMode, Name: "s"}})
	ps, err := pm.NewSession(ctx, jwtsession.Claims{})
	require.NoError(t, err)
	e.clock.Advance(10 * time.Minute)
	cookies := pm.Cookies(ps)
	require.Len(t, cookies, 2)
	for i, d := range []string{"example.com", "example.org"} {
		assert.Equal(t, d, cookies[i].Domain)
		assert.Equal(t, int((jwtsession.DefaultMaxLife - 10*time.Minute).Seconds()), cookies[i].MaxAge)
		assert.False(t, cookies[i].Secure)
		assert.False(t, cookies[i].HttpOnly)
		assert.Equal(t, http.SameSiteStrictMode, cookies[i].SameSite)
		assert.Equal(t, "s", cookies[i].Name)
	}
	rec = httptest.NewRecorder()
	pm.ClearCookie(rec)
	assert.Len(t, rec.Result().Header.Values("Set-Cookie"), 2)
}

func TestCookieSizeWarning(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	m := e.manager(jwtsession.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	s, err := m.NewSession(ctx, jwtsession.Claims{Extra: map[string]any{"big": strings.Repeat("x", 4000)}})
	require.NoError(t, err)
	require.Greater(t, len(s.Token), jwtsession.CookieWarnSize)
	m.SetCookie(httptest.NewRecorder(), s)
	assert.Contains(t, buf.String(), "exceeds 4 KB")
	assert.NotContains(t, buf.String(), s.Token)
}

func TestMiddleware(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{})
	var seen *jwtsession.Session
	h := m.Middleware(jwtsession.MiddlewareOptions{RequireXRequestedWith: true})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = jwtsession.FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	s, err := m.NewSession(ctx, jwtsession.Claims{Principal: "p"})
	require.NoError(t, err)
	do := func(token string, xrw bool) *http.Response {
		req := httptest.NewRequest("GET", "/", nil)
		if token != "" {
			req.AddCookie(&http.Cookie{Name: "session-jwt", Value: token})
		}
		if xrw {
			req.Header.Set("X-Requested-With", "XMLHttpRequest")
		}
		rec := httptest.NewRecorder()
		seen = nil
		h.ServeHTTP(rec, req)
		return rec.Result()
	}

	assert.Equal(t, http.StatusUnauthorized, do("", true).StatusCode)
	assert.Equal(t, http.StatusForbidden, do(s.Token, false).StatusCode, "IDM's X-Requested-With rule")
	r := do(s.Token, true)
	assert.Equal(t, http.StatusNoContent, r.StatusCode)
	require.NotNil(t, seen)
	assert.Equal(t, "p", seen.Principal)
	assert.Empty(t, r.Cookies(), "no refresh within a minute")

	e.clock.Advance(2 * time.Minute)
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "session-jwt", Value: s.Token})
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	req.Header.Set(jwtsession.NoSessionHeader, "true")
	rec := httptest.NewRecorder()
	seen = nil
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Empty(t, rec.Result().Cookies(), "X-OpenIDM-NoSession: no refreshed cookie")
	require.NotNil(t, seen)
	assert.Equal(t, s.Token, seen.Token)
	loginRec := httptest.NewRecorder()
	ls, err := m.Login(loginRec, req, jwtsession.Claims{Principal: "q"})
	require.NoError(t, err)
	assert.NotEmpty(t, ls.Token)
	assert.Empty(t, loginRec.Result().Cookies(), "X-OpenIDM-NoSession: Login sets no cookie")

	r = do(s.Token, true)
	assert.Equal(t, http.StatusNoContent, r.StatusCode)
	require.Len(t, r.Cookies(), 1, "refreshed")
	n := r.Cookies()[0].Value
	assert.NotEqual(t, s.Token, n)
	assert.Equal(t, n, seen.Token)
	v, err := m.Validate(ctx, n)
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now(), v.IssuedAt)

	// A bad token: 401 and a clearing cookie.
	r = do(s.Token[:len(s.Token)-3]+"AAA", true)
	assert.Equal(t, http.StatusUnauthorized, r.StatusCode)
	require.Len(t, r.Cookies(), 1)
	assert.Equal(t, "", r.Cookies()[0].Value)
	assert.Equal(t, -1, r.Cookies()[0].MaxAge)

	// Optional: no session passes through without one.
	oh := m.Middleware(jwtsession.MiddlewareOptions{Optional: true})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := jwtsession.FromContext(r.Context())
		assert.False(t, ok)
		w.WriteHeader(http.StatusTeapot)
	}))
	rec = httptest.NewRecorder()
	oh.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, http.StatusTeapot, rec.Code)

	// Several cookies of the name (one per domain): the valid one wins.
	req = httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "session-jwt", Value: "garbage"})
	req.AddCookie(&http.Cookie{Name: "session-jwt", Value: n})
	got, err := m.FromRequest(req)
	require.NoError(t, err)
	assert.Equal(t, "p", got.Principal)
	_, err = m.FromRequest(httptest.NewRequest("GET", "/", nil))
	assert.ErrorIs(t, err, jwtsession.ErrNoSession)

	// A request stuffed with cookies: only the first few are validated.
	req = httptest.NewRequest("GET", "/", nil)
	for i := 0; i < 50; i++ {
		req.AddCookie(&http.Cookie{Name: "session-jwt", Value: "garbage"})
	}
	req.AddCookie(&http.Cookie{Name: "session-jwt", Value: n})
	_, err = m.FromRequest(req)
	assert.ErrorIs(t, err, jwtsession.ErrMalformed, "the valid cookie after 50 others is not reached")
}
