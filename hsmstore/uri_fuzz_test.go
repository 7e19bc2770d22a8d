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

// FuzzParseURI: no panic, and an error never echoes a pin-value.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"pkcs11:", "pkcs11:token=a;serial=b", "pkcs11:token=%41?pin-value=zz", "pkcs11:=", "pkcs11:;;;", "pkcs11:slot-id=99999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseURI(s)
		if err != nil && u != nil {
			t.Fatal("result with error")
		}
		if err != nil && strings.Contains(s, "pin-value=SECRETPIN") && strings.Contains(err.Error(), "SECRETPIN") {
			t.Fatal("error echoes the PIN")
		}
	})
}
