//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// IDM's HSM secrets.json (mainKeyStore and mainTrustStore on one token) opens with one call.
const hsmSecretsJSON = `{
  "stores": [
    {
      "name": "mainKeyStore",
      "class": "org.forgerock.openidm.secrets.config.HsmBasedStore",
      "config": {
        "storetype": "PKCS11",
        "providerName": "SunPKCS11-softHSM",
        "storePassword": "&{openidm.keystore.password|changeit}",
        "mappings": [
          {"secretId": "idm.jwt.session.module.signing", "types": ["SIGN", "VERIFY"], "aliases": ["openidm-jwtsessionhmac-key"]},
          {"secretId": "idm.default", "types": ["ENCRYPT", "DECRYPT"], "aliases": ["openidm-sym-default"]}
        ]
      }
    },
    {
      "name": "mainTrustStore",
      "class": "org.forgerock.openidm.secrets.config.HsmBasedStore",
      "config": {
        "storetype": "PKCS11",
        "providerName": "SunPKCS11-softHSM",
        "storePassword": "&{openidm.truststore.password|changeit}",
        "mappings": []
      }
    }
  ],
  "populateDefaults": false
}`

func TestHsmBasedStoreOpener(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.New(t, "idm")
	dir := t.TempDir()
	conf := tok.WriteSunPKCS11Config(t, "softHSM")
	// What IDM's guide adds to java.security (numbered 13 on JDK 17, see pkcs11.md §4),
	// merged over a master file with providers 1..12.
	master := ""
	for i := 1; i <= 12; i++ {
		master += "security.provider." + itoa(i) + "=Provider" + itoa(i) + "\n"
	}
	os.WriteFile(filepath.Join(dir, "master.security"), []byte(master), 0o600)
	os.WriteFile(filepath.Join(dir, "java.security"), []byte("security.provider.13=SunPKCS11 "+conf+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "secrets.json"), []byte(hsmSecretsJSON), 0o600)

	setup := open(t, tok)
	gen(t, setup, "openidm-jwtsessionhmac-key", secrets.KeySpec{Kind: secrets.KindSecret, Extractable: true})
	gen(t, setup, "openidm-sym-default", secrets.KeySpec{Kind: secrets.KindSecret, Extractable: true})

	props := secrets.PropertiesFunc(func(name string) (string, bool) {
		if name == "openidm.keystore.password" || name == "openidm.truststore.password" {
			return tok.PIN, true
		}
		return "", false
	})
	cfg, err := secrets.LoadConfig(filepath.Join(dir, "secrets.json"), props)
	if err != nil {
		t.Fatal(err)
	}
	openers := secrets.Openers{secrets.ClassHSM: hsmstore.NewOpener(hsmstore.OpenerOptions{JavaSecurity: []string{"master.security", "java.security"}})}
	p, err := secrets.Open(ctx, cfg, openers, secrets.ProviderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign)
	if err != nil {
		t.Fatal(err)
	}
	if s.Store() != "mainKeyStore" {
		t.Fatalf("store %q", s.Store())
	}
	if _, err := s.MAC(ctx, crypto.SHA256, []byte("jwt")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Active(ctx, "idm.default", secrets.Encrypt); err != nil {
		t.Fatal(err)
	}

	// A provider name that java.security lacks, and a direct config path.
	sc := &secrets.StoreConfig{Name: "x", Class: secrets.ClassHSM, Dir: dir, Settings: map[string]any{"providerName": "SunPKCS11-other", "storePassword": tok.PIN}}
	if _, err := openers[secrets.ClassHSM](ctx, sc); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("unknown provider: %v", err)
	}
	direct, err := hsmstore.NewOpener(hsmstore.OpenerOptions{ConfigPath: conf})(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if direct.Name() != "x" {
		t.Fatal(direct.Name())
	}
	direct.Close()
	sc.Settings["storePassword"] = "wrong"
	if _, err := hsmstore.NewOpener(hsmstore.OpenerOptions{ConfigPath: conf})(ctx, sc); !errors.Is(err, secrets.ErrWrongPIN) {
		t.Fatalf("wrong storePassword: %v", err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}
