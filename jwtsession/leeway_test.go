package jwtsession_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/jwtsession"
)

// claimsTimes renders IDM claims with the times given.
func claimsTimes(iat, nbf, exp, idle time.Time) string {
	return fmt.Sprintf(`{"jti":"j-1","iat":%d,"nbf":%d,"exp":%d,"tokenIdleTimeSeconds":%d,"prn":"bjensen","sessionId":"s-1"}`,
		iat.Unix(), nbf.Unix(), exp.Unix(), idle.Unix())
}

// The IDM profile accepts what IDM accepts, with DefaultIDMLeeway of clock skew: a
// deadline passed by a second, or nbf a second ahead, validates; ten minutes do not.
func TestIDMLeeway(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{CacheSize: -1})
	assert.Equal(t, jwtsession.DefaultIDMLeeway, m.Config().Leeway)
	now := e.clock.Now()
	for _, c := range []struct {
		name string
		skew time.Duration
		want error // for a skew of ten minutes
	}{
		{"exp passed", 0, jwtsession.ErrExpired},
		{"idle deadline passed", 0, jwtsession.ErrIdleExpired},
		{"nbf ahead", 0, jwtsession.ErrNotYetValid},
	} {
		for _, skew := range []time.Duration{time.Second, 10 * time.Minute} {
			var claims string
			switch c.name {
			case "exp passed":
				claims = claimsTimes(now.Add(-2*time.Hour), now.Add(-2*time.Hour), now.Add(-skew), now.Add(10*time.Minute))
			case "idle deadline passed":
				claims = claimsTimes(now.Add(-time.Hour), now.Add(-time.Hour), now.Add(time.Hour), now.Add(-skew))
			case "nbf ahead":
				claims = claimsTimes(now.Add(skew), now.Add(skew), now.Add(2*time.Hour), now.Add(30*time.Minute))
			}
			t.Run(fmt.Sprintf("%s by %s", c.name, skew), func(t *testing.T) {
				_, err := m.Validate(ctx, e.forge(outerIDM, innerIDM, claims))
				if skew == time.Second {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, c.want)
				}
			})
		}
	}

	// The exact boundary without leeway (IDM's rule now < exp), and an explicit leeway.
	strict := e.manager(jwtsession.Config{CacheSize: -1, Leeway: -1})
	_, err := strict.Validate(ctx, e.forge(outerIDM, innerIDM, claimsTimes(now.Add(-time.Hour), now.Add(-time.Hour), now.Add(-time.Second), now.Add(time.Minute))))
	assert.ErrorIs(t, err, jwtsession.ErrExpired, "Leeway < 0: none")
	wide := e.manager(jwtsession.Config{CacheSize: -1, Leeway: 15 * time.Minute})
	_, err = wide.Validate(ctx, e.forge(outerIDM, innerIDM, claimsTimes(now.Add(-time.Hour), now.Add(-time.Hour), now.Add(-10*time.Minute), now.Add(time.Minute))))
	assert.NoError(t, err, "Leeway 15 min")
}

// The IDM profile sets no exp − iat (or idle) limit unless Config.LimitLifetime asks for
// one: a cookie from an IDM configured for 8-hour sessions validates under the defaults.
func TestIDMLifetimeLimit(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	tok := e.forge(outerIDM, innerIDM, claimsTimes(now, now, now.Add(8*time.Hour), now.Add(8*time.Hour)))
	s, err := e.manager(jwtsession.Config{CacheSize: -1}).Validate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, now.Add(8*time.Hour), s.Expiry)
	_, err = e.manager(jwtsession.Config{CacheSize: -1, LimitLifetime: true}).Validate(ctx, tok)
	assert.ErrorIs(t, err, jwtsession.ErrMaxLife, "LimitLifetime with the default MaxLife of 2 h")
	_, err = e.manager(jwtsession.Config{CacheSize: -1, LimitLifetime: true, MaxLife: 8 * time.Hour, IdleTimeout: 8 * time.Hour}).Validate(ctx, tok)
	assert.NoError(t, err, "LimitLifetime with MaxLife and IdleTimeout of 8 h")
}

// The Modern profile is unchanged: no leeway by default, and the lifetime limit applies.
func TestModernTimesUnchanged(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{Profile: jwtsession.Modern, CacheSize: -1, MaxLife: time.Hour, IdleTimeout: time.Hour})
	assert.Equal(t, time.Duration(0), m.Config().Leeway)
	assert.True(t, m.Config().LimitLifetime)
	tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "p"})
	require.NoError(t, err)
	e.clock.Advance(time.Hour + time.Second)
	_, err = m.Validate(ctx, tok)
	assert.ErrorIs(t, err, jwtsession.ErrExpired, "a second past exp, no leeway")

	long := e.manager(jwtsession.Config{Profile: jwtsession.Modern, CacheSize: -1, MaxLife: 8 * time.Hour, IdleTimeout: 8 * time.Hour})
	tok, err = long.Issue(ctx, jwtsession.Claims{Principal: "p"})
	require.NoError(t, err)
	_, err = m.Validate(ctx, tok)
	assert.ErrorIs(t, err, jwtsession.ErrMaxLife, "an 8-hour token under MaxLife 1 h")
}
