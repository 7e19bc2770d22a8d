// Command quickstart shows the secretstores Provider at work: IDM's secrets.json mappings over
// a store holding IDM's default keys, a config value encrypted and decrypted, a payload signed
// and verified, and a key rotation after which old data still opens.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"crypto"
	_ "embed"
	"fmt"
	"log"
	"os"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

//go:embed secrets.json
var secretsJSON []byte

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	cfg, err := secrets.ParseConfig(secretsJSON, secrets.Layered(secrets.EnvProperties(),
		secrets.MapProperties(map[string]string{"idm.install.dir": "."})))
	if err != nil {
		return err
	}
	// An in-memory store holding IDM's default keys stands in for the keystore file.
	openMemory := func(ctx context.Context, sc *secrets.StoreConfig) (secrets.Store, error) {
		m := secretstest.NewMemoryStore(sc.Name)
		if sc.Name == "mainKeyStore" {
			for alias, spec := range map[string]secrets.KeySpec{
				"openidm-sym-default":        {Kind: secrets.KindAES, Bits: 256},
				"openidm-selfservice-key":    {Kind: secrets.KindAES, Bits: 256},
				"openidm-jwtsessionhmac-key": {Kind: secrets.KindSecret, Bits: 256},
			} {
				if _, err := m.Generate(ctx, alias, spec); err != nil {
					return nil, err
				}
			}
		}
		return m, nil
	}
	p, err := secrets.Open(ctx, cfg, secrets.Openers{secrets.ClassFileBased: openMemory}, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	out := os.Stdout

	enc, err := p.Active(ctx, "idm.config.encryption", secrets.Encrypt)
	if err != nil {
		return err
	}
	sealed, err := enc.Seal(ctx, []byte(`{"password":"Passw0rd"}`), []byte("conf/sync.json"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "encrypted a config value with %s from %s (%d bytes)\n", enc.Alias(), enc.Store(), len(sealed))
	dec, err := p.Named(ctx, "idm.config.encryption", secrets.Decrypt, enc.Alias())
	if err != nil {
		return err
	}
	plain, err := dec.Open(ctx, sealed, []byte("conf/sync.json"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "decrypted it with %s: %s\n", dec.Alias(), plain)

	sig, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign)
	if err != nil {
		return err
	}
	tag, err := sig.MAC(ctx, crypto.SHA256, []byte("payload"))
	if err != nil {
		return err
	}
	ver, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Verify)
	if err != nil {
		return err
	}
	if err := ver.VerifyMAC(ctx, crypto.SHA256, []byte("payload"), tag); err != nil {
		return err
	}
	fmt.Fprintf(out, "signed and verified a payload with %s (HMAC-SHA256) from %s\n", sig.Alias(), sig.Store())

	// Rotation: a new key goes first in the mapping; the old one stays valid for decryption.
	store := p.Stores()[0]
	if _, err := store.(secrets.Generator).Generate(ctx, "openidm-sym-2026", secrets.KeySpec{Kind: secrets.KindAES, Bits: 256}); err != nil {
		return err
	}
	rotated, err := secrets.NewProvider(p.Stores(), []secrets.Mapping{{
		Store: "mainKeyStore", SecretID: "idm.config.encryption",
		Types:   []secrets.Purpose{secrets.Encrypt, secrets.Decrypt},
		Aliases: []string{"openidm-sym-2026", enc.Alias()},
	}}, nil)
	if err != nil {
		return err
	}
	defer rotated.Close()
	active, err := rotated.Active(ctx, "idm.config.encryption", secrets.Encrypt)
	if err != nil {
		return err
	}
	old, err := rotated.Named(ctx, "idm.config.encryption", secrets.Decrypt, enc.Alias())
	if err != nil {
		return err
	}
	plain, err = old.Open(ctx, sealed, []byte("conf/sync.json"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "rotated: new data uses %s; data made under %s still decrypts: %s\n", active.Alias(), old.Alias(), plain)
	return nil
}
