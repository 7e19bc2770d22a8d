package hsmstore

import (
	"strings"
	"testing"
)

// TestURIPINAttrEncodedOrMistyped: a PIN attribute whose name is percent-encoded in upper
// case (%50IN-value) or in its middle (p%69n-value), or mistyped so that it does not start
// with "pin" (pni-value), and written without '=', was quoted whole in the error, PIN
// included; with '=' a percent-encoded pin-value was dropped without a word. The text of an
// attribute without '=' is shown only as far as it is a known attribute name, and a name that
// decodes to pin-* is a PIN attribute.
func TestURIPINAttrEncodedOrMistyped(t *testing.T) {
	for _, uri := range []string{
		"pkcs11:token=a?%50IN-value:4711-secret",
		"pkcs11:token=a?p%69n-value:4711-secret",
		"pkcs11:token=a;P%49N-VALUE:4711-secret",
		"pkcs11:token=a?pni-value:4711-secret",
		"pkcs11:token=a?p%69n-value=4711-secret",
		"pkcs11:token=a?%50in-value=4711-secret",
		"pkcs11:token=a?p%zzn-value:4711-secret",
	} {
		_, err := parseURI(uri)
		if err == nil {
			t.Errorf("%s: accepted (the PIN would be dropped)", uri)
			continue
		}
		if strings.Contains(err.Error(), "4711") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the PIN: %v", uri, err)
		}
	}
	// A known attribute written without '=' is still named, to help fix it.
	if _, err := parseURI("pkcs11:token=a;serial:123"); err == nil || !strings.Contains(err.Error(), `"serial"`) || strings.Contains(err.Error(), "123") {
		t.Errorf("a known attribute without '=': %v", err)
	}
}
