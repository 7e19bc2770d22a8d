package hsmstore

import (
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	u, err := parseURI("pkcs11:token=My%20Token;serial=abc;slot-id=7;object=k;type=private?module-path=/usr/lib/x.so&pin-value=1234")
	if err != nil {
		t.Fatal(err)
	}
	if u.sel.label != "My Token" || u.sel.serial != "abc" || u.sel.slotID == nil || *u.sel.slotID != 7 || u.modulePath != "/usr/lib/x.so" || u.pinValue != "1234" {
		t.Fatalf("%+v", u)
	}
	if _, err := parseURI("pkcs11:slot-id=x"); err == nil {
		t.Fatal("bad slot-id accepted")
	}
}

// FuzzParseURI: no panic, and an error never echoes what a pin-* attribute holds (a PIN
// written SECRETPIN anywhere in one, with or without '=').
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"pkcs11:", "pkcs11:token=a;serial=b", "pkcs11:token=%41?pin-value=zz", "pkcs11:=", "pkcs11:;;;", "pkcs11:slot-id=99999999999999999999999",
		"pkcs11:token=a;pin-value:SECRETPIN", "pkcs11:token=a?PIN-Value:SECRETPIN&x=1", "pkcs11:?pin-value=SECRETPIN&pin-value=SECRETPIN", "pkcs11:pin-vaule=SECRETPIN", "pkcs11:pin-value=SECRETPIN%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseURI(s)
		if err != nil && u != nil {
			t.Fatal("result with error")
		}
		if err == nil || !strings.Contains(err.Error(), "SECRETPIN") {
			return
		}
		rest := s[min(len(s), len("pkcs11:")):]
		for _, attr := range strings.FieldsFunc(rest, func(r rune) bool { return r == ';' || r == '?' || r == '&' }) {
			if strings.Contains(attr, "SECRETPIN") && !isPINAttr(attr) {
				return // SECRETPIN sits in another attribute's name, which errors may show
			}
		}
		t.Fatalf("error echoes a PIN attribute: %v", err)
	})
}
