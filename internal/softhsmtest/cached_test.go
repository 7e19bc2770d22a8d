//go:build cgo

package softhsmtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/internal/softhsmtest"
)

// TestCached: a cached token is built (fill runs once, into the cache directory), copied into
// this process's token directory (softhsm2-util lists it with its serial) with its objects,
// and the cache holds only the finished build.
func TestCached(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(softhsmtest.EnvCache, cache)
	calls := 0
	tok := softhsmtest.Cached(t, "cachedtest-v1", "cachedtest", func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		calls++
		for _, l := range []string{"a", "b", "c"} {
			if _, err := p.CreateObject(sh, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, l),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE, []byte(l)),
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if calls != 1 {
		t.Fatalf("fill ran %d times", calls)
	}
	if tok.Label != "cachedtest" || len(tok.Serial) != 16 || tok.PIN != softhsmtest.PIN {
		t.Fatalf("token %+v", tok)
	}
	out, err := exec.Command("softhsm2-util", "--show-slots").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Label:            cachedtest") || !strings.Contains(string(out), tok.Serial) {
		t.Fatalf("softhsm2-util --show-slots does not list the token: %v\n%s", err, out)
	}
	objs, _ := filepath.Glob(filepath.Join(cache, "cachedtest-v1", "tokens", "*", "*.object"))
	if len(objs) != 4 { // token.object and the three data objects
		t.Fatalf("cache holds %d object files, want 4: %v", len(objs), objs)
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries, want only the finished token", len(entries))
	}
}
