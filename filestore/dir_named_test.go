package filestore

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
)

// TestDirNamedPlainFileUncached: files jwt, jwt.v1, jwt.v2 with rotation aliases; data
// written under the plain file names it "jwt". Named found it only through the cache of
// valid keys: with caching off (or when that cache was cold) it resolved the mapping's alias
// "jwt", which names the secret id's active version, and returned jwt.v2's key for "jwt".
func TestDirNamedPlainFileUncached(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := map[string][]byte{"jwt": randBytes(32), "jwt.v1": randBytes(32), "jwt.v2": randBytes(32)}
	writeFiles(t, dir, keys)
	s, err := OpenDir(ctx, dir, DirConfig{VersionSuffix: ".v", Name: "secretsDir"})
	require.NoError(t, err)
	defer s.Close()
	for _, lease := range []time.Duration{-1, 0} {
		p, err := secrets.NewProvider([]secrets.Store{s}, []secrets.Mapping{{
			Store: "secretsDir", SecretID: "idm.jwt.session", Types: []secrets.Purpose{secrets.Sign, secrets.Verify},
			Aliases: s.RotationAliases("jwt", 2),
		}}, secrets.ProviderOptions{Lease: lease})

		require.NoError(t, err)
		for _, alias := range []string{"jwt", "jwt.v1", "jwt.v2"} {
			n, err := p.Named(ctx, "idm.jwt.session", secrets.Verify, alias)
			require.NoError(t, err, alias)
			assert.Equal(t, alias, n.Alias(), "lease %v", lease)
			b, err := n.Export(ctx)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(keys[alias], b), "lease %v: Named(%s) is that file's key", lease, alias)
		}
		p.Close()
	}
}
