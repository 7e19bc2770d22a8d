// Package testenv decides whether a test that needs an external tool runs, skips or fails.
//
// A test that needs a tool (SoftHSM, opencryptoki, tpm2-pkcs11, NSS, Java, p11-kit, jwcrypto,
// Node, Chromium) calls Require with the tool's name. Where the tool is missing the test
// skips with the reason, unless the SECRETSTORES_REQUIRE environment variable names the tool
// (or says "all"): then it fails, so that a CI run cannot turn green by skipping what it was
// meant to test.
package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Tool names accepted in SECRETSTORES_REQUIRE.
const (
	SoftHSM  = "softhsm"
	Java     = "java"
	P11Kit   = "p11kit"
	JWCrypto = "jwcrypto"
	Node     = "node"
	Chromium = "chromium"
	OpenSC   = "opensc" // pkcs11-tool and the pkcs11-spy.so call logger

	// PKCS#11 modules of the module matrix (internal/p11test).
	OpenCryptoki = "opencryptoki" // pkcsslotd, pkcsconf and the soft token
	TPM2         = "tpm2"         // tpm2-pkcs11 over swtpm + tpm2-abrmd
	NSS          = "nss"          // NSS softokn and certutil
	Pyca         = "pyca"         // python3-cryptography with its test vectors (python3-cryptography-vectors)
)

// Required reports whether SECRETSTORES_REQUIRE names tool (or "all").
func Required(tool string) bool {
	for _, f := range strings.FieldsFunc(os.Getenv("SECRETSTORES_REQUIRE"), func(r rune) bool {
		return r == ',' || r == ' '
	}) {
		if f == "all" || f == tool {
			return true
		}
	}
	return false
}

// Missing ends the test because tool is unavailable: a skip with reason, or a failure when
// SECRETSTORES_REQUIRE names the tool.
func Missing(tb testing.TB, tool, reason string) {
	tb.Helper()
	if Required(tool) {
		tb.Fatalf("%s is required (SECRETSTORES_REQUIRE=%q) but unavailable: %s", tool, os.Getenv("SECRETSTORES_REQUIRE"), reason)
	}
	tb.Skipf("%s unavailable, skipping: %s (set SECRETSTORES_REQUIRE=%s to make this a failure)", tool, reason, tool)
}

// LookPath returns the path of the executable name, or ends the test through Missing.
func LookPath(tb testing.TB, tool, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, tool, name+" not found on PATH")
	}
	return p
}
