package jsoncrypto

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are $crypto values and documents of every shape the package reads, plus broken
// ones; f.Add runs them in plain go test.
func fuzzSeeds(t testing.TB, f *fixture) [][]byte {
	c := codec(t, f.provider(t, mapping(idConfig, aliasA), mapping("gcm", "aes-gcm")), nil)
	v, _ := c.Encrypt(f.ctx, idConfig, "secret")
	v16, _ := codec(t, f.provider(t, mapping(idConfig, aliasA)), &Options{Format: Format2016}).Encrypt(f.ctx, idConfig, map[string]any{"a": 1})
	g, _ := codec(t, f.provider(t, mapping("gcm", "aes-gcm")), &Options{Scheme: SchemeGCM}).Encrypt(f.ctx, "gcm", "secret")
	h, _ := Hash("pw", HashOptions{Algorithm: AlgSHA256})
	b, _ := Hash("pw", HashOptions{Cost: 4})
	doc := []byte(`{"a":` + string(v) + `,"b":[1,2,{"c":` + string(g) + `}],"h":` + string(h) + `,"s":"x\u00e9\ud83d\ude00"}`)
	return [][]byte{v, v16, g, h, b, doc, []byte(confDoc),
		[]byte(`{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","key":"openidm-sym-default","iv":"AAAAAAAAAAAAAAAAAAAAAA==","data":"AAAAAAAAAAAAAAAAAAAAAA=="}}}`),
		[]byte(`{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","key":{"cipher":"RSA/ECB/OAEPWithSHA1AndMGF1Padding","key":"rsa","data":"AAAA"},"iv":"AAAAAAAAAAAAAAAAAAAAAA==","data":"AAAAAAAAAAAAAAAAAAAAAA==","salt":"AAAAAAAAAAAAAAAAAAAAAA==","mac":"AAAAAAAAAAAAAAAAAAAAAA=="}}}`),
		[]byte(`{"$crypto":{"type":"salted-hash","value":{"algorithm":"BCRYPT","data":"$2a$04$abc"}}}`),
		[]byte(`[{"$crypto":1},{"$crypto":{"type":"x","value":[]}},"\ud800",-0.0e+1,true,null]`),
		[]byte(`{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","stableId":"a","a":{"b":{"c":{"d":{"e":{}}}}}}}}`),
		[]byte(``), []byte(`{`), []byte(`"`), []byte(`{"a":1,"a":2}`),
	}
}

// FuzzDecrypt feeds arbitrary bytes to the $crypto value decoder (Inspect, Decrypt,
// VerifyHash): no panic, no success on garbage, and the parser agrees with encoding/json
// about what is JSON.
func FuzzDecrypt(f *testing.F) {
	fx := newFixture(f)
	for _, s := range fuzzSeeds(f, fx) {
		f.Add(s)
	}
	p := fx.provider(f, mapping(idConfig, aliasA), mapping("gcm", "aes-gcm"), mapping(DefaultSecretID, aliasA))
	c := codec(f, p, nil)
	// The unauthenticated forms' paths too.
	all := codec(f, p, &Options{AllowLegacy: true, AllowAsymmetric: true})
	f.Fuzz(func(t *testing.T, data []byte) {
		if utf8.Valid(data) {
			_, err := parseJSON(data, 10000)
			if (err == nil) != json.Valid(data) {
				t.Fatalf("parser says %v, encoding/json says valid=%v", err, json.Valid(data))
			}
		}
		// The validating parser (no tree, no copies) agrees with the one that builds.
		_, perr := parseJSON(data, 64)
		if verr := validJSON(data, 64); (verr == nil) != (perr == nil) {
			t.Fatalf("validJSON says %v, parseJSON says %v", verr, perr)
		}
		Inspect(data)
		VerifyHash(data, "pw", VerifyHashOptions{Allow5xTruncation: true, MaxBcryptCost: 4})
		pt, err := c.Decrypt(fx.ctx, data)
		if err == nil && !json.Valid(pt) {
			t.Fatalf("Decrypt returned non-JSON %q", pt)
		}
		pt2, err2 := all.Decrypt(fx.ctx, data)
		if err2 == nil && !json.Valid(pt2) {
			t.Fatalf("Decrypt (legacy, asymmetric allowed) returned non-JSON %q", pt2)
		}
		if err == nil && (err2 != nil || !bytes.Equal(pt, pt2)) {
			t.Fatalf("allowing more changed the result of an allowed value: %v", err2)
		}
	})
}

// FuzzDocument feeds arbitrary documents to Scan, DecryptDocument and Reencrypt: no panic,
// valid JSON out, and a document without $crypto values comes back byte for byte.
func FuzzDocument(f *testing.F) {
	fx := newFixture(f)
	for _, s := range fuzzSeeds(f, fx) {
		f.Add(s)
	}
	c := codec(f, fx.provider(f, mapping(idConfig, aliasA), mapping("gcm", "aes-gcm"), mapping(DefaultSecretID, aliasA)),
		&Options{AllowLegacy: true})
	f.Fuzz(func(t *testing.T, doc []byte) {
		refs, err := Scan(doc)
		out, changes, derr := c.DecryptDocument(fx.ctx, doc)
		if derr == nil {
			if !json.Valid(out) {
				t.Fatalf("DecryptDocument made invalid JSON %q", out)
			}
			if len(changes) == 0 && !bytes.Equal(out, doc) {
				t.Fatalf("no changes but the document differs")
			}
			if err != nil {
				t.Fatalf("DecryptDocument accepted what Scan refused: %v", err)
			}
		}
		if err == nil && len(refs) == 0 {
			if derr != nil || !bytes.Equal(out, doc) {
				t.Fatalf("a document without $crypto changed: %v", derr)
			}
		}
		if re, _, err := c.Reencrypt(fx.ctx, doc); err == nil && !json.Valid(re) {
			t.Fatalf("Reencrypt made invalid JSON")
		}
	})
}
