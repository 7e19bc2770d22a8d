package jsoncrypto_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/jsoncrypto"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

// newStore returns an in-memory store with two generated keys, standing in for a keystore
// file or an HSM.
func newStore(ctx context.Context) *secretstest.MemoryStore {
	m := secretstest.NewMemoryStore("mainKeyStore")
	for _, alias := range []string{"openidm-sym-default", "openidm-sym-2026"} {
		m.Generate(ctx, alias, secrets.KeySpec{Kind: secrets.KindAES, Bits: 128, Extractable: true}, false)
	}
	return m
}

func Example() {
	ctx := context.Background()
	store := newStore(ctx)
	p, _ := secrets.NewProvider([]secrets.Store{store}, []secrets.Mapping{{
		SecretID: "idm.password.encryption",
		Types:    []secrets.Purpose{secrets.Encrypt, secrets.Decrypt},
		Aliases:  []string{"openidm-sym-default"},
	}}, secrets.ProviderOptions{})

	defer p.Close()

	v, err := jsoncrypto.Encrypt(ctx, p, "idm.password.encryption", "Passw0rd")
	if err != nil {
		panic(err)
	}
	info, _ := jsoncrypto.Inspect(v)
	fmt.Println(info.Type, info.Cipher, info.Alias)

	pt, _ := jsoncrypto.Decrypt(ctx, p, "idm.password.encryption", v)
	fmt.Println(string(pt))
	// Output:
	// x-simple-encryption AES/CBC/PKCS5Padding openidm-sym-default
	// "Passw0rd"
}

// Rotation: data made under the old alias keeps decrypting once the new alias is first in
// the mapping; Reencrypt moves it to the new alias; CheckRetire says when the old alias may
// go.
func Example_rotation() {
	ctx := context.Background()
	store := newStore(ctx)
	mapping := func(aliases ...string) *secrets.Provider {
		p, _ := secrets.NewProvider([]secrets.Store{store}, []secrets.Mapping{{
			SecretID: "idm.config.encryption",
			Types:    []secrets.Purpose{secrets.Encrypt, secrets.Decrypt},
			Aliases:  aliases,
		}}, secrets.ProviderOptions{})

		return p
	}
	before := mapping("openidm-sym-default")
	c, _ := jsoncrypto.New(before, jsoncrypto.Options{})
	conf, _, _ := c.EncryptDocument(ctx, []byte(`{"host": "ldap", "credentials": "s3cret"}`),
		"idm.config.encryption", "/credentials")

	after := mapping("openidm-sym-2026", "openidm-sym-default")
	docs := map[string][]byte{"conf/provisioner.json": conf}
	err := jsoncrypto.CheckRetire("openidm-sym-default", docs)
	fmt.Println(errors.Is(err, jsoncrypto.ErrAliasInUse))

	// The Codec that reads values names the secret ids they may use.
	c, _ = jsoncrypto.New(after, jsoncrypto.Options{SecretIDs: []string{"idm.config.encryption"}})
	conf, changes, _ := c.Reencrypt(ctx, conf)
	for _, ch := range changes {
		fmt.Println(ch.Pointer, ch.Action, ch.OldAlias, "->", ch.NewAlias)
	}
	docs["conf/provisioner.json"] = conf
	fmt.Println(jsoncrypto.CheckRetire("openidm-sym-default", docs))

	plain, _, _ := c.DecryptDocument(ctx, conf)
	fmt.Println(string(plain))
	// Output:
	// true
	// /credentials reencrypted openidm-sym-default -> openidm-sym-2026
	// <nil>
	// {"host": "ldap", "credentials": "s3cret"}
}

func ExampleVerifyHash() {
	v, _ := jsoncrypto.Hash("Passw0rd", jsoncrypto.HashOptions{Cost: 4})
	fmt.Println(jsoncrypto.VerifyHash(v, "Passw0rd", jsoncrypto.VerifyHashOptions{}))
	fmt.Println(errors.Is(jsoncrypto.VerifyHash(v, "guess", jsoncrypto.VerifyHashOptions{}), secrets.ErrVerification))

	// A salted SHA-256 hash as OpenIDM stores it.
	idm := []byte(`{"$crypto":{"type":"salted-hash","value":{"algorithm":"SHA-256",` +
		`"data":"N4MWE2SO7FEpyxmhgqXrRxbHZHGMIiDyLhPQ4ITL9EMAAAAAAAAAAAAAAAAAAAAA"}}}`)
	fmt.Println(jsoncrypto.VerifyHash(idm, "Passw0rd", jsoncrypto.VerifyHashOptions{}))
	// Output:
	// <nil>
	// true
	// <nil>
}

func ExampleSign() {
	ctx := context.Background()
	store := secretstest.NewMemoryStore("keys")
	store.Generate(ctx, "signing-2026", secrets.KeySpec{Kind: secrets.KindSecret}, false)
	p, _ := secrets.NewProvider([]secrets.Store{store}, []secrets.Mapping{{
		SecretID: "app.signing", Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"signing-2026"},
	}}, secrets.ProviderOptions{})

	defer p.Close()

	sig, _ := jsoncrypto.Sign(ctx, p, "app.signing", []byte("report.pdf contents"))
	fmt.Println(sig.Alias, sig.Algorithm)
	fmt.Println(jsoncrypto.Verify(ctx, p, "app.signing", sig, []byte("report.pdf contents")))
	// Output:
	// signing-2026 HS256
	// <nil>
}
