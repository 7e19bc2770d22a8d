package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keystore.p12")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o644))
	require.NoError(t, WriteFile(p, []byte("new"), 0o600))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "new", string(b))
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	left, err := filepath.Glob(filepath.Join(dir, TempPattern(p)))
	require.NoError(t, err)
	require.Empty(t, left, "no temporary file is left behind")

	// A failed write leaves the old contents and no temporary file.
	require.Error(t, WriteFile(filepath.Join(dir, "missing-dir", "f"), []byte("x"), 0o600))
	b, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "new", string(b))
}

// TestReplaceKeepsModeAndOwner: Replace keeps the existing file's mode and, run as root (as
// CI runs), its owner and group.
func TestReplaceKeepsModeAndOwner(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keystore.p12")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o640))
	require.NoError(t, os.Chmod(p, 0o640))
	root := os.Geteuid() == 0
	if root {
		require.NoError(t, os.Chown(p, 4242, 4343))
	}
	require.NoError(t, Replace(p, []byte("new"), 0o600))
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	// A new file gets perm.
	q := filepath.Join(filepath.Dir(p), "new.p12")
	require.NoError(t, Replace(q, []byte("x"), 0o600))
	st, err = os.Stat(q)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	if !root {
		t.Skip("owner kept only where the process may chown: run as root to check it")
	}
	st, err = os.Stat(p)
	require.NoError(t, err)
	uid, gid := fileOwner(st)
	require.Equal(t, 4242, uid)
	require.Equal(t, 4343, gid)

}
