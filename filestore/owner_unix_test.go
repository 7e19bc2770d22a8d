//go:build unix

package filestore

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/secretstores/secretstores/secrets"
)

// TestSaveKeepsModeAndOwner: saving keeps the keystore's mode and (run as root, as CI runs)
// its owner and group, so a rotation run as root leaves the service able to read it.
func TestSaveKeepsModeAndOwner(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ks.p12")
	s, err := Open(ctx, path, Config{Password: "changeit", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	if root {
		if err := os.Chown(path, 4242, 4343); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Generate(ctx, "k", secrets.KeySpec{Kind: secrets.KindAES}, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v after save, want 0640", st.Mode().Perm())
	}
	if !root {
		t.Skip("the owner is kept where the process may chown: run as root (as CI does) to check it")
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != 4242 || sys.Gid != 4343 {
		t.Errorf("owner %d:%d after save, want 4242:4343", sys.Uid, sys.Gid)
	}
}
