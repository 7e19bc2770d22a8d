//go:build cgo

package jwtsession_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
)

func TestMain(m *testing.M) { softhsmtest.Main(m) }

// roundTrip is the same code for every store: issue, validate, tamper, rotate.
func roundTrip(t *testing.T, st secrets.Store, cfg jwtsession.Config) *jwtsession.Manager {
	t.Helper()
	p := providerOver(t, st, []string{hmacAlias}, []string{rsaAlias})
	m, err := jwtsession.New(p, cfg)
	require.NoError(t, err)
	s, err := m.NewSession(ctx, jwtsession.Claims{Principal: "bjensen", Context: map[string]any{"roles": []any{"r"}}})
	require.NoError(t, err)
	v, err := m.Validate(ctx, s.Token)
	require.NoError(t, err)
	assert.Equal(t, "bjensen", v.Principal)
	assert.Equal(t, s.ID, v.ID)
	_, err = m.Validate(ctx, s.Token[:len(s.Token)-2]+"AA")
	assert.ErrorIs(t, err, jwtsession.ErrSignature)
	return m
}

// A PKCS#12 keystore written by filestore (keytool's format), reopened from disk.
func TestFileStorePKCS12(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keystore.p12")
	st, err := filestore.Open(ctx, path, filestore.Config{Password: "changeit", Create: true})
	require.NoError(t, err)
	_, err = st.Generate(ctx, hmacAlias, secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Algorithm: "HmacSHA256", Extractable: true}, false)
	require.NoError(t, err)
	_, err = st.Import(ctx, rsaAlias, sharedRSAKey(0), false)
	require.NoError(t, err)
	require.NoError(t, st.Close())

	st, err = filestore.Open(ctx, path, filestore.Config{Password: "changeit"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	m := roundTrip(t, st, jwtsession.Config{})
	tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "before-rotation"})
	require.NoError(t, err)

	// Rotation in the keystore: a new HMAC key first, the old one still valid.
	_, err = st.Generate(ctx, "hmac-2", secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Algorithm: "HmacSHA256", Extractable: true}, false)
	require.NoError(t, err)
	m2, err := jwtsession.New(providerOver(t, st, []string{"hmac-2", hmacAlias}, []string{rsaAlias}), jwtsession.Config{})
	require.NoError(t, err)
	s, err := m2.Validate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, hmacAlias, s.SigningKey)
	s, err = m2.NewSession(ctx, jwtsession.Claims{})
	require.NoError(t, err)
	assert.Equal(t, "hmac-2", s.SigningKey)
}

// openSoftHSM makes a fresh SoftHSM token with IDM's session keys generated on it: the
// HMAC key extractable (as IDM needs), the RSA key pair not.
func openSoftHSM(t testing.TB) *hsmstore.Store {
	tok := softhsmtest.New(t, "jwt")
	st, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.Generate(ctx, hmacAlias, secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Algorithm: "HmacSHA256", Extractable: true}, false)
	require.NoError(t, err)
	_, err = st.Generate(ctx, rsaAlias, secrets.KeySpec{Kind: secrets.KindRSA, Bits: 2048}, false)
	require.NoError(t, err)
	return st
}

func TestSoftHSM(t *testing.T) {
	st := openSoftHSM(t)
	m := roundTrip(t, st, jwtsession.Config{})
	_ = m

	t.Run("non-extractable HMAC key", func(t *testing.T) {
		_, err := st.Generate(ctx, "hmac-sealed", secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Algorithm: "HmacSHA256"}, false)
		require.NoError(t, err)
		p := providerOver(t, st, []string{"hmac-sealed"}, []string{rsaAlias})
		_, err = jwtsession.New(p, jwtsession.Config{})
		require.ErrorIs(t, err, secrets.ErrNotExtractable)
		assert.Contains(t, err.Error(), "CKA_EXTRACTABLE=true")
		assert.Contains(t, err.Error(), "CKA_SENSITIVE=false")
		t.Log(err)

		// The opt-in mode: the HMAC runs on the token.
		hm, err := jwtsession.New(p, jwtsession.Config{MACInStore: true})
		require.NoError(t, err)
		s, err := hm.NewSession(ctx, jwtsession.Claims{Principal: "in-hsm"})
		require.NoError(t, err)
		v, err := hm.Validate(ctx, s.Token)
		require.NoError(t, err)
		assert.Equal(t, "in-hsm", v.Principal)
		_, err = hm.Validate(ctx, s.Token[:len(s.Token)-2]+"AA")
		assert.ErrorIs(t, err, jwtsession.ErrSignature)
	})

	t.Run("Modern", func(t *testing.T) {
		_, err := st.Generate(ctx, "sig-ec", secrets.KeySpec{Kind: secrets.KindEC, Bits: 256}, false)
		require.NoError(t, err)
		p := providerOver(t, st, []string{"sig-ec"}, []string{rsaAlias})
		mm, err := jwtsession.New(p, jwtsession.Config{Profile: jwtsession.Modern, SignatureAlgorithm: jose.ES256})
		require.NoError(t, err)
		t.Logf("Modern key wrap chosen on SoftHSM: %s", mm.KeyAlgorithm())
		s, err := mm.NewSession(ctx, jwtsession.Claims{Principal: "modern"})
		require.NoError(t, err)
		v, err := mm.Validate(ctx, s.Token)
		require.NoError(t, err)
		assert.Equal(t, "sig-ec", v.SigningKey)
		set, err := mm.JWKS(ctx)
		require.NoError(t, err)
		require.Len(t, set.Keys, 1)
		assert.Equal(t, "sig-ec", set.Keys[0].KeyID)
		// Forcing RSA-OAEP-256 where the token lacks it fails at Validate with the
		// store's ErrUnsupported, not as a forged token.
		if mm.KeyAlgorithm() == jose.RSA_OAEP {
			fm, err := jwtsession.New(p, jwtsession.Config{Profile: jwtsession.Modern, SignatureAlgorithm: jose.ES256, KeyAlgorithm: jose.RSA_OAEP_256})
			require.NoError(t, err)
			tok, err := fm.Issue(ctx, jwtsession.Claims{})
			require.NoError(t, err)
			fm.Forget(tok) // Issue cached it: make this Validate decrypt
			_, err = fm.Validate(ctx, tok)
			require.Error(t, err)
			assert.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
			assert.NotErrorIs(t, err, jwtsession.ErrDecryption)
		}
	})
}

// Cold Validate with the RSA key on SoftHSM (the HMAC key exported once), beside the
// same on the in-memory store.
func BenchmarkValidateSoftHSM(b *testing.B) {
	st := openSoftHSM(b)
	for _, tc := range []struct {
		name string
		st   secrets.Store
	}{{"softhsm", st}, {"memory", newEnv(b).store}} {
		p := providerOver(b, tc.st, []string{hmacAlias}, []string{rsaAlias})
		m, err := jwtsession.New(p, jwtsession.Config{CacheSize: -1})
		require.NoError(b, err)
		tok, err := m.Issue(ctx, jwtsession.Claims{Principal: "p"})
		require.NoError(b, err)
		b.Run("cold/"+tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
