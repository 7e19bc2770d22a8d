package jsoncrypto

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
)

// An IDM conf file, with formatting the helpers must keep.
const confDoc = `{
    "connectorRef" : {
        "bundleName" : "org.forgerock.openicf.connectors.ldap-connector",
        "displayName" : "LDAP Connector"
    },
    "configurationProperties" : {
        "host" : "localhost",
        "credentials" : "Passw0rd",
        "a/b~c" : [ "keep", { "nested" : "s3cret" } ],
        "principal" : "uid=admin"
    },
    "hash" : {"$crypto":{"type":"salted-hash","value":{"algorithm":"SHA-256","data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}}},
    "unknown" : {"$crypto":{"type":"x-future","value":{"z":1}}}
}
`

func TestDocumentRoundTripAndRotation(t *testing.T) {
	f := newFixture(t)
	pa := f.provider(t, mapping(idConfig, aliasA))
	c := codec(t, pa, nil)
	enc, changes, err := c.EncryptDocument(f.ctx, []byte(confDoc), idConfig,
		"/configurationProperties/credentials", "/configurationProperties/a~1b~0c/1/nested", "/hash")
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Pointer != "/configurationProperties/credentials" || changes[0].NewAlias != aliasA ||
		changes[1].Pointer != "/configurationProperties/a~1b~0c/1/nested" || changes[1].Action != Encrypted {
		t.Fatalf("changes: %+v", changes)
	}
	if bytes.Contains(enc, []byte("Passw0rd")) || bytes.Contains(enc, []byte("s3cret")) {
		t.Fatal("plaintext left in the document")
	}
	// Everything outside the encrypted values is byte for byte the same.
	if !strings.HasPrefix(string(enc), confDoc[:strings.Index(confDoc, `"Passw0rd"`)]) ||
		!strings.HasSuffix(string(enc), confDoc[strings.Index(confDoc, `} ],`):]) {
		t.Fatalf("document reformatted:\n%s", enc)
	}
	refs, err := Scan(enc)
	if err != nil || len(refs) != 4 || refs[0].Info.Alias != aliasA || refs[2].Info.Type != TypeSaltedHash || refs[3].Info.Type != "x-future" {
		t.Fatalf("Scan: %+v %v", refs, err)
	}

	// Rotate: B first, A still valid.
	pb := f.provider(t, mapping(idConfig, aliasB, aliasA))
	cb := codec(t, pb, nil)
	if err := CheckRetire(aliasA, map[string][]byte{"conf/provisioner.openicf-ldap.json": enc}); !errors.Is(err, ErrAliasInUse) {
		t.Fatalf("CheckRetire before Reencrypt: %v", err)
	} else if ie := (*InUseError)(nil); !errors.As(err, &ie) || len(ie.Uses) != 2 || ie.Uses[0].Pointer != "/configurationProperties/credentials" {
		t.Fatalf("InUseError: %+v", ie)
	} else if strings.Contains(err.Error(), "Passw0rd") {
		t.Fatal("leak")
	}
	re, changes, err := cb.Reencrypt(f.ctx, enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].OldAlias != aliasA || changes[0].NewAlias != aliasB || changes[0].Action != Reencrypted {
		t.Fatalf("Reencrypt changes: %+v", changes)
	}
	if err := CheckRetire(aliasA, map[string][]byte{"conf": re}); err != nil {
		t.Fatalf("CheckRetire after Reencrypt: %v", err)
	}
	if err := CheckRetire(aliasB, map[string][]byte{"conf": re}); !errors.Is(err, ErrAliasInUse) {
		t.Fatalf("CheckRetire of the active alias: %v", err)
	}
	if err := CheckRetire(aliasA, map[string][]byte{"bad": []byte(`{`)}); err == nil || errors.Is(err, ErrAliasInUse) {
		t.Fatalf("CheckRetire of an unreadable document: %v", err)
	}
	// Idempotent: nothing left to do.
	if again, changes, err := cb.Reencrypt(f.ctx, re); err != nil || len(changes) != 0 || !bytes.Equal(again, re) {
		t.Fatalf("second Reencrypt: %d changes, %v", len(changes), err)
	}
	// After retiring A, the re-encrypted document decrypts with B alone, to the original.
	retired := codec(t, f.provider(t, mapping(idConfig, aliasB)), nil)
	dec, changes, err := retired.DecryptDocument(f.ctx, re)
	if err != nil {
		t.Fatal(err)
	}
	if string(dec) != confDoc || len(changes) != 2 || changes[1].OldAlias != aliasB {
		t.Fatalf("decrypted document differs:\n%s\n%+v", dec, changes)
	}
	// ... while the old document no longer does.
	if _, _, err := retired.DecryptDocument(f.ctx, enc); !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "/configurationProperties/credentials") {
		t.Fatalf("old document after retirement: %v", err)
	}
	// Switching scheme re-encrypts too.
	pg := f.provider(t, mapping(idConfig, "aes-gcm", aliasB))
	g, changes, err := codec(t, pg, &Options{Scheme: SchemeGCM}).Reencrypt(f.ctx, re)
	if err != nil || len(changes) != 2 {
		t.Fatalf("to GCM: %v %+v", err, changes)
	}
	if refs, _ := Scan(g); refs[0].Info.Type != TypeGCM {
		t.Fatalf("not GCM: %+v", refs)
	}
}

func TestDocumentErrors(t *testing.T) {
	f := newFixture(t)
	c := codec(t, f.provider(t, mapping(idConfig, aliasA)), nil)
	for _, ptrs := range [][]string{{"/nope"}, {"nope"}, {"/configurationProperties", "/configurationProperties/host"}, {"/configurationProperties/a~1b~0c/01"}} {
		if _, _, err := c.EncryptDocument(f.ctx, []byte(confDoc), idConfig, ptrs...); err == nil {
			t.Errorf("pointers %q accepted", ptrs)
		}
	}
	for _, doc := range []string{`{`, `{"a":1} x`, strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
		`{"a":{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding"}}}}`,
		`{"a":{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding"}},"b":1}}`} {
		if _, _, err := c.DecryptDocument(f.ctx, []byte(doc)); err == nil {
			t.Errorf("DecryptDocument(%.40s) accepted", doc)
		}
		if _, _, err := c.Reencrypt(f.ctx, []byte(doc)); err == nil {
			t.Errorf("Reencrypt(%.40s) accepted", doc)
		}
	}
	big := make([]byte, MaxDocumentSize+1)
	if _, err := Scan(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge document: %v", err)
	}
	// The whole document as the pointer "" is allowed.
	out, _, err := c.EncryptDocument(f.ctx, []byte(`"x"`), idConfig, "")
	if err != nil || !bytes.HasPrefix(out, []byte(`{"$crypto"`)) {
		t.Errorf("root pointer: %s %v", out, err)
	}
}

func TestSignVerify(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	for alias, spec := range map[string]secrets.KeySpec{
		"rsa": {Kind: secrets.KindRSA}, "ec256": {Kind: secrets.KindEC}, "ec384": {Kind: secrets.KindEC, Bits: 384},
		"ec521": {Kind: secrets.KindEC, Bits: 521}, "hmac-new": {Kind: secrets.KindSecret}} {
		if _, err := f.store.Generate(ctx, alias, spec, false); err != nil {
			t.Fatal(err)
		}
	}
	sv := func(id string, aliases ...string) secrets.Mapping {
		return secrets.Mapping{SecretID: id, Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: aliases}
	}
	p := f.provider(t, sv("hmac", aliasB), sv("rsa", "rsa"), sv("ec", "ec384"), sv("ec256", "ec256"), sv("ec521", "ec521"),
		sv("rotated", "hmac-new", aliasB), sv("mixed", "rsa", aliasB))
	msg := []byte("detached message")
	want := map[string]string{"hmac": HS256, "rsa": RS256, "ec": ES384, "ec256": ES256, "ec521": ES512}
	for id, alg := range want {
		sig, err := Sign(ctx, p, id, msg)
		if err != nil {
			t.Fatal(id, err)
		}
		if sig.Algorithm != alg || sig.SecretID != id {
			t.Fatalf("%s: %+v", id, sig)
		}
		if err := Verify(ctx, p, id, sig, msg); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if err := Verify(ctx, p, id, sig, []byte("other")); !errors.Is(err, secrets.ErrVerification) {
			t.Fatalf("%s: other message: %v", id, err)
		}
		bad := *sig
		bad.Value = append([]byte(nil), sig.Value...)
		bad.Value[len(bad.Value)/2] ^= 1
		if err := Verify(ctx, p, id, &bad, msg); !errors.Is(err, secrets.ErrVerification) {
			t.Fatalf("%s: tampered: %v", id, err)
		}
	}
	// Made under the old HMAC key, verified after rotation via its alias.
	old, _ := Sign(ctx, f.provider(t, sv("rotated", aliasB)), "rotated", msg)
	if err := Verify(ctx, p, "rotated", old, msg); err != nil || old.Alias != aliasB {
		t.Fatalf("after rotation: %v", err)
	}
	if s, _ := Sign(ctx, p, "rotated", msg); s.Alias != "hmac-new" {
		t.Fatalf("new signatures use %q", s.Alias)
	}
	// Algorithm confusion: an HS256 tag claimed against the RSA key, and the reverse.
	hs, _ := Sign(ctx, p, "hmac", msg)
	conf := *hs
	conf.SecretID, conf.Alias = "mixed", "rsa"
	if err := Verify(ctx, p, "mixed", &conf, msg); !errors.Is(err, secrets.ErrVerification) {
		t.Fatalf("HS256 against RSA: %v", err)
	}
	rs, _ := Sign(ctx, p, "rsa", msg)
	conf = *rs
	conf.SecretID, conf.Alias = "mixed", aliasB
	if err := Verify(ctx, p, "mixed", &conf, msg); !errors.Is(err, secrets.ErrVerification) {
		t.Fatalf("RS256 against HMAC: %v", err)
	}
	conf.Alias = "unknown"
	if err := Verify(ctx, p, "mixed", &conf, msg); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("unknown alias: %v", err)
	}
	// A forged signature naming an unmapped alias is a "no", not a fault: it wraps
	// ErrVerification (before, only ErrNotFound, which a caller could answer with a 500).
	if err := Verify(ctx, p, "mixed", &conf, msg); !errors.Is(err, secrets.ErrVerification) || strings.Contains(err.Error(), "%!") {
		t.Fatalf("unknown alias is not a verification failure: %v", err)
	}
	if err := Verify(ctx, p, "hmac", nil, msg); err == nil {
		t.Fatal("nil signature")
	}
}

func TestSaltedHash(t *testing.T) {
	for _, o := range []HashOptions{{Cost: 4}, {Algorithm: AlgSHA256}, {Algorithm: AlgSHA384}, {Algorithm: AlgSHA512}} {
		for _, pw := range []string{"Passw0rd", "pässwörd", ""} {
			v, err := Hash(pw, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyHash(v, pw, VerifyHashOptions{}); err != nil {
				t.Fatalf("%+v %q: %v", o, pw, err)
			}
			if err := VerifyHash(v, pw+"!", VerifyHashOptions{}); !errors.Is(err, secrets.ErrVerification) {
				t.Fatalf("%+v wrong password: %v", o, err)
			}
			if info, err := Inspect(v); err != nil || info.Type != TypeSaltedHash {
				t.Fatalf("Inspect: %+v %v", info, err)
			}
		}
	}
	if _, err := Hash("x", HashOptions{Algorithm: "MD5"}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("MD5 for new values: %v", err)
	}
	if _, err := Hash(strings.Repeat("x", 73), HashOptions{Cost: 4}); err == nil {
		t.Error("73-byte bcrypt password accepted")
	}
	if _, err := Hash("x", HashOptions{Cost: 3}); err == nil {
		t.Error("bcrypt cost 3 accepted")
	}
	// Upgrades: digests and cheap bcrypt need rehashing; a current bcrypt does not.
	sha, _ := Hash("x", HashOptions{Algorithm: AlgSHA256})
	cheap, _ := Hash("x", HashOptions{Cost: 4})
	for v, want := range map[string]bool{string(sha): true, string(cheap): true} {
		if got, err := HashNeedsUpgrade([]byte(v), HashOptions{}); err != nil || got != want {
			t.Errorf("HashNeedsUpgrade: %v %v", got, err)
		}
	}
	if got, _ := HashNeedsUpgrade(cheap, HashOptions{Cost: 4}); got {
		t.Error("cost-4 hash needs upgrade to cost 4")
	}
	// A stored cost above the limit is refused before any work.
	costly := []byte(`{"$crypto":{"type":"salted-hash","value":{"algorithm":"BCRYPT","data":"$2a$31$abcdefghijklmnopqrstuuCmzyK4jQ0xl0FUp8O0dHr8yOV0gr1Wm"}}}`)
	if err := VerifyHash(costly, "x", VerifyHashOptions{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("cost 31: %v", err)
	}
	for _, bad := range []string{
		`{"$crypto":{"type":"salted-hash","value":{"algorithm":"SHA-256","data":"AAAA"}}}`,
		`{"$crypto":{"type":"salted-hash","value":{"algorithm":"SHA-256"}}}`,
		`{"$crypto":{"type":"salted-hash","value":{"algorithm":"BCRYPT","data":"nope"}}}`,
		`{"$crypto":{"type":"salted-hash","value":{"algorithm":"CRC32","data":"AAAA"}}}`,
		`{"$crypto":{"type":"x-simple-encryption","value":{}}}`,
	} {
		if err := VerifyHash([]byte(bad), "x", VerifyHashOptions{}); err == nil || errors.Is(err, secrets.ErrVerification) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
