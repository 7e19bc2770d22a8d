// Package softhsm finds the SoftHSM2 PKCS#11 module at run time, for tests (softhsmtest) and
// for examples that make a throw-away token, without linking package testing into them.
package softhsm

import (
	"fmt"
	"os"
)

// EnvModule names the environment variable that overrides where the SoftHSM module is.
const EnvModule = "SOFTHSM2_MODULE"

// candidates are the usual places of libsofthsm2.so (Debian/Ubuntu, multiarch, /usr/local,
// Fedora/RHEL, macOS Homebrew).
var candidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/lib/pkcs11/libsofthsm2.so",
	"/usr/lib64/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
	"/usr/local/opt/softhsm/lib/softhsm/libsofthsm2.so",
}

// Module returns the path of the SoftHSM2 PKCS#11 module: $SOFTHSM2_MODULE when set, else the
// first of the usual install locations that exists.
func Module() (string, error) {
	if p := os.Getenv(EnvModule); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("softhsm: %s=%s: %w", EnvModule, p, err)
		}
		return p, nil
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("softhsm: libsofthsm2.so not found (set %s)", EnvModule)
}
