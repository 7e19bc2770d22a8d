package jsoncrypto

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

// Values made by an independent Python implementation (testdata/keysize/gen.py) with
// keySize in bytes, in bits, and absent (then the AES key is as long as the key).
func TestKeySizeForms(t *testing.T) {
	data, err := os.ReadFile("testdata/keysize/keysize_values.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Keys  map[string]string
		Cases []struct {
			Name, Alias string
			Plaintext   json.RawMessage
			Value       json.RawMessage
		}
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	st := secretstest.NewMemoryStore("mainKeyStore")
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	for alias, h := range fx.Keys {
		k, _ := hex.DecodeString(h)
		kind := secrets.KindAES
		if len(k) == 20 {
			kind = secrets.KindSecret
		}
		if _, err := st.Import(ctx, alias, secrets.KeyMaterial{Kind: kind, Secret: k, Extractable: true}, false); err != nil {
			t.Fatal(err)
		}
	}
	// One mapping with every alias (the first is active; all are valid).
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{{SecretID: "idm.password.encryption",
		Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: []string{"k16", "k24", "k32", "k20"}}}, secrets.ProviderOptions{})

	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := codec(t, p, &Options{SecretIDs: []string{"idm.password.encryption"}})
	if len(fx.Cases) < 7 {
		t.Fatalf("%d cases", len(fx.Cases))
	}
	for _, tc := range fx.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			pt, err := c.Decrypt(ctx, tc.Value)
			if tc.Alias == "k20" {
				if !errors.Is(err, secrets.ErrWrongKind) {
					t.Fatalf("a 20-byte key without keySize: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			json.Unmarshal(pt, &got)
			json.Unmarshal(tc.Plaintext, &want)
			if string(mustJSON(got)) != string(mustJSON(want)) {
				t.Fatalf("got %s, want %s", pt, tc.Plaintext)
			}
		})
	}
	// keySize values outside both ranges are malformed.
	for _, bad := range []string{"8", "64", "130", "512", "17", "0"} {
		v := tamper(t, fx.Cases[0].Value, "keySize", bad)
		if _, err := c.Decrypt(ctx, v); !errors.Is(err, ErrMalformed) {
			t.Errorf("keySize %s: %v", bad, err)
		}
	}
	// Encrypt keeps writing bytes.
	v, err := c.Encrypt(ctx, "idm.password.encryption", "x")
	if err != nil {
		t.Fatal(err)
	}
	if ks := valueOf(t, v)["keySize"]; ks != float64(16) && ks != json.Number("16") && ks != "16" {
		t.Fatalf("keySize written as %v (%T)", ks, ks)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
