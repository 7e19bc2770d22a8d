package jwtsession_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
)

func TestTimes(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{IdleTimeout: 10 * time.Minute, MaxLife: 30 * time.Minute, CacheSize: -1, Leeway: -1}) // no leeway: IDM's exact rule
	tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "p"})
	require.NoError(t, err)

	e.clock.Advance(10*time.Minute - time.Second)
	_, err = m.Validate(ctx, tok)
	require.NoError(t, err, "just before the idle deadline")
	e.clock.Advance(time.Second)
	_, err = m.Validate(ctx, tok)
	assert.ErrorIs(t, err, jwtsession.ErrIdleExpired, "at the idle deadline (IDM: now < deadline)")

	// Leeway stretches every deadline.
	lm := e.manager(jwtsession.Config{IdleTimeout: 10 * time.Minute, MaxLife: 30 * time.Minute, Leeway: 5 * time.Second, CacheSize: -1})
	_, err = lm.Validate(ctx, tok)
	assert.NoError(t, err, "within leeway")

	// Refreshing keeps the session alive to its absolute end, not beyond.
	e2 := newEnv(t)
	m2 := e2.manager(jwtsession.Config{IdleTimeout: 10 * time.Minute, MaxLife: 30 * time.Minute, Leeway: -1})
	s, err := m2.NewSession(ctx, jwtsession.Claims{Principal: "p"})
	require.NoError(t, err)
	exp := s.Expiry
	for i := 0; i < 3; i++ {
		e2.clock.Advance(9 * time.Minute)
		v, err := m2.Validate(ctx, s.Token)
		require.NoError(t, err, "step %d", i)
		s, _, err = m2.Refresh(ctx, v)
		require.NoError(t, err)
		assert.Equal(t, exp, s.Expiry)
	}
	e2.clock.Advance(3 * time.Minute) // 30 minutes since issue
	_, err = m2.Validate(ctx, s.Token)
	assert.ErrorIs(t, err, jwtsession.ErrExpired)

	// Not yet valid: a token from a clock ahead of ours.
	e3 := newEnv(t)
	ahead := e3.manager(jwtsession.Config{})
	tok3, err := ahead.Issue(ctx, jwtsession.Claims{})
	require.NoError(t, err)
	behind := e3.manager(jwtsession.Config{Now: func() time.Time { return e3.clock.Now().Add(-10 * time.Second) }})
	_, err = behind.Validate(ctx, tok3)
	assert.ErrorIs(t, err, jwtsession.ErrNotYetValid)
	lenient := e3.manager(jwtsession.Config{Leeway: 10 * time.Second, Now: func() time.Time { return e3.clock.Now().Add(-10 * time.Second) }})
	_, err = lenient.Validate(ctx, tok3)
	assert.NoError(t, err)
}

func TestRefreshRule(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{})
	s, err := m.NewSession(ctx, jwtsession.Claims{Principal: "p", Extra: map[string]any{"k": "v"}})
	require.NoError(t, err)

	e.clock.Advance(59 * time.Second)
	same, refreshed, err := m.Refresh(ctx, s)
	require.NoError(t, err)
	assert.False(t, refreshed, "iat under a minute old")
	assert.Equal(t, s.Token, same.Token)

	e.clock.Advance(2 * time.Second)
	n, refreshed, err := m.Refresh(ctx, s)
	require.NoError(t, err)
	require.True(t, refreshed)
	assert.NotEqual(t, s.Token, n.Token)
	v, err := m.Validate(ctx, n.Token)
	require.NoError(t, err)
	now := e.clock.Now()
	assert.Equal(t, s.ID, v.ID, "same jti")
	assert.Equal(t, s.SessionID, v.SessionID)
	assert.Equal(t, s.Expiry, v.Expiry, "same max life")
	assert.Equal(t, now, v.IssuedAt)
	assert.Equal(t, now, v.NotBefore)
	assert.Equal(t, now.Add(jwtsession.DefaultIdleTimeout), v.IdleExpiry)
	assert.Equal(t, "v", v.Extra["k"])
	assert.Equal(t, "p", v.Principal)
}

func TestRotation(t *testing.T) {
	e := newEnv(t)
	e.addHMAC("hmac-b", 32)
	e.addRSA("rsa-b", 1)
	mA, err := jwtsession.New(e.provider([]string{hmacAlias}, []string{rsaAlias}), jwtsession.Config{Now: e.clock.Now})
	require.NoError(t, err)
	tokA, err := mA.Issue(ctx, jwtsession.Claims{Principal: "a"})
	require.NoError(t, err)

	// Rotate both keys: [B, A].
	mBA, err := jwtsession.New(e.provider([]string{"hmac-b", hmacAlias}, []string{"rsa-b", rsaAlias}), jwtsession.Config{Now: e.clock.Now})
	require.NoError(t, err)
	s, err := mBA.Validate(ctx, tokA)
	require.NoError(t, err, "old token under the rotated mapping")
	assert.Equal(t, hmacAlias, s.SigningKey)
	assert.Equal(t, rsaAlias, s.EncryptionKey)

	tokB, err := mBA.Issue(ctx, jwtsession.Claims{Principal: "b"})
	require.NoError(t, err)
	s, err = mBA.Validate(ctx, tokB)
	require.NoError(t, err)
	assert.Equal(t, "hmac-b", s.SigningKey, "new tokens use the active key")
	assert.Equal(t, "rsa-b", s.EncryptionKey)
	_, err = mA.Validate(ctx, tokB)
	assert.ErrorIs(t, err, jwtsession.ErrUnknownKey, "the old mapping does not know B, which the kid names")

	// Retire A: its tokens stop validating.
	mB, err := jwtsession.New(e.provider([]string{"hmac-b"}, []string{"rsa-b"}), jwtsession.Config{Now: e.clock.Now})
	require.NoError(t, err)
	_, err = mB.Validate(ctx, tokA)
	assert.ErrorIs(t, err, jwtsession.ErrUnknownKey)
	// Signing key still valid but encryption key retired.
	mBAsig, err := jwtsession.New(e.provider([]string{"hmac-b", hmacAlias}, []string{"rsa-b"}), jwtsession.Config{Now: e.clock.Now})
	require.NoError(t, err)
	_, err = mBAsig.Validate(ctx, tokA)
	assert.ErrorIs(t, err, jwtsession.ErrUnknownKey, "the inner kid names the retired key")
}

func TestNewErrors(t *testing.T) {
	e := newEnv(t)
	e.addHMAC("short", 16)
	_, err := jwtsession.New(e.provider([]string{"short"}, []string{rsaAlias}), jwtsession.Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "at least 32")
	assert.NotContains(t, err.Error(), string(e.hmac["short"]))

	_, err = jwtsession.New(e.provider([]string{rsaAlias}, []string{rsaAlias}), jwtsession.Config{})
	assert.ErrorIs(t, err, secrets.ErrWrongKind, "RSA key as HMAC key")
	_, err = jwtsession.New(e.provider([]string{hmacAlias}, []string{hmacAlias}), jwtsession.Config{})
	assert.ErrorIs(t, err, secrets.ErrWrongKind, "HMAC key as RSA key")
	_, err = jwtsession.New(e.provider([]string{"missing"}, []string{rsaAlias}), jwtsession.Config{})
	assert.ErrorIs(t, err, secrets.ErrNotFound)
	_, err = jwtsession.New(e.provider([]string{hmacAlias}, []string{rsaAlias}), jwtsession.Config{SigningID: "no.such.id"})
	assert.ErrorIs(t, err, secrets.ErrNoMapping)
	_, err = jwtsession.New(e.provider([]string{hmacAlias}, []string{rsaAlias}), jwtsession.Config{SignatureAlgorithm: "HS512"})
	assert.Error(t, err, "IDM profile is HS256 only")
	_, err = jwtsession.New(e.provider([]string{hmacAlias}, []string{rsaAlias}), jwtsession.Config{Profile: jwtsession.Modern, SignatureAlgorithm: "HS512"})
	assert.ErrorIs(t, err, secrets.ErrWrongKind, "HS512 needs 64 bytes")
	_, err = jwtsession.New(e.provider([]string{hmacAlias}, []string{rsaAlias}), jwtsession.Config{IdleTimeout: -time.Second})
	assert.Error(t, err)
	_, err = jwtsession.New(nil, jwtsession.Config{})
	assert.Error(t, err)
}

// A key that cannot leave its store: New says which PKCS#11 attributes to set; the
// MACInStore mode works without export.
func TestNotExtractable(t *testing.T) {
	e := newEnv(t)
	ws := &wrapStore{Store: e.store, noExport: true}
	p := providerOver(t, ws, []string{hmacAlias}, []string{rsaAlias})
	_, err := jwtsession.New(p, jwtsession.Config{})
	require.ErrorIs(t, err, secrets.ErrNotExtractable)
	assert.Contains(t, err.Error(), "CKA_EXTRACTABLE=true")
	assert.Contains(t, err.Error(), "CKA_SENSITIVE=false")

	m, err := jwtsession.New(p, jwtsession.Config{MACInStore: true, Now: e.clock.Now})
	require.NoError(t, err)
	tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "hsm"})
	require.NoError(t, err)
	m.Forget(tok) // Issue cached it: make this Validate verify
	before := ws.macs.Load()
	s, err := m.Validate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, "hsm", s.Principal)
	assert.Greater(t, ws.macs.Load(), before, "verification ran in the store")
	// Same wire format: a Manager with the exported key accepts it.
	_, err = e.manager(jwtsession.Config{}).Validate(ctx, tok)
	assert.NoError(t, err)
	// And a store-MAC Manager rejects a forgery.
	_, err = m.Validate(ctx, jws(outerIDM, "a.b.c.d.e", make([]byte, 32)))
	assert.ErrorIs(t, err, jwtsession.ErrSignature)
}

func TestCacheAndRevocation(t *testing.T) {
	e := newEnv(t)
	ws := &wrapStore{Store: e.store}
	p := providerOver(t, ws, []string{hmacAlias}, []string{rsaAlias})
	var mu sync.Mutex
	revoked := map[string]bool{}
	m, err := jwtsession.New(p, jwtsession.Config{Now: e.clock.Now, Revoked: func(_ context.Context, s *jwtsession.Session) error {
		mu.Lock()
		defer mu.Unlock()
		if revoked[s.SessionID] {
			return errors.New("logged out")
		}
		return nil
	}})
	require.NoError(t, err)
	// A token issued elsewhere: the first Validate decrypts, the next ones hit the cache.
	tok, err := e.manager(jwtsession.Config{}).Issue(ctx, jwtsession.Claims{Principal: "p"})
	require.NoError(t, err)
	_, err = m.Validate(ctx, tok)
	require.NoError(t, err)
	n := ws.decrypts.Load()
	require.Positive(t, n)
	_, err = m.Validate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, n, ws.decrypts.Load(), "a cache hit costs no RSA decryption")
	// A token this Manager issued is warm from the start.
	own, err := m.Issue(ctx, jwtsession.Claims{Principal: "o"})
	require.NoError(t, err)
	_, err = m.Validate(ctx, own)
	require.NoError(t, err)
	assert.Equal(t, n, ws.decrypts.Load(), "an issued token is cached by Issue")

	// Deadlines apply on cache hits too.
	e.clock.Advance(jwtsession.DefaultIdleTimeout + jwtsession.DefaultIDMLeeway)
	_, err = m.Validate(ctx, tok)
	assert.ErrorIs(t, err, jwtsession.ErrIdleExpired)

	tok2, err := e.manager(jwtsession.Config{}).Issue(ctx, jwtsession.Claims{Principal: "q"})
	require.NoError(t, err)
	s, err := m.Validate(ctx, tok2)
	require.NoError(t, err)
	mu.Lock()
	revoked[s.SessionID] = true
	mu.Unlock()
	_, err = m.Validate(ctx, tok2)
	require.ErrorIs(t, err, jwtsession.ErrRevoked)
	assert.Contains(t, err.Error(), "logged out")
	mu.Lock()
	revoked[s.SessionID] = false
	mu.Unlock()
	n = ws.decrypts.Load()
	_, err = m.Validate(ctx, tok2)
	require.NoError(t, err)
	assert.Greater(t, ws.decrypts.Load(), n, "a revoked entry left the cache")

	// Switched off: every Validate decrypts.
	off, err := jwtsession.New(p, jwtsession.Config{Now: e.clock.Now, CacheSize: -1})
	require.NoError(t, err)
	n = ws.decrypts.Load()
	_, err = off.Validate(ctx, tok2)
	require.NoError(t, err)
	_, err = off.Validate(ctx, tok2)
	require.NoError(t, err)
	assert.Equal(t, n+2, ws.decrypts.Load())
}

func TestConcurrent(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{CacheSize: 8})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "p"})
				if err != nil {
					errs <- err
					return
				}
				for k := 0; k < 2; k++ {
					if _, err := m.Validate(ctx, tok); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCancelledContext(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{})
	tok, err := m.Issue(ctx, jwtsession.Claims{})
	require.NoError(t, err)
	c, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.Validate(c, tok)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = m.Issue(c, jwtsession.Claims{})
	assert.ErrorIs(t, err, context.Canceled)
}

// Older outer header (IDM 2013–14): typ JWE, no cty, made from an Issue'd inner JWE.
func TestOlderOuterHeader(t *testing.T) {
	e := newEnv(t)
	m := e.manager(jwtsession.Config{CacheSize: -1})
	tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "old"})
	require.NoError(t, err)
	inner := string(unb64(t, strings.Split(tok, ".")[1]))
	old := jws(`{"typ":"JWE","alg":"HS256"}`, inner, e.hmac[hmacAlias])
	s, err := m.Validate(ctx, old)
	require.NoError(t, err)
	assert.Equal(t, "old", s.Principal)
	// The Modern profile does not accept it.
	mm := e.manager(jwtsession.Config{Profile: jwtsession.Modern})
	_, err = mm.Validate(ctx, old)
	assert.ErrorIs(t, err, jwtsession.ErrAlgorithm)
}

// The HMAC key is exported once per Provider lease and purpose (SIGN for Issue, VERIFY for
// Validate), not per token: also when the token's kid names the key (the Modern profile),
// where Validate looks the key up by alias.
func TestHMACExportedOncePerLease(t *testing.T) {
	for _, profile := range []jwtsession.Profile{jwtsession.IDM, jwtsession.Modern} {
		t.Run(profile.String(), func(t *testing.T) {
			e := newEnv(t)
			ws := &wrapStore{Store: e.store}
			p := providerOver(t, ws, []string{hmacAlias}, []string{rsaAlias})
			m, err := jwtsession.New(p, jwtsession.Config{Profile: profile, Now: e.clock.Now, CacheSize: -1})
			require.NoError(t, err)
			require.EqualValues(t, 1, ws.exports.Load(), "New exports the active (SIGN) HMAC key once")
			for i := 0; i < 5; i++ {
				tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "p"})
				require.NoError(t, err)
				_, err = m.Validate(ctx, tok)
				require.NoError(t, err)
			}
			assert.LessOrEqual(t, ws.exports.Load(), int64(2), "five Issue+Validate exported the HMAC key more than once per purpose")
		})
	}
}
