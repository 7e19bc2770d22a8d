package pkcs11conf_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/pkcs11conf"
)

// The configuration from PingIDM's HSM documentation, for SoftHSM. keytool -genseckey imports
// secret keys (it generates them in software), so the "import" template is what applies to
// them; on-token generation adds CKA_TOKEN = true.
func Example() {
	const conf = `
name = softHSM
library = /usr/lib/softhsm/libsofthsm2.so
slot = 1
# Not a JDK keyword: the JDK skips this comment, Go selects the token by label.
#secretstores: tokenLabel = "idm-test"
attributes(generate, *, *) = {
   CKA_TOKEN = true
}
attributes(generate, CKO_CERTIFICATE, *) = {
   CKA_PRIVATE = false
}
attributes(generate, CKO_PUBLIC_KEY, *) = {
   CKA_PRIVATE = false
}
attributes(*, CKO_SECRET_KEY, *) = {
   CKA_PRIVATE = false
   CKA_EXTRACTABLE = true
}
`
	cfg, err := pkcs11conf.Parse(strings.NewReader(conf))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.ProviderName(), cfg.Library, cfg.SlotID, cfg.TokenLabel)
	for _, op := range []pkcs11conf.Operation{pkcs11conf.OpImport, pkcs11conf.OpGenerate} {
		fmt.Println(op, cfg.Template(op, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_GENERIC_SECRET))
	}

	_, err = pkcs11conf.Parse(strings.NewReader(conf + "slotListIndex = 0\n"))
	fmt.Println(errors.Is(err, pkcs11conf.ErrConflict), err)
	// Output:
	// SunPKCS11-softHSM /usr/lib/softhsm/libsofthsm2.so 1 idm-test
	// import [CKA_PRIVATE = false CKA_EXTRACTABLE = true]
	// generate [CKA_TOKEN = true CKA_PRIVATE = false CKA_EXTRACTABLE = true]
	// true pkcs11conf: config:20:1: only one of slot and slotListIndex must be specified (slot is a slot ID (see softhsm2-util --show-slots), slotListIndex an index into the slot list; keep one)
}

// A java.security override file as in IDM's HSM documentation: JDK 17 defines providers 1 to
// 12, so security.provider.14 sits behind a gap and is never loaded.
func ExampleParseJavaSecurity() {
	const master = "security.provider.1=SUN\nsecurity.provider.2=SunRsaSign\n"
	const override = "security.provider.4=SunPKCS11 /opt/idm/security/pkcs11.cfg\n"
	js, err := pkcs11conf.ParseJavaSecurity(strings.NewReader(master+override), "java.security")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(js.Providers), len(js.SunPKCS11()))
	for _, w := range js.Warnings {
		fmt.Println(w)
	}
	// Output:
	// 2 0
	// pkcs11conf: java.security:3: security.provider.4=SunPKCS11 /opt/idm/security/pkcs11.cfg is ignored by the JDK: there is no non-empty security.provider.3 (the JDK reads security.provider.1, .2, ... and stops at the first missing number, 3; number it security.provider.3)
}
