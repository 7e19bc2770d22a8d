package jwtsession_test

import (
	"context"
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
	}, &secrets.ProviderOptions{Lease: time.Minute, Now: e.clock.Now})
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
	assert.ErrorIs(t, err, secrets.ErrNotFound, "61 s after validation, with a one-minute lease")

	// A Provider that caches nothing: the token cache keeps nothing either.
	e2 := newEnv(t)
	p2, err := secrets.NewProvider([]secrets.Store{e2.store}, []secrets.Mapping{
		{SecretID: jwtsession.DefaultSigningID, Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{hmacAlias}},
		{SecretID: jwtsession.DefaultEncryptionID, Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: []string{rsaAlias}},
	}, &secrets.ProviderOptions{Lease: -1, Now: e2.clock.Now})
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
	assert.ErrorIs(t, err, secrets.ErrNotFound, "no lease, no cached token")
}
