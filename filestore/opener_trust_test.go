package filestore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/secretstores/secretstores/secrets"
)

// IDM's default secrets.json with populateDefaults on PKCS12 files: the keystore gets the
// five default keys, the truststore openidm-localhost's certificate.
func TestOpenerPopulatesTrustStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	conf := `{"stores": [
	  {"name": "mainKeyStore", "class": "org.forgerock.openidm.secrets.config.KeyStoreSecretStore",
	   "config": {"file": "security/keystore.p12", "storetype": "PKCS12", "storePassword": "changeit", "mappings": []}},
	  {"name": "mainTrustStore", "class": "org.forgerock.openidm.secrets.config.KeyStoreSecretStore",
	   "config": {"file": "security/truststore.p12", "storetype": "PKCS12", "storePassword": "changeit", "mappings": []}}],
	 "populateDefaults": true}`
	if err := os.MkdirAll(filepath.Join(dir, "security"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "secrets.json")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ { // the second open finds everything in place
		cfg, err := secrets.LoadConfig(path, secrets.MapProperties(nil))
		if err != nil {
			t.Fatal(err)
		}
		p, err := secrets.Open(ctx, cfg, Openers(OpenerOptions{AESBits: 128}), secrets.ProviderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stores := p.Stores()
		ks, ts := stores[0], stores[1]
		aliases, _ := ks.Aliases(ctx)
		if len(aliases) != len(DefaultAliases) {
			t.Fatalf("keystore has %v", aliases)
		}
		key, err := ks.Entry(ctx, AliasLocalhost)
		if err != nil {
			t.Fatal(err)
		}
		aliases, _ = ts.Aliases(ctx)
		if len(aliases) != 1 || aliases[0] != AliasLocalhost {
			t.Fatalf("truststore has %v", aliases)
		}
		trusted, err := ts.Entry(ctx, AliasLocalhost)
		if err != nil {
			t.Fatal(err)
		}
		if trusted.Kind() != secrets.KindCertificate || !trusted.Chain()[0].Equal(key.Chain()[0]) {
			t.Fatal("the truststore does not hold openidm-localhost's certificate")
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
