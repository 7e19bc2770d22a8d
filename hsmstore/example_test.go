//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"fmt"
	"log"
	"os"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/secrets"
)

// Open a token by label and compute an HMAC with the key IDM signs its JWT sessions with,
// inside the token.
func ExampleOpen() {
	ctx := context.Background()
	s, err := hsmstore.Open(ctx, hsmstore.Config{
		Library:    "/usr/lib/softhsm/libsofthsm2.so",
		TokenLabel: "idm",
		PINEnv:     "HSM_PIN",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	p, err := secrets.NewProvider([]secrets.Store{s}, []secrets.Mapping{
		{SecretID: "idm.jwt.session.module.signing", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"openidm-jwtsessionhmac-key"}},
	}, secrets.ProviderOptions{})

	if err != nil {
		log.Fatal(err)
	}
	key, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign)
	if err != nil {
		log.Fatal(err)
	}
	tag, err := key.MAC(ctx, crypto.SHA256, []byte("header.payload"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(tag))
}

// Open the token of the SunPKCS11 configuration that keytool and IDM use; the PIN is the
// keystore password.
func ExampleOpenSunPKCS11() {
	ctx := context.Background()
	s, err := hsmstore.OpenSunPKCS11(ctx, "/path/to/pkcs11.conf", os.Getenv("HSM_PIN"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	aliases, err := s.Aliases(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(aliases)
}

// Open IDM's secrets.json with HsmBasedStore stores, finding the SunPKCS11 provider in the
// JDK's java.security plus the file IDM's start script passes with
// -Djava.security.properties.
func ExampleNewOpener() {
	ctx := context.Background()
	cfg, err := secrets.LoadConfig("conf/secrets.json", secrets.MapProperties(map[string]string{
		"openidm.keystore.password": os.Getenv("HSM_PIN"),
	}))
	if err != nil {
		log.Fatal(err)
	}
	master := "/usr/lib/jvm/java-17-openjdk-amd64/conf/security/java.security"
	p, err := secrets.Open(ctx, cfg, secrets.Openers{
		secrets.ClassHSM: hsmstore.NewOpener(hsmstore.OpenerOptions{JavaSecurity: []string{master, "conf/hsm.java.security"}}),
	}, secrets.ProviderOptions{})

	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
}

// Generate the keys of IDM's HSM guide in keytool's layout, from Go.
func ExampleStore_Generate() {
	ctx := context.Background()
	s, err := hsmstore.OpenSunPKCS11(ctx, "/path/to/pkcs11.conf", os.Getenv("HSM_PIN"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for _, alias := range []string{"openidm-sym-default", "openidm-selfservice-key", "openidm-jwtsessionhmac-key"} {
		if _, err := s.Generate(ctx, alias, secrets.KeySpec{Kind: secrets.KindSecret, Extractable: true}, false); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := s.Generate(ctx, "openidm-localhost", secrets.KeySpec{Kind: secrets.KindRSA, Bits: 2048}, false); err != nil {
		log.Fatal(err)
	}
}
