package hsmstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPINFile: the PIN file's content minus one trailing newline; an unreadable PIN file (a
// directory) or one over the limit is an error, never an empty or cut PIN that would cost a
// C_Login; the URI's pin-source reads the same way.
func TestPINFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "pin")
	if err := os.WriteFile(good, []byte("12 34\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("9", maxPINFile+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, c := range []Config{{Library: "/x.so", PINFile: good}, {URI: "pkcs11:token=t?module-path=/x.so&pin-source=file:" + good}} {
		_, _, pin, err := c.resolve()
		if err != nil || pin != "12 34" {
			t.Errorf("config %d: PIN %q, %v", i, pin, err)
		}
	}
	for _, c := range []Config{
		{Library: "/x.so", PINFile: dir},
		{Library: "/x.so", PINFile: big},
		{Library: "/x.so", PINFile: filepath.Join(dir, "missing")},
		{URI: "pkcs11:token=t?module-path=/x.so&pin-source=" + dir},
	} {
		if _, _, pin, err := c.resolve(); err == nil {
			t.Errorf("PINFile %q, URI %q: PIN %q and no error", c.PINFile, c.URI, pin)
		}
	}
}
