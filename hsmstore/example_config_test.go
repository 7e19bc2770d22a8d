package hsmstore_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/pkcs11conf"
)

// The SunPKCS11 configuration given to keytool becomes a Config: the same module, the same
// token and the same attribute templates. The PIN is not in the file; Java passes it as the
// keystore password.
func ExampleConfigFromSunPKCS11() {
	const conf = `
name = softHSM
library = /usr/lib/softhsm/libsofthsm2.so
slot = 1
#secretstores: tokenLabel = "idm-test"
attributes(*, CKO_SECRET_KEY, *) = {
   CKA_EXTRACTABLE = true
}
`
	pc, err := pkcs11conf.Parse(strings.NewReader(conf))
	if err != nil {
		log.Fatal(err)
	}
	cfg := hsmstore.ConfigFromSunPKCS11(pc)
	cfg.PINEnv = "HSM_PIN"
	fmt.Println(cfg.Name, cfg.Library, cfg.TokenLabel, cfg.SlotID == nil, len(cfg.Templates))
	// Output:
	// SunPKCS11-softHSM /usr/lib/softhsm/libsofthsm2.so idm-test true 1
}
