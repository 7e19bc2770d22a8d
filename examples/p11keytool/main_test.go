package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/internal/p11test"
)

func TestMain(m *testing.M) { p11test.Main(m) }

// p11 runs the command in-process and returns its output and exit code.
func p11(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestUsageAndBadInput(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "bad.cfg")
	os.WriteFile(conf, []byte("name = x\nlibrary = /nonexistent/lib.so\nslot = 1\nslot = 2\n"), 0o600)
	good := filepath.Join(dir, "good.cfg")
	os.WriteFile(good, []byte("name = x\nlibrary = /nonexistent/lib.so\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{nil, 2, "Usage: p11keytool <command>"},
		{[]string{"-h"}, 0, "idm-defaults"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"list", "-h"}, 0, "-pin-env"},
		{[]string{"list", "-nosuchflag"}, 2, "flag provided but not defined"},
		{[]string{"list", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"list"}, 1, "no token: give -providerArg"},
		{[]string{"list", "-providerArg", conf, "-uri", "pkcs11:token=x"}, 1, "not both"},
		{[]string{"list", "-providerArg", conf, "-storepass", "1234"}, 1, "shows in ps and shell history"},
		{[]string{"list", "-providerArg", good, "-pin-env", "P11KEYTOOL_TEST_UNSET"}, 1, "P11KEYTOOL_TEST_UNSET (the token's user PIN) is not set"},
		{[]string{"list", "-providerArg", good, "-pin-file", filepath.Join(dir, "nope")}, 1, "PIN file"},
		{[]string{"list", "-providerArg", filepath.Join(dir, "missing.cfg"), "-pin-env", "HOME"}, 1, "missing.cfg"},
		{[]string{"list", "-providerArg", conf, "-pin-env", "HOME"}, 1, "bad.cfg:4"},
		{[]string{"list", "-uri", "http://x", "-pin-env", "HOME"}, 1, "not a pkcs11: URI"},
		{[]string{"list", "-uri", "pkcs11:token=x?module-path=/nonexistent/lib.so&pin-value=1234"}, 1, "pin-value is not accepted"},
		{[]string{"list", "-uri", "PKCS11:token=x;PIN-VALUE=1234", "-library", "/nonexistent/lib.so"}, 1, "pin-value is not accepted"},
		{[]string{"genseckey", "-providerArg", conf}, 1, "-alias is required"},
		{[]string{"genseckey", "-alias", "a", "-keyalg", "DES"}, 1, `-keyalg "DES"`},
		{[]string{"genseckey", "-alias", "a", "-keysize", "128"}, 1, "at least 256 bits"},
		{[]string{"genkeypair", "-alias", "a", "-keysize", "1024"}, 1, "RSA takes 2048, 3072 or 4096"},
		{[]string{"genkeypair", "-alias", "a", "-dname", "CN=x, FOO=y"}, 1, `unknown attribute "FOO"`},
		{[]string{"genkeypair", "-alias", "a", "-validity", "0"}, 1, "positive number of days"},
		{[]string{"importcert", "-alias", "a"}, 1, "-alias and -file are required"},
		{[]string{"importcert", "-alias", "a", "-file", filepath.Join(dir, "none.cer")}, 1, "none.cer"},
		{[]string{"importkeystore"}, 1, "-srckeystore is required"},
		{[]string{"importkeystore", "-srckeystore", "x", "-destalias", "b"}, 1, "-destalias needs -srcalias"},
		{[]string{"idm-defaults", "-uri", "pkcs11:token=x"}, 1, "give -providerArg"},
		{[]string{"idm-defaults", "-providerArg", conf, "-overwrite", "-keep-existing"}, 1, "not both"},
		{[]string{"delete"}, 1, "-alias is required"},
	} {
		_, stderr, code := p11(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("p11keytool %q: exit %d, stderr:\n%s\nwant exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

// TestURIPINValueRefused: a PIN in -uri is refused, as -storepass is, and not echoed, even
// in a URI that is not well formed.
func TestURIPINValueRefused(t *testing.T) {
	for _, uri := range []string{"pkcs11:token=x?pin-value=86420975", "pkcs11:token=x;Pin-Value=86420975", "pkcs11 :token=x;pin-value=86420975"} {
		_, stderr, code := p11(t, "list", "-uri", uri, "-library", "/nonexistent/lib.so")
		if code != 1 || strings.Contains(stderr, "86420975") {
			t.Errorf("-uri %q: exit %d, stderr:\n%s", uri, code, stderr)
		}
	}
}

func TestParseDN(t *testing.T) {
	n, err := parseDN(`CN=localhost, O=OpenIDM Self-Signed Certificate, OU="a, b", L=x\,y, ST=None, C=US`)
	if err != nil {
		t.Fatal(err)
	}
	if n.CommonName != "localhost" || n.Organization[0] != "OpenIDM Self-Signed Certificate" || n.OrganizationalUnit[0] != "a, b" ||
		n.Locality[0] != "x,y" || n.Province[0] != "None" || n.Country[0] != "US" {
		t.Fatalf("parseDN: %+v", n)
	}
	for _, bad := range []string{"", "CN", "CN=", `CN="x`, "CN=x,,O=y"} {
		if _, err := parseDN(bad); err == nil {
			t.Errorf("parseDN(%q): no error", bad)
		}
	}
}
