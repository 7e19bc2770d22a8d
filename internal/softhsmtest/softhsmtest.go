// Package softhsmtest creates throw-away SoftHSM2 tokens for tests.
//
// SoftHSM reads its configuration file (SOFTHSM2_CONF) once per process, when the module is
// first initialised, and never notices tokens that another process creates after that. So a
// test binary sets up one token directory for the whole process, from TestMain:
//
//	func TestMain(m *testing.M) { softhsmtest.Main(m) }
//
// Main points SOFTHSM2_CONF at a fresh temporary directory, runs the tests and removes the
// directory. Tests then call New for a token of their own. Create tokens before a test opens
// the module (or after every store on it is closed, so that the module is finalised): a
// module that is already initialised in this process does not see new tokens. Child processes
// (keytool, pkcs11-tool) inherit SOFTHSM2_CONF and see every token.
//
// When SoftHSM is not installed, New ends the test through testenv.Missing: a skip, or a
// failure when SECRETSTORES_REQUIRE names "softhsm".
package softhsmtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/secretstores/secretstores/internal/softhsm"
	"github.com/secretstores/secretstores/internal/testenv"
)

// Default PINs of the tokens New creates.
const (
	PIN   = "1234"
	SOPIN = "5678"
)

// EnvModule names the environment variable that overrides where the SoftHSM module is.
const EnvModule = softhsm.EnvModule

// Module returns the path of the SoftHSM2 PKCS#11 module: $SOFTHSM2_MODULE when set, else the
// first of the usual install locations that exists.
func Module() (string, error) { return softhsm.Module() }

var state struct {
	mu      sync.Mutex
	dir     string // the process's token directory root; "" before Main/Setup
	conf    string
	err     error
	counter int
}

// Setup points SOFTHSM2_CONF at a fresh temporary directory for this process and returns a
// function that removes it. Main calls it; call it yourself from a TestMain that does more.
// A missing SoftHSM is not an error here: New reports it per test.
func Setup() (cleanup func(), err error) {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.dir != "" {
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "softhsmtest-")
	if err != nil {
		return nil, err
	}
	tokdir := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokdir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := "directories.tokendir = " + tokdir + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	old, had := os.LookupEnv("SOFTHSM2_CONF")
	os.Setenv("SOFTHSM2_CONF", conf)
	state.dir, state.conf = dir, conf
	return func() {
		state.mu.Lock()
		defer state.mu.Unlock()
		if had {
			os.Setenv("SOFTHSM2_CONF", old)
		} else {
			os.Unsetenv("SOFTHSM2_CONF")
		}
		os.RemoveAll(dir)
		state.dir, state.conf = "", ""
	}, nil
}

// Main sets up SoftHSM for this test binary (Setup), runs the tests and exits. Call it from
// TestMain.
func Main(m *testing.M) {
	cleanup, err := Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "softhsmtest:", err)
		os.Exit(2)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// A Token is an initialised SoftHSM2 token with a user PIN.
type Token struct {
	Module string // path of libsofthsm2.so
	Label  string
	Serial string // token serial number (16 hex digits)
	SlotID uint   // slot ID after SoftHSM's renumbering (for a SunPKCS11 "slot =" line)
	PIN    string // user PIN
	SOPIN  string
	Conf   string // the process's SOFTHSM2_CONF
}

var slotRE = regexp.MustCompile(`reassigned to slot (\d+)`)

// New initialises a fresh token labelled label plus a unique suffix (label "" means "test")
// in the process's token directory, with PIN and SOPIN. It needs Main or Setup to have run.
// The token lives until the process's directory is removed.
func New(tb testing.TB, label string) *Token {
	tb.Helper()
	mod, err := Module()
	if err != nil {
		testenv.Missing(tb, testenv.SoftHSM, err.Error())
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		testenv.Missing(tb, testenv.SoftHSM, "softhsm2-util not found on PATH")
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.dir == "" {
		tb.Fatal("softhsmtest: call softhsmtest.Main(m) (or Setup) from TestMain: SOFTHSM2_CONF is per process")
	}
	if label == "" {
		label = "test"
	}
	state.counter++
	label = label + "-" + strconv.Itoa(state.counter)
	if len(label) > 32 {
		tb.Fatalf("softhsmtest: token label %q longer than 32 bytes", label)
	}
	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", SOPIN, "--pin", PIN)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("softhsmtest: softhsm2-util --init-token: %v\n%s", err, out)
	}
	m := slotRE.FindSubmatch(out)
	if m == nil {
		tb.Fatalf("softhsmtest: softhsm2-util did not say which slot: %s", out)
	}
	id, _ := strconv.ParseUint(string(m[1]), 10, 64)
	tok := &Token{Module: mod, Label: label, SlotID: uint(id), PIN: PIN, SOPIN: SOPIN, Conf: state.conf}
	tok.Serial, err = serialOf(util, label)
	if err != nil {
		tb.Fatalf("softhsmtest: %v", err)
	}
	return tok
}

// serialOf reads the serial of the token labelled label from softhsm2-util --show-slots.
func serialOf(util, label string) (string, error) {
	out, err := exec.Command(util, "--show-slots").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("softhsm2-util --show-slots: %v: %s", err, out)
	}
	var serial string
	for _, line := range bytes.Split(out, []byte("\n")) {
		line = bytes.TrimSpace(line)
		switch {
		case bytes.HasPrefix(line, []byte("Serial number:")):
			serial = string(bytes.TrimSpace(bytes.TrimPrefix(line, []byte("Serial number:"))))
		case bytes.HasPrefix(line, []byte("Label:")):
			if string(bytes.TrimSpace(bytes.TrimPrefix(line, []byte("Label:")))) == label {
				return serial, nil
			}
		}
	}
	return "", errors.New("token " + label + " not listed by softhsm2-util --show-slots")
}

// SunPKCS11Config returns the text of a SunPKCS11 configuration for the token, named name,
// with the attribute templates PingIDM's HSM guide uses so that secret keys are extractable
// and not sensitive (what IDM needs for its HMAC and $crypto keys), plus extra lines.
func (t *Token) SunPKCS11Config(name string, extra ...string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "name = %s\nlibrary = %s\nslot = %d\n", name, t.Module, t.SlotID)
	b.WriteString("attributes(*, CKO_SECRET_KEY, *) = {\n  CKA_EXTRACTABLE = true\n  CKA_SENSITIVE = false\n}\n")
	for _, l := range extra {
		b.WriteString(l)
		b.WriteString("\n")
	}
	return b.String()
}

// WriteSunPKCS11Config writes SunPKCS11Config to a file in tb's temp dir and returns its path.
func (t *Token) WriteSunPKCS11Config(tb testing.TB, name string, extra ...string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name+".cfg")
	if err := os.WriteFile(p, []byte(t.SunPKCS11Config(name, extra...)), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}
