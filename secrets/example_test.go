package secrets_test

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/jsoncrypto"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

// A Provider over an in-memory store: the signing key of a secret id is found by purpose.
func Example() {
	ctx := context.Background()
	store := secretstest.NewMemoryStore("keys")
	if _, err := store.Generate(ctx, "hmac-2026", secrets.KeySpec{Kind: secrets.KindSecret}, false); err != nil {
		log.Fatal(err)
	}
	p, err := secrets.NewProvider([]secrets.Store{store}, []secrets.Mapping{{
		SecretID: "app.signing",
		Types:    []secrets.Purpose{secrets.Sign, secrets.Verify},
		Aliases:  []string{"hmac-2026"},
	}}, secrets.ProviderOptions{})

	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	key, err := p.Active(ctx, "app.signing", secrets.Sign)
	if err != nil {
		log.Fatal(err)
	}
	tag, err := key.MAC(ctx, crypto.SHA256, []byte("hello"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.Store(), key.Alias(), key.Kind(), len(tag))

	// The mapping gives no ENCRYPT purpose to app.signing.
	_, err = p.Active(ctx, "app.signing", secrets.Encrypt)
	fmt.Println(errors.Is(err, secrets.ErrNoMapping))
	// Output:
	// keys hmac-2026 secret 32
	// true
}

// Rotation: the new alias goes first in the mapping. New data is sealed with it; data sealed
// under the old alias still opens, because every mapped alias is valid for DECRYPT.
func Example_rotation() {
	ctx := context.Background()
	store := secretstest.NewMemoryStore("keys")
	for _, alias := range []string{"aes-2025", "aes-2026"} {
		if _, err := store.Generate(ctx, alias, secrets.KeySpec{Kind: secrets.KindAES}, false); err != nil {
			log.Fatal(err)
		}
	}
	provider := func(aliases ...string) *secrets.Provider {
		p, err := secrets.NewProvider([]secrets.Store{store}, []secrets.Mapping{{
			SecretID: "app.data", Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: aliases,
		}}, secrets.ProviderOptions{})

		if err != nil {
			log.Fatal(err)
		}
		return p
	}

	before := provider("aes-2025")
	k, _ := before.Active(ctx, "app.data", secrets.Encrypt)
	old, _ := k.Seal(ctx, []byte("sealed in 2025"), nil)

	after := provider("aes-2026", "aes-2025")
	k, _ = after.Active(ctx, "app.data", secrets.Encrypt)
	fmt.Println("active:", k.Alias())

	valid, _ := after.Valid(ctx, "app.data", secrets.Decrypt)
	for _, v := range valid {
		pt, err := v.Open(ctx, old, nil)
		if errors.Is(err, secrets.ErrVerification) {
			fmt.Println(v.Alias(), "does not open it")
			continue
		}
		fmt.Printf("%s opens it: %s\n", v.Alias(), pt)
	}
	// Output:
	// active: aes-2026
	// aes-2026 does not open it
	// aes-2025 opens it: sealed in 2025
}

// LoadConfig reads IDM's secrets.json, expanding &{name|default} expressions; Open opens its
// stores with the openers for their classes (here filestore's, for keystore files) and returns
// a Provider with the file's mappings. populateDefaults creates IDM's default keys.
func ExampleLoadConfig() {
	dir, err := os.MkdirTemp("", "secrets-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	conf := `{"stores": [{"name": "mainKeyStore",
	   "class": "org.forgerock.openidm.secrets.config.KeyStoreSecretStore",
	   "config": {"file": "&{openidm.keystore.location|keystore.p12}", "storetype": "PKCS12",
	     "storePassword": "&{openidm.keystore.password|changeit}",
	     "mappings": [{"secretId": "idm.password.encryption", "types": ["ENCRYPT", "DECRYPT"],
	                   "aliases": ["&{openidm.config.crypto.alias|openidm-sym-default}"]}]}}],
	  "populateDefaults": true}`
	path := filepath.Join(dir, "secrets.json")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		log.Fatal(err)
	}

	// Properties from a map here; nil means the environment.
	props := secrets.MapProperties(map[string]string{"openidm.keystore.password": "s3cret"})
	cfg, err := secrets.LoadConfig(path, props)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	p, err := secrets.Open(ctx, cfg, filestore.Openers(filestore.OpenerOptions{}), secrets.ProviderOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	k, err := p.Active(ctx, "idm.password.encryption", secrets.Encrypt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Stores[0].Name, cfg.Stores[0].Settings["file"], k.Alias(), k.Kind())
	// Output:
	// mainKeyStore keystore.p12 openidm-sym-default AES
}

// A $crypto value, as IDM stores an encrypted password in its configuration, made and read
// with the key the Provider gives the secret id (package jsoncrypto).
func Example_crypto() {
	ctx := context.Background()
	store := secretstest.NewMemoryStore("mainKeyStore")
	if _, err := store.Generate(ctx, "openidm-sym-default", secrets.KeySpec{Kind: secrets.KindAES, Bits: 128, Extractable: true}, false); err != nil {
		log.Fatal(err)
	}
	p, err := secrets.NewProvider([]secrets.Store{store}, secrets.IDMMappings("mainKeyStore"), secrets.ProviderOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	v, err := jsoncrypto.Encrypt(ctx, p, "idm.password.encryption", "Passw0rd")
	if err != nil {
		log.Fatal(err)
	}
	pw, err := jsoncrypto.Decrypt(ctx, p, "idm.password.encryption", v)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(pw))
	// Output:
	// "Passw0rd"
}

// A login session in IDM's session-jwt cookie (package jwtsession), signed and encrypted with
// the keys IDM's mappings give the two session secret ids.
func Example_sessionCookie() {
	ctx := context.Background()
	store := secretstest.NewMemoryStore("mainKeyStore")
	for alias, spec := range map[string]secrets.KeySpec{
		"openidm-jwtsessionhmac-key": {Kind: secrets.KindSecret, Extractable: true},
		"openidm-localhost":          {Kind: secrets.KindRSA, Bits: 2048},
	} {
		if _, err := store.Generate(ctx, alias, spec, false); err != nil {
			log.Fatal(err)
		}
	}
	p, err := secrets.NewProvider([]secrets.Store{store}, secrets.IDMMappings("mainKeyStore"), secrets.ProviderOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	sessions, err := jwtsession.New(p, jwtsession.Config{}) // IDM's defaults
	if err != nil {
		log.Fatal(err)
	}
	cookie, err := sessions.Issue(ctx, jwtsession.Claims{Principal: "bjensen"})
	if err != nil {
		log.Fatal(err)
	}
	s, err := sessions.Validate(ctx, cookie)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Principal, s.SigningKey, s.EncryptionKey)
	// Output:
	// bjensen openidm-jwtsessionhmac-key openidm-localhost
}
