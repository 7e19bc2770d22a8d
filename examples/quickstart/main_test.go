package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretstores/secretstores/internal/clilog"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
)

func TestMain(m *testing.M) { softhsmtest.Main(m) }

func quick(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// wantSteps checks that a run went through every step and names the store of each key.
func wantSteps(t *testing.T, out, store string) {
	t.Helper()
	for _, want := range []string{
		"key openidm-sym-default from mainKeyStore (" + store,
		`"$crypto":{"type":"x-simple-encryption"`,
		`decrypted with the key its stableId names: "Passw0rd"`,
		"HS256 signature by openidm-jwtsessionhmac-key from mainKeyStore (" + store,
		"a tampered payload is refused",
		`token for "openidm-admin"`,
		"encrypted for openidm-localhost from mainKeyStore (" + store,
		`data made under openidm-sym-default still decrypts: "Passw0rd"`,
		"re-encrypted /password: openidm-sym-default -> quickstart-rotated-key",
		"Done in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestKeystoreFile(t *testing.T) {
	data := t.TempDir()
	out, errs, code := quick(t, "-data", data)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	wantSteps(t, out, "PKCS#12 file keystore.p12")
	if !strings.Contains(out, "Created "+filepath.Join(data, "security", "keystore.p12")+" with IDM's default keys") ||
		!strings.Contains(out, "Data directory: "+data) || !strings.Contains(out, "generated quickstart-rotated-key") {
		t.Errorf("first run:\n%s", out)
	}
	// Java's keytool reads the keystore it made (a failure without keytool under
	// SECRETSTORES_REQUIRE=java or all, rather than a silent pass).
	if kt, err := exec.LookPath("keytool"); err != nil {
		if testenv.Required(testenv.Java) {
			t.Errorf("keytool is required (SECRETSTORES_REQUIRE) but unavailable: %v", err)
		} else {
			t.Log("keytool not found: the keystore is not checked with Java")
		}
	} else {
		jout, err := exec.Command(kt, "-list", "-keystore", filepath.Join(data, "security", "keystore.p12"), "-storepass", "changeit").CombinedOutput()
		if err != nil || !strings.Contains(string(jout), "Your keystore contains 6 entries") {
			t.Errorf("keytool -list: %v\n%s", err, jout)
		}
	}
	// The second run reuses the keystore and the rotated key.
	out, errs, code = quick(t, "-data", data)
	if code != 0 {
		t.Fatalf("second run: exit %d: %s\n%s", code, errs, out)
	}
	wantSteps(t, out, "PKCS#12 file keystore.p12")
	if !strings.Contains(out, "Reused ") || !strings.Contains(out, "reusing quickstart-rotated-key") {
		t.Errorf("second run:\n%s", out)
	}
	// A wrong keystore password is a clear error.
	t.Setenv("OPENIDM_KEYSTORE_PASSWORD", "not-changeit")
	if _, errs, code := quick(t, "-data", data); code != 1 || !strings.Contains(errs, "wrong PIN or password") {
		t.Errorf("wrong password: exit %d: %s", code, errs)
	}
}

func TestSoftHSM(t *testing.T) {
	if _, err := softhsmtest.Module(); err != nil {
		testenv.Missing(t, testenv.SoftHSM, err.Error())
	}
	testenv.LookPath(t, testenv.SoftHSM, "softhsm2-util")
	out, errs, code := quick(t, "-softhsm", "-data", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	wantSteps(t, out, `PKCS#11 token "quickstart"`)
}

// TestLogLinesOnlyWithV: the library's informational log lines ("hsmstore: logged in") are
// printed only with -v.
func TestLogLinesOnlyWithV(t *testing.T) {
	if _, err := softhsmtest.Module(); err != nil {
		testenv.Missing(t, testenv.SoftHSM, err.Error())
	}
	testenv.LookPath(t, testenv.SoftHSM, "softhsm2-util")
	logs := clilog.Capture(t)
	if out, errs, code := quick(t, "-softhsm", "-data", t.TempDir()); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	if s := logs.String(); strings.Contains(s, "hsmstore: logged in") {
		t.Errorf("quickstart without -v printed the library's log lines:\n%s", s)
	}
	if out, errs, code := quick(t, "-softhsm", "-v", "-data", t.TempDir()); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	if s := logs.String(); !strings.Contains(s, "INFO hsmstore: logged in token=quickstart") {
		t.Errorf("quickstart -v did not print the library's log lines:\n%q", s)
	}
}

func TestPKCS11WithoutKeys(t *testing.T) {
	tok := softhsmtest.New(t, "empty")
	conf := tok.WriteSunPKCS11Config(t, "softHSM")
	t.Setenv("QUICKSTART_TEST_PIN", tok.PIN)
	_, errs, code := quick(t, "-pkcs11", conf, "-pin-env", "QUICKSTART_TEST_PIN", "-data", t.TempDir())
	if code != 1 || !strings.Contains(errs, "p11keytool idm-defaults") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "Usage: quickstart"},
		{[]string{"-nosuch"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-softhsm", "-pkcs11", "x"}, 1, "not both"},
		{[]string{"-pin-env", "X"}, 1, "go with -pkcs11"},
		{[]string{"-pkcs11", "x.cfg"}, 1, "needs the PIN"},
		{[]string{"-pkcs11", "x.cfg", "-pin-env", "QUICKSTART_UNSET_VAR"}, 1, "QUICKSTART_UNSET_VAR (-pin-env) is not set"},
		{[]string{"-pkcs11", "x.cfg", "-pin-file", "/nonexistent/pin"}, 1, "-pin-file"},
		{[]string{"-pkcs11", filepath.Join(t.TempDir(), "none.cfg"), "-pin-env", "HOME"}, 1, "none.cfg"},
	} {
		_, errs, code := quick(t, append(tc.args, "-data", t.TempDir())...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("quickstart %q: exit %d, stderr:\n%s\nwant %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

// TestREADMECommand runs README's first command as a newcomer would, in a fresh home: the
// built program must finish within 10 seconds.
func TestREADMECommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "quickstart")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	home := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if d := time.Since(start); err != nil || d > 10*time.Second {
		t.Fatalf("quickstart: %v after %s\n%s", err, d, out)
	}
	if !strings.Contains(string(out), "Data directory: "+filepath.Join(home, ".cache", "secretstores-quickstart")) {
		t.Fatalf("data directory not named:\n%s", out)
	}
	wantSteps(t, string(out), "PKCS#12 file keystore.p12")
}
