package jsoncrypto

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

const (
	idConfig = "idm.config.encryption"
	aliasA   = "openidm-sym-default"
	aliasB   = "openidm-sym-2026"
)

// Fixed keys so the Java cross-check and failure messages are reproducible.
var (
	keyA   = bytes.Repeat([]byte{0xA1}, 16)
	keyB   = []byte("0123456789abcdef0123456789abcdef")
	keyAES = bytes.Repeat([]byte{0x5C}, 32)
)

type fixture struct {
	store *secretstest.MemoryStore
	ctx   context.Context
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	m := secretstest.NewMemoryStore("mainKeyStore")
	t.Cleanup(func() { m.Close() })
	imp := func(alias string, kind secrets.Kind, key []byte) {
		if _, err := m.Import(ctx, alias, secrets.KeyMaterial{Kind: kind, Secret: key, Extractable: true}, false); err != nil {
			t.Fatal(err)
		}
	}
	imp(aliasA, secrets.KindAES, keyA)
	imp(aliasB, secrets.KindSecret, keyB)
	imp("aes-gcm", secrets.KindAES, keyAES)
	imp("short", secrets.KindSecret, make([]byte, 32))
	return &fixture{store: m, ctx: ctx}
}

func (f *fixture) provider(t testing.TB, mappings ...secrets.Mapping) *secrets.Provider {
	t.Helper()
	p, err := secrets.NewProvider([]secrets.Store{f.store}, mappings, secrets.ProviderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func mapping(id string, aliases ...string) secrets.Mapping {
	return secrets.Mapping{SecretID: id, Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: aliases}
}

// testIDs are the secret ids the tests' Providers map: codec lets its Codecs read values
// naming any of them (Options.SecretIDs), as a tool reading a whole project would. Tests of
// the allow-list itself set Options.SecretIDs.
var testIDs = []string{idConfig, DefaultSecretID, "gcm", "gcm2", "b", "other", "short", "rsa"}

func codec(t testing.TB, p *secrets.Provider, o *Options) *Codec {
	t.Helper()
	var oo Options
	if o != nil {
		oo = *o
	}
	if oo.SecretIDs == nil {
		oo.SecretIDs = testIDs
	}
	c, err := New(p, oo)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// valueOf returns the inner "value" object of a $crypto value as a map (strings as is).
func valueOf(t testing.TB, v []byte) map[string]any {
	t.Helper()
	var env struct {
		Crypto struct {
			Type  string         `json:"type"`
			Value map[string]any `json:"value"`
		} `json:"$crypto"`
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if err := d.Decode(&env); err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	return env.Crypto.Value
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(idConfig, aliasA), mapping("gcm", "aes-gcm"))
	plaintexts := []any{"secret", "", "pässwörd 🔑 <&> \u2028 \x01", 42, true, nil,
		map[string]any{"a": []any{1, "x"}}, json.RawMessage(` { "k" : [1, 2] } `), strings.Repeat("x", 100000)}
	for _, o := range []*Options{nil, {Format: Format2016, DefaultSecretID: idConfig}, {MACFields: MAC2016Fields}, {KeySize: 32}, {Scheme: SchemeGCM}} {
		c := codec(t, p, o)
		id := idConfig
		if o != nil && o.Scheme == SchemeGCM {
			id = "gcm"
		}
		for _, pt := range plaintexts {
			v, err := c.Encrypt(f.ctx, id, pt)
			if err != nil {
				t.Fatalf("%+v %v: %v", o, pt, err)
			}
			want, _ := plaintextJSON(pt)
			got, err := c.Decrypt(f.ctx, v)
			if err != nil {
				t.Fatalf("%+v %.40s: %v", o, v, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%+v: got %.60s want %.60s", o, got, want)
			}
			if s, ok := pt.(string); ok {
				if got, err := c.DecryptString(f.ctx, v); err != nil || got != s {
					t.Fatalf("DecryptString: %q %v", got, err)
				}
			}
		}
	}
}

func TestEncryptShape(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(idConfig, aliasA))
	v, err := Encrypt(f.ctx, p, idConfig, "x")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(v, []byte(`{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","stableId":"openidm-sym-default","purpose":"idm.config.encryption","keySize":16,"salt":"`)) {
		t.Fatalf("shape: %s", v)
	}
	val := valueOf(t, v)
	for name, n := range map[string]int{"salt": 16, "iv": 16, "mac": 16, "data": 16} {
		b, err := base64.StdEncoding.DecodeString(val[name].(string))
		if err != nil || len(b) != n {
			t.Errorf("%s: %d bytes, %v", name, len(b), err)
		}
	}
	info, err := Inspect(v)
	if err != nil || info.Alias != aliasA || info.SecretID != idConfig || info.Type != TypeSimple || info.Legacy {
		t.Fatalf("Inspect: %+v %v", info, err)
	}
	c := codec(t, p, &Options{Format: Format2016})
	v, _ = c.Encrypt(f.ctx, idConfig, "x")
	val = valueOf(t, v)
	if val["key"] != aliasA || val["stableId"] != nil || val["purpose"] != nil || len(val) != 6 {
		t.Fatalf("2016 shape: %s", v)
	}
	// A 2016 value has no purpose: it decrypts through DefaultSecretID's mapping.
	if _, err := c.Decrypt(f.ctx, v); !errors.Is(err, secrets.ErrNoMapping) {
		t.Fatalf("2016 value without an idm.default mapping: %v", err)
	}
	c2 := codec(t, p, &Options{DefaultSecretID: idConfig})
	if _, err := c2.Decrypt(f.ctx, v); err != nil {
		t.Fatal(err)
	}
}

// TestMACByHand recomputes the MAC of an Encrypt output from the scheme's description,
// independently of macOf/macInput.
func TestMACByHand(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(idConfig, aliasA))
	v, _ := Encrypt(f.ctx, p, idConfig, "hello")
	val := valueOf(t, v)
	salt, _ := base64.StdEncoding.DecodeString(val["salt"].(string))
	prkMac := hmac.New(sha256.New, salt)
	prkMac.Write(keyA)
	prk := prkMac.Sum(nil)
	t1 := hmac.New(sha256.New, prk)
	t1.Write([]byte("HmacSHA256\x01"))
	macKey := t1.Sum(nil)
	h := hmac.New(sha256.New, macKey)
	for _, k := range []string{"cipher", "data", "iv", "keySize", "purpose", "salt", "stableId"} {
		h.Write([]byte(k))
		h.Write([]byte(fmt.Sprint(val[k])))
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)[:16]); got != val["mac"] {
		t.Fatalf("mac %s, by hand %s", val["mac"], got)
	}
}

func TestRotation(t *testing.T) {
	f := newFixture(t)
	before := f.provider(t, mapping(idConfig, aliasA))
	old, err := Encrypt(f.ctx, before, idConfig, "made under A")
	if err != nil {
		t.Fatal(err)
	}
	after := f.provider(t, mapping(idConfig, aliasB, aliasA))
	if got, err := Decrypt(f.ctx, after, idConfig, old); err != nil || string(got) != `"made under A"` {
		t.Fatalf("old data after rotation: %s %v", got, err)
	}
	fresh, _ := Encrypt(f.ctx, after, idConfig, "new")
	if info, _ := Inspect(fresh); info.Alias != aliasB {
		t.Fatalf("new data uses %q", info.Alias)
	}
	// A cannot decrypt data made under B, and after A is retired old data fails clearly.
	if _, err := Decrypt(f.ctx, before, idConfig, fresh); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("B-data with mapping [A]: %v", err)
	}
	retired := f.provider(t, mapping(idConfig, aliasB))
	if _, err := Decrypt(f.ctx, retired, idConfig, old); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("A-data with mapping [B]: %v", err)
	}
}

// tamper returns v with the value's field name replaced by repl (a JSON text), or removed
// when repl is "".
func tamper(t testing.TB, v []byte, name, repl string) []byte {
	t.Helper()
	var env map[string]map[string]json.RawMessage
	if err := json.Unmarshal(v, &env); err != nil {
		t.Fatal(err)
	}
	var val map[string]json.RawMessage
	json.Unmarshal(env["$crypto"]["value"], &val)
	if repl == "" {
		delete(val, name)
	} else {
		val[name] = json.RawMessage(repl)
	}
	env["$crypto"]["value"], _ = json.Marshal(val)
	out, _ := json.Marshal(env)
	return out
}

// flip returns the base64 field with one bit of its decoded bytes flipped at index i.
func flip(t testing.TB, v []byte, name string, i int) []byte {
	val := valueOf(t, v)
	b, _ := base64.StdEncoding.DecodeString(val[name].(string))
	b[i%len(b)] ^= 1
	return tamper(t, v, name, `"`+base64.StdEncoding.EncodeToString(b)+`"`)
}

func TestTamperedFieldsDetected(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(idConfig, aliasA, aliasB), mapping("other", aliasA))
	for _, o := range []*Options{nil, {Format: Format2016}} {
		c := codec(t, p, &Options{Format: Format2016, DefaultSecretID: idConfig})
		if o == nil {
			c = codec(t, p, nil)
		}
		v, _ := c.Encrypt(f.ctx, idConfig, "top secret")
		if _, err := c.Decrypt(f.ctx, v); err != nil {
			t.Fatal(err)
		}
		val := valueOf(t, v)
		for name := range val {
			for _, bad := range []string{"flip", "remove", "extra"} {
				var w []byte
				switch bad {
				case "flip":
					switch name {
					case "salt", "iv", "data", "mac":
						w = flip(t, v, name, 3)
					case "keySize":
						w = tamper(t, v, name, "32")
					case "purpose":
						w = tamper(t, v, name, `"other"`)
					case "stableId", "key":
						w = tamper(t, v, name, `"`+aliasB+`"`)
					case "cipher":
						w = tamper(t, v, name, `"AES/CBC/NoPadding"`)
					}
				case "remove":
					w = tamper(t, v, name, "")
				case "extra":
					w = tamper(t, v, "note", `"added"`)
				}
				if _, err := c.Decrypt(f.ctx, w); err == nil {
					t.Errorf("%+v: %s %s: tampered value decrypted", o, bad, name)
				} else if strings.Contains(err.Error(), "top secret") {
					t.Errorf("error leaks plaintext: %v", err)
				}
			}
		}
	}
	// GCM: every field is bound.
	pg := f.provider(t, mapping("gcm", "aes-gcm"), mapping("gcm2", "aes-gcm"))
	c := codec(t, pg, &Options{Scheme: SchemeGCM})
	v, _ := c.Encrypt(f.ctx, "gcm", "top secret")
	for _, w := range [][]byte{flip(t, v, "data", 0), flip(t, v, "data", 20), flip(t, v, "data", 40),
		tamper(t, v, "purpose", `"gcm2"`), tamper(t, v, "purpose", ""), tamper(t, v, "x", `"y"`)} {
		if _, err := c.Decrypt(f.ctx, w); err == nil {
			t.Errorf("tampered GCM value decrypted: %s", w)
		}
	}
}

func TestBadInput(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(idConfig, aliasA), mapping("gcm", "aes-gcm"), mapping("short", "short"),
		secrets.Mapping{SecretID: "rsa", Types: []secrets.Purpose{secrets.Decrypt}, Aliases: []string{aliasA}})
	c := codec(t, p, nil)
	good, _ := c.Encrypt(f.ctx, idConfig, "x")
	cases := []struct {
		name string
		in   string
		is   error
	}{
		{"empty", ``, ErrMalformed},
		{"not json", `{"$crypto":`, ErrMalformed},
		{"array", `[]`, ErrMalformed},
		{"no $crypto", `{"a":1}`, ErrMalformed},
		{"extra member", `{"$crypto":{"type":"x","value":{}},"b":1}`, ErrMalformed},
		{"crypto string", `{"$crypto":"x"}`, ErrMalformed},
		{"no type", `{"$crypto":{"value":{}}}`, ErrMalformed},
		{"type number", `{"$crypto":{"type":1,"value":{}}}`, ErrMalformed},
		{"no value", `{"$crypto":{"type":"x-simple-encryption"}}`, ErrMalformed},
		{"dup type", `{"$crypto":{"type":"x-simple-encryption","type":"x","value":{}}}`, ErrMalformed},
		{"unknown type", `{"$crypto":{"type":"rot13","value":{}}}`, errors.ErrUnsupported},
		{"unknown cipher", `{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"DES/ECB/NoPadding","key":"a","data":"AAAAAAAAAAAAAAAAAAAAAA==","iv":"AAAAAAAAAAAAAAAAAAAAAA=="}}}`, errors.ErrUnsupported},
		{"no key", `{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","data":"AAAAAAAAAAAAAAAAAAAAAA==","iv":"AAAAAAAAAAAAAAAAAAAAAA=="}}}`, ErrMalformed},
		{"bad base64", `{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","key":"a","data":"!!!","iv":"AAAAAAAAAAAAAAAAAAAAAA=="}}}`, ErrMalformed},
		{"short iv", `{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","key":"a","data":"AAAAAAAAAAAAAAAAAAAAAA==","iv":"AAAA"}}}`, ErrMalformed},
		{"salt no mac", `{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","key":"a","data":"AAAAAAAAAAAAAAAAAAAAAA==","iv":"AAAAAAAAAAAAAAAAAAAAAA==","salt":"AAAAAAAAAAAAAAAAAAAAAA=="}}}`, ErrMalformed},
		{"bad keySize", string(tamper(t, good, "keySize", "17")), ErrMalformed},
		{"float field", string(tamper(t, good, "x", "1.5")), ErrMalformed},
		{"null field", string(tamper(t, good, "x", "null")), ErrMalformed},
		{"unknown stableId", string(tamper(t, good, "stableId", `"nope"`)), secrets.ErrNotFound},
		{"unknown purpose", string(tamper(t, good, "purpose", `"nope"`)), ErrNotAllowed},
		{"gcm with CBC key value", strings.Replace(string(good), TypeSimple, TypeGCM, 1), errors.ErrUnsupported},
		{"salted-hash", `{"$crypto":{"type":"salted-hash","value":{"algorithm":"SHA-256","data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}}}`, errors.ErrUnsupported},
		{"too large", `{"$crypto":"` + strings.Repeat("a", MaxValueSize) + `"}`, ErrTooLarge},
		{"deep", strings.Repeat(`{"$crypto":`, 20) + strings.Repeat("}", 20), ErrMalformed},
	}
	for _, tc := range cases {
		_, err := c.Decrypt(f.ctx, []byte(tc.in))
		if !errors.Is(err, tc.is) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.is)
		}
	}
	// Wrong key kind: GCM asked of a generic secret; x-simple-encryption with a short key.
	if _, err := codec(t, p, &Options{Scheme: SchemeGCM}).Encrypt(f.ctx, idConfig, "x"); err != nil {
		t.Errorf("GCM with an AES key: %v", err)
	}
	pb := f.provider(t, mapping(idConfig, aliasB))
	if _, err := codec(t, pb, &Options{Scheme: SchemeGCM}).Encrypt(f.ctx, idConfig, "x"); !errors.Is(err, secrets.ErrWrongKind) {
		t.Errorf("GCM with a generic secret: %v", err)
	}
	gv, _ := codec(t, p, &Options{Scheme: SchemeGCM}).Encrypt(f.ctx, "gcm", "x")
	if _, err := c.Decrypt(f.ctx, gv); err != nil {
		t.Errorf("Decrypt reads GCM whatever the Scheme: %v", err)
	}
	if _, err := New(p, Options{KeySize: 20}); err == nil {
		t.Error("KeySize 20 accepted")
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("nil provider accepted")
	}
	if _, err := c.Encrypt(f.ctx, idConfig, make(chan int)); err == nil {
		t.Error("unmarshallable plaintext accepted")
	}
	if _, err := c.Encrypt(f.ctx, idConfig, json.RawMessage(`{`)); err == nil {
		t.Error("invalid RawMessage accepted")
	}
	if _, err := c.Encrypt(f.ctx, idConfig, strings.Repeat("x", MaxPlaintextSize)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge plaintext: %v", err)
	}
	cctx, cancel := context.WithCancel(f.ctx)
	cancel()
	if _, err := codec(t, f.provider(t, mapping(idConfig, aliasA)), nil).Encrypt(cctx, idConfig, "x"); err == nil {
		t.Error("cancelled context")
	}
}
