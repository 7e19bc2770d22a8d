package hsmstore

import (
	"context"
	"strings"
	"testing"
)

// A mistyped PIN attribute in a pkcs11: URI never shows in an error: before, "pin-value:4711-secret"
// gave `attribute "pin-value:4711-secret" has no '='`. An unknown pin-* attribute is an error too
// (its PIN would otherwise be ignored and the login fail).
func TestSecurity9PINNotInURIErrors(t *testing.T) {
	for _, uri := range []string{
		"pkcs11:token=a;pin-value:4711-secret",
		"pkcs11:token=a?pin-value:4711-secret",
		"pkcs11:token=a?module-path=/x.so&PIN-VALUE:4711-secret",
		"pkcs11:token=a?pin-value4711-secret",
		"pkcs11:token=a?pin-vaule=4711-secret",
		"pkcs11:token=a?pin_value=4711-secret",
		"pkcs11:token=a?pinvalue=4711-secret",
		"pkcs11:token=a?pin-source:/run/4711-secret",
		"pkcs11:token=a?pin-value%3A4711-secret",
		"pkcs11:token=a?%70in-value:4711-secret",
		"pkcs11:token=a?pin-value 4711-secret",
		"pkcs11:token=a?pin-value=4711-secret&pin-value=4711-secret",
		"pkcs11:token=a?pin-value=4711-secret%zz",
		"pkcs11:token=a;pin-value:" + strings.Repeat("4711-secret", 10),
	} {
		_, err := parseURI(uri)
		if err == nil {
			t.Errorf("%s: accepted", uri)
			continue
		}
		if strings.Contains(err.Error(), "4711") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the PIN: %v", uri, err)
		}
		// and through Open, as a user meets it
		_, err = Open(context.Background(), Config{URI: uri, Library: "/nonexistent/module.so"})
		if err == nil || strings.Contains(err.Error(), "4711") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: Open: %v", uri, err)
		}
	}
	// other attributes are still named, to help fix them
	if _, err := parseURI("pkcs11:token=a;serial"); err == nil || !strings.Contains(err.Error(), `"serial"`) {
		t.Errorf("a non-PIN attribute is named: %v", err)
	}
	// well-formed PIN attributes still work
	u, err := parseURI("pkcs11:token=a?pin-value=4711-secret")
	if err != nil || u.pinValue != "4711-secret" {
		t.Fatalf("%+v %v", u, err)
	}
}
