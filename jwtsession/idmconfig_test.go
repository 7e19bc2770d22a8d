package jwtsession_test

import (
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
)

func TestLoadIDMConfigDefaultFile(t *testing.T) {
	cfg, err := jwtsession.LoadIDMConfig("testdata/idm/authentication.json", secrets.MapProperties(map[string]string{"openidm.admin.password": "x"}))
	require.NoError(t, err)
	assert.Equal(t, jwtsession.IDM, cfg.Profile)
	assert.Equal(t, 120*time.Minute, cfg.MaxLife)
	assert.Equal(t, 30*time.Minute, cfg.IdleTimeout)
	assert.False(t, cfg.Cookie.Persistent, "sessionOnly true")
	assert.False(t, cfg.Cookie.NoHTTPOnly)
	assert.False(t, cfg.Cookie.Insecure)
	assert.Equal(t, "", cfg.Cookie.Name, "default session-jwt")

	// An authentication module's undefined property fails as secrets.LoadConfig fails.
	_, err = jwtsession.LoadIDMConfig("testdata/idm/authentication.json", secrets.MapProperties(nil))
	var ee *secrets.ExprError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "openidm.admin.password", ee.Property)
	assert.Contains(t, err.Error(), "/serverAuthContext/authModules/0/properties/password")
}

// An IDM token with an 8-hour life validates with a Manager configured from an
// authentication.json that says so (with the lifetime limit on, so the file's
// settings are what admit it), and the Manager issues 8-hour tokens itself.
func TestLoadIDMConfig8Hours(t *testing.T) {
	props := secrets.MapProperties(map[string]string{"idm.session.idle.minutes": "480", "idm.cookie.domain": "example.com"})
	cfg, err := jwtsession.LoadIDMConfig("testdata/idm/authentication-8h.json", props)
	require.NoError(t, err)
	assert.Equal(t, 8*time.Hour, cfg.MaxLife, "$int of the inline default 480")
	assert.Equal(t, 8*time.Hour, cfg.IdleTimeout, "a numeric string from a property")
	assert.True(t, cfg.Cookie.Persistent, "sessionOnly false")
	assert.Equal(t, "session-jwt", cfg.Cookie.Name)
	assert.Equal(t, []string{"example.com"}, cfg.Cookie.Domains)

	e := newEnv(t)
	now := e.clock.Now()
	tok := e.forge(idm7Outer, idm7Inner, claimsTimes(now, now, now.Add(8*time.Hour), now.Add(8*time.Hour)))
	cfg.LimitLifetime, cfg.CacheSize = true, -1
	m := e.manager(cfg)
	s, err := m.Validate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, now.Add(8*time.Hour), s.Expiry)
	_, err = e.manager(jwtsession.Config{LimitLifetime: true, CacheSize: -1}).Validate(ctx, tok)
	assert.ErrorIs(t, err, jwtsession.ErrMaxLife, "not with IDM's default 2 hours")

	e.clock.Advance(8*time.Hour - time.Minute)
	_, err = m.Validate(ctx, tok)
	assert.NoError(t, err, "a minute before the end")

	own, err := m.NewSession(ctx, jwtsession.Claims{Principal: "p"})
	require.NoError(t, err)
	assert.Equal(t, 8*time.Hour, own.Expiry.Sub(own.IssuedAt))
	w := httptest.NewRecorder()
	m.SetCookie(w, own)
	require.Len(t, w.Result().Cookies(), 1)
	c := w.Result().Cookies()[0]
	assert.Equal(t, "example.com", c.Domain)
	assert.Positive(t, c.MaxAge, "persistent: sessionOnly is false")
}

func TestParseIDMConfigErrors(t *testing.T) {
	for _, c := range []struct{ name, json, want string }{
		{"not an object", `[]`, "serverAuthContext"},
		{"no session module", `{"serverAuthContext":{}}`, "/serverAuthContext/sessionModule"},
		{"other module", `{"serverAuthContext":{"sessionModule":{"name":"OTHER"}}}`, "/serverAuthContext/sessionModule/name"},
		{"both units", `{"serverAuthContext":{"sessionModule":{"properties":{"maxTokenLifeMinutes":1,"maxTokenLifeSeconds":60}}}}`, "exclusive"},
		{"negative", `{"serverAuthContext":{"sessionModule":{"properties":{"tokenIdleTimeSeconds":-1}}}}`, "tokenIdleTimeSeconds: out of range"},
		{"huge", `{"serverAuthContext":{"sessionModule":{"properties":{"maxTokenLifeMinutes":99999999999999}}}}`, "out of range"},
		{"fraction", `{"serverAuthContext":{"sessionModule":{"properties":{"maxTokenLifeMinutes":"1.5s3cr3t"}}}}`, "not a whole number"},
		{"bad bool", `{"serverAuthContext":{"sessionModule":{"properties":{"sessionOnly":"yes"}}}}`, "sessionOnly: want true or false"},
		{"bad cookie name", `{"serverAuthContext":{"sessionModule":{"properties":{"sessionCookieName":"a;b"}}}}`, "sessionCookieName"},
		{"bad domains", `{"serverAuthContext":{"sessionModule":{"properties":{"cookieDomains":"example.com"}}}}`, "cookieDomains"},
		{"undefined property", `{"serverAuthContext":{"sessionModule":{"properties":{"maxTokenLifeMinutes":"&{nope}"}}}}`, "nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := jwtsession.ParseIDMConfig([]byte(c.json), secrets.MapProperties(nil))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), "s3cr3t", "no value quoted")
		})
	}
	// Seconds, numeric strings, and an absent properties object.
	cfg, err := jwtsession.ParseIDMConfig([]byte(`{"serverAuthContext":{"sessionModule":{"properties":{"maxTokenLifeSeconds":"90","tokenIdleTimeSeconds":45,"isSecure":"false","isHttpOnly":false}}}}`), nil)
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, cfg.MaxLife)
	assert.Equal(t, 45*time.Second, cfg.IdleTimeout)
	assert.True(t, cfg.Cookie.Insecure)
	assert.True(t, cfg.Cookie.NoHTTPOnly)
	cfg, err = jwtsession.ParseIDMConfig([]byte(`{"serverAuthContext":{"sessionModule":{"name":"JWT_SESSION"}}}`), nil)
	require.NoError(t, err)
	assert.Equal(t, jwtsession.Config{Profile: jwtsession.IDM}, cfg)
	_, err = jwtsession.LoadIDMConfig("testdata/idm/missing.json", nil)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func FuzzParseIDMConfig(f *testing.F) {
	f.Add([]byte(`{"serverAuthContext":{"sessionModule":{"name":"JWT_SESSION","properties":{"maxTokenLifeMinutes":"120","cookieDomains":["a"]}}}}`))
	f.Add([]byte(`{"serverAuthContext":{"sessionModule":{"properties":{"maxTokenLifeSeconds":{"$int":"&{x|5}"}}}}}`))
	f.Add([]byte(`{"serverAuthContext":{"sessionModule":{"properties":{"sessionOnly":{"$bool":"&{a|&{b|true}}"}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := jwtsession.ParseIDMConfig(data, secrets.MapProperties(map[string]string{"x": "1"}))
		if err == nil && (cfg.MaxLife < 0 || cfg.IdleTimeout < 0 || strings.ContainsAny(cfg.Cookie.Name, ";\r\n")) {
			t.Fatalf("bad config from %q: %+v", data, cfg)
		}
	})
}
