package jsoncrypto

// Regression tests for the jsoncrypto items of issue 13 (security review): each failed on
// the code before its fix.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// recordSteps runs fn with testHook set and returns the steps it took and its error.
func recordSteps(fn func() error) ([]string, error) {
	var steps []string
	testHook = func(s string) { steps = append(steps, s) }
	defer func() { testHook = nil }()
	err := fn()
	return steps, err
}

// idmDecryptIDs are the secret ids IDM's default secrets.json maps for DECRYPT: what a tool
// reading a whole IDM project allows.
func idmDecryptIDs(store string) []string {
	var ids []string
	for _, m := range secrets.IDMMappings(store) {
		if slices.Contains(m.Types, secrets.Decrypt) {
			ids = append(ids, m.SecretID)
		}
	}
	return ids
}

// idmProvider is IDM's default mappings over the fixture's store, with openidm-localhost
// (IDM's TLS key, mapped for DECRYPT as idm.jwt.session.module.encryption) added; it returns
// that key's public half: all an attacker has.
func idmProvider(t *testing.T, f *fixture) (*secrets.Provider, *rsa.PublicKey) {
	t.Helper()
	km, err := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindRSA})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Import(f.ctx, "openidm-localhost", km, false); err != nil {
		t.Fatal(err)
	}
	return f.provider(t, secrets.IDMMappings(f.store.Name())...), &km.Private.(*rsa.PrivateKey).PublicKey
}

// TestSecurityItem1ForgeryWithPublicKey (issue 13, item 1): a value built from the public
// key of openidm-localhost alone, in json-crypto's asymmetric form, naming the JWT session
// encryption purpose, decrypted to the attacker's plaintext with no error. Now the caller
// states the secret ids a value may name, and the asymmetric form is refused unless
// Options.AllowAsymmetric says otherwise, before any key is looked up or used.
func TestSecurityItem1ForgeryWithPublicKey(t *testing.T) {
	f := newFixture(t)
	p, pub := idmProvider(t, f)
	forged := asymValueFor(t, pub, "openidm-localhost", "idm.jwt.session.module.encryption",
		"RSA/ECB/PKCS1Padding", []byte(`"attacker's choice"`), nil)

	// A service that expects a password value.
	steps, err := recordSteps(func() error {
		pt, err := Decrypt(f.ctx, p, "idm.password.encryption", forged)
		if err == nil {
			t.Errorf("a value forged with the public key decrypted to %s", pt)
		}
		return err
	})
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), `"idm.jwt.session.module.encryption"`) ||
		!strings.Contains(err.Error(), "Options.SecretIDs") {
		t.Errorf("forged value naming another secret id: %v", err)
	}
	if len(steps) != 0 {
		t.Errorf("a refused value reached the keys: %v", steps)
	}

	// A tool reading a whole IDM project allows every DECRYPT id: the form is refused.
	all := codec(t, p, &Options{SecretIDs: idmDecryptIDs(f.store.Name())})
	steps, err = recordSteps(func() error { _, err := all.Decrypt(f.ctx, forged); return err })
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "Options.AllowAsymmetric") {
		t.Errorf("asymmetric form without AllowAsymmetric: %v", err)
	}
	if slices.Contains(steps, "Secret.Decrypt") || len(steps) != 0 {
		t.Errorf("the RSA key was used on a refused value: %v", steps)
	}
	doc := []byte(`{"password":` + string(forged) + `}`)
	if _, _, err := all.DecryptDocument(f.ctx, doc); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("DecryptDocument: %v", err)
	}
	if _, _, err := all.Reencrypt(f.ctx, doc); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("Reencrypt: %v", err)
	}

	// What Options.AllowAsymmetric's doc says: it gives no authenticity.
	open := codec(t, p, &Options{SecretIDs: []string{"idm.jwt.session.module.encryption"}, AllowAsymmetric: true})
	if got, err := open.DecryptString(f.ctx, forged); err != nil || got != "attacker's choice" {
		t.Errorf("with AllowAsymmetric: %q %v", got, err)
	}
	// A value without "purpose" is idm.default's (IDM's rule), which must be allowed too.
	noPurpose := asymValue(t, pub, "openidm-localhost", "RSA/ECB/PKCS1Padding", []byte(`"x"`), nil)
	if _, err := open.Decrypt(f.ctx, noPurpose); !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "DefaultSecretID") {
		t.Errorf("no purpose, idm.default not allowed: %v", err)
	}
	// An empty allow-list refuses everything, naming the field.
	if _, err := codec(t, p, &Options{SecretIDs: []string{}}).Decrypt(f.ctx, forged); !errors.Is(err, ErrNotAllowed) ||
		!strings.Contains(err.Error(), "Options.SecretIDs is empty") {
		t.Errorf("empty SecretIDs: %v", err)
	}
	// The symmetric form is unaffected for the ids allowed.
	good, err := Encrypt(f.ctx, p, "idm.password.encryption", "Passw0rd")
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := Decrypt(f.ctx, p, "idm.password.encryption", good); err != nil || string(pt) != `"Passw0rd"` {
		t.Errorf("IDM value: %s %v", pt, err)
	}
	if _, err := Decrypt(f.ctx, p, "idm.config.encryption", good); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("a password value read as a config value: %v", err)
	}
}

// TestAsymmetricSameStepsSameError: with AllowAsymmetric, a session key that unwraps and a
// value whose MAC is wrong, a wrapped key with bad RSA padding, and one of the wrong length
// take the same steps (one RSA decryption, one MAC check) and fail with the same error:
// neither shows whether the RSA padding was good (Bleichenbacher).
func TestAsymmetricSameStepsSameError(t *testing.T) {
	f := newFixture(t)
	p, pub := idmProvider(t, f)
	c := codec(t, p, &Options{SecretIDs: []string{DefaultSecretID, "idm.jwt.session.module.encryption"}, AllowAsymmetric: true})
	const id = "idm.jwt.session.module.encryption"
	for _, jc := range []string{"RSA/ECB/PKCS1Padding", "RSA/ECB/OAEPWithSHA-256AndMGF1Padding"} {
		good := asymValueFor(t, pub, "openidm-localhost", id, jc, []byte(`"s3cret"`), nil)
		badMAC := flip(t, good, "mac", 0)
		garbage := make([]byte, pub.Size())
		rand.Read(garbage)
		garbage[0] = 0
		badPad := asymValueFor(t, pub, "openidm-localhost", id, jc, []byte(`"s3cret"`), garbage)
		short, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte("short"))
		if jc != "RSA/ECB/PKCS1Padding" {
			opts, _ := rsaOptions(jc)
			short = oaepEncrypt(t, pub, []byte("short"), opts.(*rsa.OAEPOptions))
		}
		shortKey := asymValueFor(t, pub, "openidm-localhost", id, jc, []byte(`"s3cret"`), short)

		run := func(v []byte) ([]string, error) {
			return recordSteps(func() error { _, err := c.Decrypt(f.ctx, v); return err })
		}
		okSteps, err := run(good)
		if err != nil {
			t.Fatalf("%s: %v", jc, err)
		}
		want := []string{"Secret.Decrypt", "mac", "cbc"}
		if !slices.Equal(okSteps, want) {
			t.Fatalf("%s: valid value took %v, want %v", jc, okSteps, want)
		}
		macSteps, macErr := run(badMAC)
		for name, v := range map[string][]byte{"bad RSA padding": badPad, "short session key": shortKey} {
			steps, err := run(v)
			if !slices.Equal(steps, macSteps) || !slices.Equal(steps, want[:2]) {
				t.Errorf("%s %s: steps %v, a bad MAC's %v", jc, name, steps, macSteps)
			}
			if !errors.Is(err, secrets.ErrVerification) || err.Error() != macErr.Error() {
				t.Errorf("%s %s: error %v, a bad MAC's %v", jc, name, err, macErr)
			}
		}
	}
}

// legacyValue is the pre-2016 form of data (already CBC-encrypted with keyA and iv).
func legacyValue(iv, data []byte) []byte {
	enc := base64.StdEncoding
	return []byte(fmt.Sprintf(`{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","key":%q,"iv":%q,"data":%q}}}`,
		aliasA, enc.EncodeToString(iv), enc.EncodeToString(data)))
}

// legacyTrio returns three legacy values of about n bytes: one that decrypts (a JSON string),
// and two that differ from each other only in the last byte of their plaintext, as a
// padding-oracle attacker's queries do: one with good padding (0x01) over text that is not
// JSON (a string without its closing quote), one with bad padding (0x00).
func legacyTrio(t testing.TB, n int) (good, badJSON, badPad []byte) {
	t.Helper()
	iv := make([]byte, 16)
	ct, err := cbcEncrypt(keyA, iv, []byte(`"`+strings.Repeat("a", n-2)+`"`))
	if err != nil {
		t.Fatal(err)
	}
	raw := func(last byte) []byte {
		pt := []byte(`"` + strings.Repeat("a", (n+15)/16*16-2) + string(last))
		b, err := aes.NewCipher(keyA)
		if err != nil {
			t.Fatal(err)
		}
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(pt, pt)
		return legacyValue(iv, pt)
	}
	return legacyValue(iv, ct), raw(0x01), raw(0x00)
}

// TestSecurityItem5LegacyRefusedByDefault (issue 13, item 5): the unauthenticated legacy
// form was read by default; now only with Options.AllowLegacy, which the error names.
func TestSecurityItem5LegacyRefusedByDefault(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(DefaultSecretID, aliasA))
	good, _, _ := legacyTrio(t, 40)
	steps, err := recordSteps(func() error { _, err := Decrypt(f.ctx, p, DefaultSecretID, good); return err })
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "Options.AllowLegacy") || len(steps) != 0 {
		t.Errorf("legacy value by default: %v (steps %v)", err, steps)
	}
	if _, _, err := codec(t, p, nil).DecryptDocument(f.ctx, []byte(`[`+string(good)+`]`)); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("DecryptDocument: %v", err)
	}
	c := codec(t, p, &Options{AllowLegacy: true})
	if got, err := c.DecryptString(f.ctx, good); err != nil || got != strings.Repeat("a", 38) {
		t.Errorf("AllowLegacy: %q %v", got, err)
	}
	if info, err := Inspect(good); err != nil || !info.Legacy {
		t.Errorf("Inspect: %+v %v", info, err)
	}
}

// TestSecurityItem5LegacySameStepsSameError (issue 13, item 5): in the legacy form, a value
// whose padding is bad skipped the JSON check that a value with good padding ran: the
// padding showed in the time taken (a CBC padding oracle). Now a good value, good padding
// over bad JSON, and bad padding take the same steps, and the two failures return the same
// error.
func TestSecurityItem5LegacySameStepsSameError(t *testing.T) {
	f := newFixture(t)
	c := codec(t, f.provider(t, mapping(DefaultSecretID, aliasA)), &Options{AllowLegacy: true})
	for _, n := range []int{16, 40, 4096} {
		good, badJSON, badPad := legacyTrio(t, n)
		run := func(v []byte) ([]string, error) {
			return recordSteps(func() error { _, err := c.Decrypt(f.ctx, v); return err })
		}
		goodSteps, err := run(good)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		jsonSteps, errJSON := run(badJSON)
		padSteps, errPad := run(badPad)
		want := []string{"Secret.Export", "cbc", "json"}
		if !slices.Equal(goodSteps, want) || !slices.Equal(jsonSteps, want) || !slices.Equal(padSteps, want) {
			t.Errorf("%d bytes: steps differ: good %v, bad JSON %v, bad padding %v (want %v)", n, goodSteps, jsonSteps, padSteps, want)
		}
		if !errors.Is(errJSON, secrets.ErrVerification) || errPad == nil || errJSON.Error() != errPad.Error() {
			t.Errorf("%d bytes: errors differ: bad JSON %v, bad padding %v", n, errJSON, errPad)
		}
	}
}

// TestSecurityItem8FoldedMembersRefused (issue 13, item 8): the MAC input has no separators,
// so "keySize":16,"purpose":"X" folded into one member "keySize16purpose":"X" kept the MAC
// valid, and the value, now without "purpose", fell back to the default secret id. Unknown
// members are refused now, in the "key" object too.
func TestSecurityItem8FoldedMembersRefused(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(idConfig, aliasA), mapping(DefaultSecretID, aliasA))
	c := codec(t, p, nil)
	v, err := c.Encrypt(f.ctx, idConfig, "x")
	if err != nil {
		t.Fatal(err)
	}
	folded := []byte(strings.Replace(string(v), `"purpose":"idm.config.encryption","keySize":16`,
		`"keySize16purpose":"idm.config.encryption"`, 1))
	if string(folded) == string(v) {
		t.Fatalf("unexpected shape: %s", v)
	}
	pt, err := c.Decrypt(f.ctx, folded)
	if err == nil {
		t.Fatalf("a value with folded members decrypted to %s", pt)
	}
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `unknown field "keySize16purpose"`) {
		t.Errorf("folded members: %v", err)
	}
	if _, err := Inspect(folded); !errors.Is(err, ErrMalformed) {
		t.Errorf("Inspect: %v", err)
	}
	if _, err := Scan([]byte(`{"a":` + string(folded) + `}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("Scan: %v", err)
	}
	km, _ := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindRSA})
	asym := asymValue(t, &km.Private.(*rsa.PrivateKey).PublicKey, "rsa", "RSA/ECB/PKCS1Padding", []byte(`"x"`), nil)
	extra := []byte(strings.Replace(string(asym), `"key":{"cipher"`, `"key":{"x":"y","cipher"`, 1))
	if _, err := Inspect(extra); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `"key" object`) {
		t.Errorf("unknown member in the key object: %v", err)
	}
}

// idmDocumentedValues are x-simple-encryption values as PingIDM 8.1 prints them, copied
// from its documentation (setup guide, "Command-line interface", cli.sh encrypt; and the
// key-rotation example's managed user), where IDM made them with its own default key. The
// key is not published: they cannot be decrypted here, but they must pass the parser and
// reach the MAC check.
var idmDocumentedValues = []string{`{
  "$crypto" : {
    "type" : "x-simple-encryption",
    "value" : {
      "cipher" : "AES/CBC/PKCS5Padding",
      "stableId" : "openidm-sym-default",
      "salt" : "vdz6bUztiT6QsExNrZQAEA==",
      "data" : "RgMLRbX0guxF80nwrtaZkkoFFGqSQdNWF7Ve0zS+N1I=",
      "keySize" : 16,
      "purpose" : "idm.config.encryption",
      "iv" : "R9w1TcWfbd9FPmOjfvMhZQ==",
      "mac" : "9pXtSKAt9+dO3Mu0NlrJsQ=="
    }
  }
}`, `{
          "$crypto" : {
            "type" : "x-simple-encryption",
            "value" : {
              "cipher" : "AES/CBC/PKCS5Padding",
              "stableId" : "openidm-sym-default",
              "salt" : "CVrKDuzfzunXfTDbCwU1Rw==",
              "data" : "1I5tWT5aRH/12hf5DgofXA==",
              "keySize" : 16,
              "purpose" : "idm.password.encryption",
              "iv" : "LGE+jnC3ZtyvrE5pfuSvtA==",
              "mac" : "BEXQ1mftxA63dXhJO6dDZQ=="
            }
          }
        }`}

// TestSecurityItem8IDMValuesAccepted: the member check refuses nothing IDM writes: values
// printed by PingIDM 8.1 pass the parser and fail only at the MAC under a key that is not
// IDM's; values made by the independent JCE implementation decrypt (TestJavaCrossCheck).
func TestSecurityItem8IDMValuesAccepted(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, secrets.IDMMappings(f.store.Name())...)
	c := codec(t, p, &Options{SecretIDs: idmDecryptIDs(f.store.Name())})
	for _, v := range idmDocumentedValues {
		info, err := Inspect([]byte(v))
		if err != nil || info.Alias != "openidm-sym-default" || info.Legacy || info.Asymmetric {
			t.Errorf("Inspect: %+v %v", info, err)
		}
		if _, err := c.Decrypt(f.ctx, []byte(v)); !errors.Is(err, secrets.ErrVerification) || !strings.Contains(err.Error(), "MAC") {
			t.Errorf("an IDM value under another key: want a MAC failure, got %v", err)
		}
	}
}

// TestSecurityItem4VerifyBindsSecretID (issue 13, item 4): Verify took the secret id from
// the signature: a partner's signature, made with its own key mapped here for VERIFY,
// verified where the caller expected its own secret id; and a signature for one secret id
// verified for another mapping the same key. Now the caller names the secret id it expects,
// and the secret id is part of what is signed.
func TestSecurityItem4VerifyBindsSecretID(t *testing.T) {
	f := newFixture(t)
	for alias, spec := range map[string]secrets.KeySpec{"partner": {Kind: secrets.KindEC}, "app": {Kind: secrets.KindSecret}} {
		if _, err := f.store.Generate(f.ctx, alias, spec, false); err != nil {
			t.Fatal(err)
		}
	}
	m := func(id string, types []secrets.Purpose, alias string) secrets.Mapping {
		return secrets.Mapping{SecretID: id, Types: types, Aliases: []string{alias}}
	}
	sv := []secrets.Purpose{secrets.Sign, secrets.Verify}
	ours := f.provider(t, m("app.signing", sv, "app"), m("app.audit", sv, "app"),
		m("partner.verify", []secrets.Purpose{secrets.Verify}, "partner"))
	partner := f.provider(t, m("partner.verify", []secrets.Purpose{secrets.Sign}, "partner"))
	msg := []byte(`{"grant":"admin"}`)

	psig, err := Sign(f.ctx, partner, "partner.verify", msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(f.ctx, ours, "app.signing", psig, msg); !errors.Is(err, secrets.ErrVerification) ||
		!strings.Contains(err.Error(), `not "app.signing"`) {
		t.Errorf("a partner's signature accepted for app.signing: %v", err)
	}
	if err := Verify(f.ctx, ours, "partner.verify", psig, msg); err != nil {
		t.Errorf("the partner's signature where the partner is expected: %v", err)
	}

	// The same key under two secret ids: a signature for one is no signature for the other.
	audit, err := Sign(f.ctx, ours, "app.audit", msg)
	if err != nil {
		t.Fatal(err)
	}
	moved := *audit
	moved.SecretID = "app.signing"
	if err := Verify(f.ctx, ours, "app.signing", &moved, msg); !errors.Is(err, secrets.ErrVerification) {
		t.Errorf("an app.audit signature verified as app.signing: %v", err)
	}
	if err := Verify(f.ctx, ours, "app.audit", audit, msg); err != nil {
		t.Errorf("app.audit: %v", err)
	}
	// The alias is bound too.
	renamed := *psig
	renamed.Alias = "app"
	if err := Verify(f.ctx, ours, "partner.verify", &renamed, msg); err == nil {
		t.Error("a signature under another alias verified")
	}
}

// TestSecurityKeyMemberFoldsKeySize: "key" is a prefix of "keySize" and the MAC input has no
// separators, so "keySize":32 and "key":"Size32" give the same MAC input. With "stableId"
// naming the key, the "key" string was ignored and the value, now without keySize, derived
// as many bytes as the key has: a value whose members were changed decrypted with no error.
// A value naming its key twice ("stableId" and a "key" string) is refused.
func TestSecurityKeyMemberFoldsKeySize(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(idConfig, aliasB)) // keyB: 32 bytes
	c := codec(t, p, &Options{KeySize: 32})
	v, err := c.Encrypt(f.ctx, idConfig, "x")
	if err != nil {
		t.Fatal(err)
	}
	folded := tamper(t, tamper(t, v, "keySize", ""), "key", `"Size32"`)
	pt, err := c.Decrypt(f.ctx, folded)
	if err == nil {
		t.Fatalf("a value whose keySize was folded into \"key\" decrypted to %s", pt)
	}
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `"stableId" and "key"`) {
		t.Errorf("folded keySize: %v", err)
	}
	if _, err := Inspect(folded); !errors.Is(err, ErrMalformed) {
		t.Errorf("Inspect: %v", err)
	}
	// The unchanged value still decrypts.
	if pt, err := c.Decrypt(f.ctx, v); err != nil || string(pt) != `"x"` {
		t.Fatalf("the value itself: %s %v", pt, err)
	}
}

// TestMAC2016FieldsLeavesPurposeOpen backs Options.MACFields' doc: under MAC2016Fields the
// purpose and keySize of an IDM-shaped value are outside the MAC, so a value moves to
// another allowed secret id mapping the same alias, and a changed keySize fails to decrypt.
func TestMAC2016FieldsLeavesPurposeOpen(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(idConfig, aliasA), mapping(DefaultSecretID, aliasA))
	c := codec(t, p, &Options{MACFields: MAC2016Fields})
	v, err := c.Encrypt(f.ctx, idConfig, "x")
	if err != nil {
		t.Fatal(err)
	}
	moved := tamper(t, v, "purpose", `"`+DefaultSecretID+`"`)
	if pt, err := c.Decrypt(f.ctx, moved); err != nil || string(pt) != `"x"` {
		t.Errorf("a value moved to another secret id: %s %v", pt, err)
	}
	if _, err := codec(t, p, nil).Decrypt(f.ctx, moved); !errors.Is(err, secrets.ErrVerification) {
		t.Errorf("MACAllFields: %v", err)
	}
	if _, err := c.Decrypt(f.ctx, tamper(t, v, "keySize", "32")); !errors.Is(err, secrets.ErrVerification) {
		t.Errorf("keySize changed: %v", err)
	}
}
