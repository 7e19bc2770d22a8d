package filestore

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
)

// Files jwt, jwt.v1 and jwt.v2 with rotation aliases: through a Provider, Active is jwt.v2
// (the highest version, as in IDM) and Valid is jwt.v2, jwt.v1, jwt, each once. Before, the
// plain file won the alias "jwt": Active was the oldest key and Valid listed it twice.
func TestSecurity3RotationUnversionedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := map[string][]byte{"jwt": randBytes(32), "jwt.v1": randBytes(32), "jwt.v2": randBytes(32)}
	writeFiles(t, dir, keys)
	s, err := OpenDir(ctx, dir, DirConfig{VersionSuffix: ".v", Name: "secretsDir"})
	require.NoError(t, err)
	defer s.Close()
	p, err := secrets.NewProvider([]secrets.Store{s}, []secrets.Mapping{{
		Store: "secretsDir", SecretID: "idm.jwt.session", Types: []secrets.Purpose{secrets.Sign, secrets.Verify},
		Aliases: s.RotationAliases("jwt", 2),
	}}, secrets.ProviderOptions{})

	require.NoError(t, err)
	defer p.Close()

	exported := func(sec *secrets.Secret) []byte {
		b, err := sec.Export(ctx)
		require.NoError(t, err)
		return b
	}
	a, err := p.Active(ctx, "idm.jwt.session", secrets.Sign)
	require.NoError(t, err)
	assert.Equal(t, "jwt.v2", a.Alias())
	assert.True(t, bytes.Equal(keys["jwt.v2"], exported(a)), "the active key is jwt.v2's")

	vs, err := p.Valid(ctx, "idm.jwt.session", secrets.Verify)
	require.NoError(t, err)
	var got []string
	for i, v := range vs {
		got = append(got, v.Alias())
		assert.True(t, bytes.Equal(keys[v.Alias()], exported(v)), "valid key %d is %s's", i, v.Alias())
	}
	assert.Equal(t, []string{"jwt.v2", "jwt.v1", "jwt"}, got)
	// Data written under the plain file before versions existed names it "jwt": Named finds it.
	n, err := p.Named(ctx, "idm.jwt.session", secrets.Verify, "jwt")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(keys["jwt"], exported(n)), "Named(jwt) is the plain file among the valid keys")
	assert.True(t, slices.Equal(s.Versions("jwt"), []string{"jwt.v2", "jwt.v1", "jwt"}))
}
