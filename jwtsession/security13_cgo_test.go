//go:build cgo

package jwtsession_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
)

// With MACInStore, an HSM outage is not a forged token: the session's HMAC key lives on a
// SoftHSM token reached through p11-kit's RPC, the server is killed, and a request with a
// valid cookie gets 503 and keeps its cookie (before: ErrSignature, 401, and a clearing
// Set-Cookie: the user was logged out). When the server is back the same cookie works.
func TestSecurity2HSMOutageNotLogout(t *testing.T) {
	tok := softhsmtest.New(t, "outage")
	k11 := softhsmtest.StartP11Kit(t, tok)
	st, err := hsmstore.Open(ctx, hsmstore.Config{Library: k11.Module, TokenLabel: tok.Label, PIN: tok.PIN,
		ReconnectBackoff: 20 * time.Millisecond, ReconnectBackoffMax: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.Generate(ctx, hmacAlias, secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Algorithm: "HmacSHA256"}, false)
	require.NoError(t, err)
	_, err = st.Import(ctx, rsaAlias, sharedRSAKey(0), false)
	require.NoError(t, err)
	p := providerOver(t, st, []string{hmacAlias}, []string{rsaAlias})
	// No validated-token cache: every request verifies on the token.
	m, err := jwtsession.New(p, jwtsession.Config{MACInStore: true, CacheSize: -1})
	require.NoError(t, err)
	tokStr, err := m.Issue(ctx, jwtsession.Claims{Principal: "bjensen"})
	require.NoError(t, err)

	h := m.Middleware(jwtsession.MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	get := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: jwtsession.DefaultCookieName, Value: tokStr})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	require.Equal(t, http.StatusNoContent, get().Code)

	k11.Kill()
	_, err = m.Validate(ctx, tokStr)
	require.Error(t, err)
	assert.ErrorIs(t, err, secrets.ErrUnavailable)
	assert.NotErrorIs(t, err, jwtsession.ErrSignature)
	w := get()
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Empty(t, w.Result().Cookies(), "no Set-Cookie: the cookie is kept")

	require.NoError(t, k11.Start())
	deadline := time.Now().Add(10 * time.Second)
	for {
		w = get()
		if w.Code == http.StatusNoContent || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, http.StatusNoContent, w.Code, "the same cookie works once the token is back")
	// A tampered token with the token up is a forgery: 401 and cleared.
	_, err = m.Validate(ctx, tokStr[:len(tokStr)-2]+"AA")
	assert.True(t, errors.Is(err, jwtsession.ErrSignature), "%v", err)
}
