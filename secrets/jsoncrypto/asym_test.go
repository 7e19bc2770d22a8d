package jsoncrypto

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// asymValue builds json-crypto's 2016 asymmetric form: a random AES session key wrapped with
// pub under javaCipher, the value's keys derived from the session key as from a raw key.
func asymValue(t testing.TB, pub *rsa.PublicKey, alias, javaCipher string, pt []byte, wrapped []byte) []byte {
	t.Helper()
	return asymValueFor(t, pub, alias, "", javaCipher, pt, wrapped)
}

// asymValueFor is asymValue with a "purpose" (none when purpose is ""). It needs only the
// public key: what anyone holding the certificate can make.
func asymValueFor(t testing.TB, pub *rsa.PublicKey, alias, purpose, javaCipher string, pt []byte, wrapped []byte) []byte {
	t.Helper()
	session := make([]byte, 16)
	rand.Read(session)
	if wrapped == nil {
		var err error
		opts, _ := rsaOptions(javaCipher)
		if oaep, ok := opts.(*rsa.OAEPOptions); ok {
			wrapped = oaepEncrypt(t, pub, session, oaep)
		} else {
			wrapped, err = rsa.EncryptPKCS1v15(rand.Reader, pub, session)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	salt, iv := make([]byte, 16), make([]byte, 16)
	rand.Read(salt)
	rand.Read(iv)
	prk, macKey, err := deriveKeys(session, salt)
	if err != nil {
		t.Fatal(err)
	}
	encKey, err := derive(prk, "AES", 16)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := cbcEncrypt(encKey, iv, pt)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding
	purposeField := ""
	if purpose != "" {
		purposeField = fmt.Sprintf(`"purpose":%q,`, purpose)
	}
	build := func(mac []byte) []byte {
		return []byte(fmt.Sprintf(`{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding",%s"key":{"cipher":%q,"key":%q,"data":%q},"salt":%q,"iv":%q,"data":%q,"mac":%q}}}`,
			purposeField, javaCipher, alias, enc.EncodeToString(wrapped), enc.EncodeToString(salt), enc.EncodeToString(iv), enc.EncodeToString(ct), enc.EncodeToString(mac)))
	}
	env, err := parseEnvelope(build(make([]byte, macSize)))
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, macKey)
	if err := macInput(h, env.value, MACAllFields, true); err != nil {
		t.Fatal(err)
	}
	return build(h.Sum(nil)[:macSize])
}

// oaepEncrypt is RSA-OAEP (RFC 8017 7.1.1, empty label) with separate OAEP and MGF1 hashes,
// as Java's OAEPWith<H>AndMGF1Padding uses them (MGF1 with SHA-1 whatever H is).
func oaepEncrypt(t testing.TB, pub *rsa.PublicKey, msg []byte, o *rsa.OAEPOptions) []byte {
	t.Helper()
	mgfHash := o.MGFHash
	if mgfHash == 0 {
		mgfHash = o.Hash
	}
	k, hLen := pub.Size(), o.Hash.Size()
	lHash := o.Hash.New().Sum(nil)
	db := make([]byte, k-hLen-1)
	copy(db, lHash)
	db[len(db)-len(msg)-1] = 1
	copy(db[len(db)-len(msg):], msg)
	seed := make([]byte, hLen)
	rand.Read(seed)
	mgf1XOR := func(out, seed []byte) {
		var counter [4]byte
		for done := 0; done < len(out); {
			h := mgfHash.New()
			h.Write(seed)
			h.Write(counter[:])
			for _, b := range h.Sum(nil) {
				if done < len(out) {
					out[done] ^= b
					done++
				}
			}
			counter[3]++
		}
	}
	mgf1XOR(db, seed)
	mgf1XOR(seed, db)
	em := append(append([]byte{0}, seed...), db...)
	c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, k))
}

// TestAsymmetricForm: the 2016 asymmetric form decrypts, and a session key that does not
// unwrap fails exactly as a bad MAC does, so the error is no RSA padding oracle.
func TestAsymmetricForm(t *testing.T) {
	f := newFixture(t)
	km, err := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindRSA})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Import(f.ctx, "rsa", km, false); err != nil {
		t.Fatal(err)
	}
	pub := &km.Private.(*rsa.PrivateKey).PublicKey
	c := codec(t, f.provider(t, mapping(DefaultSecretID, "rsa")), &Options{AllowAsymmetric: true})
	for _, jc := range []string{"RSA/ECB/PKCS1Padding", "RSA/ECB/OAEPWithSHA-1AndMGF1Padding", "RSA/ECB/OAEPWithSHA-256AndMGF1Padding"} {
		t.Run(jc, func(t *testing.T) {
			got, err := c.DecryptString(f.ctx, asymValue(t, pub, "rsa", jc, []byte(`"s3cret"`), nil))
			if err != nil || got != "s3cret" {
				t.Fatalf("decrypt: %q, %v", got, err)
			}

			badMAC := asymValue(t, pub, "rsa", jc, []byte(`"s3cret"`), nil)
			env, _ := parseEnvelope(badMAC)
			sv, _ := parseSimple(env.value)
			sv.mac[0] ^= 1
			_, errMAC := c.decryptSimple(f.ctx, sv)

			garbage := make([]byte, pub.Size())
			rand.Read(garbage)
			garbage[0] = 0 // below the modulus
			_, errUnwrap := c.Decrypt(f.ctx, asymValue(t, pub, "rsa", jc, []byte(`"s3cret"`), garbage))

			// A well-formed PKCS#1 v1.5 block holding a key of the wrong length.
			short, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte("short"))
			if jc != "RSA/ECB/PKCS1Padding" {
				opts, _ := rsaOptions(jc)
				short = oaepEncrypt(t, pub, []byte("short"), opts.(*rsa.OAEPOptions))
			}
			_, errShort := c.Decrypt(f.ctx, asymValue(t, pub, "rsa", jc, []byte(`"s3cret"`), short))

			for _, err := range []error{errMAC, errUnwrap, errShort} {
				if !errors.Is(err, secrets.ErrVerification) {
					t.Fatalf("want ErrVerification, got %v", err)
				}
			}
			if errUnwrap.Error() != errMAC.Error() || errShort.Error() != errMAC.Error() {
				t.Errorf("an unwrap failure is told apart from a MAC failure:\n unwrap: %v\n short:  %v\n mac:    %v", errUnwrap, errShort, errMAC)
			}
		})
	}
}

// TestLegacyNoPaddingOracle: the legacy form is not authenticated, so a bad padding and a
// good padding over data that is not JSON must fail alike (else: a CBC padding oracle).
func TestLegacyNoPaddingOracle(t *testing.T) {
	f := newFixture(t)
	c := codec(t, f.provider(t, mapping(DefaultSecretID, aliasA)), &Options{AllowLegacy: true})
	iv := make([]byte, 16)
	legacy := func(data []byte) []byte {
		enc := base64.StdEncoding
		return []byte(fmt.Sprintf(`{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","key":%q,"iv":%q,"data":%q}}}`,
			aliasA, enc.EncodeToString(iv), enc.EncodeToString(data)))
	}
	good, err := cbcEncrypt(keyA, iv, []byte(`"a secret of two blocks"`))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.DecryptString(f.ctx, legacy(good)); err != nil || got != "a secret of two blocks" {
		t.Fatalf("legacy decrypt: %q, %v", got, err)
	}
	notJSON, _ := cbcEncrypt(keyA, iv, []byte(`not json`))
	badPad := append([]byte(nil), good...)
	badPad[len(badPad)-17] ^= 0x55 // flips the last plaintext byte: the padding
	_, errJSON := c.Decrypt(f.ctx, legacy(notJSON))
	_, errPad := c.Decrypt(f.ctx, legacy(badPad))
	if !errors.Is(errJSON, secrets.ErrVerification) || !errors.Is(errPad, secrets.ErrVerification) {
		t.Fatalf("want ErrVerification: %v; %v", errJSON, errPad)
	}
	if errJSON.Error() != errPad.Error() {
		t.Errorf("bad padding and bad JSON are told apart:\n pad:  %v\n json: %v", errPad, errJSON)
	}
}

// TestDuplicateCheckLinear: the duplicate-member check of a $crypto value is linear: a
// 1 MiB value of distinct members was compared pairwise (~30 s); and a duplicate is still
// found among many members. Linearity is checked against the floor in the same run: putting
// the same member names into a map, looking each up first, which is what a linear check
// costs. Pairwise comparison of the 30,000 members of a 256 KB value takes hundreds of times
// the floor; the test fails beyond 16 times (best of five interleaved runs). (A ratio of two sizes of the check itself
// was not robust: under the race detector, 16 times the members took 61 to 379 times as long.)
func TestDuplicateCheckLinear(t *testing.T) {
	build := func(size int, dup bool) []byte {
		var b strings.Builder
		b.WriteString(`{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding"`)
		for i := 0; b.Len() < size-100; i++ {
			b.WriteString(`,"`)
			b.WriteString(strconv.FormatInt(int64(i), 16))
			b.WriteString(`":0`)
		}
		if dup {
			b.WriteString(`,"cipher":"x"`)
		}
		b.WriteString(`}}}`)
		return []byte(b.String())
	}
	large := build(MaxValueSize/4, false)
	if _, err := Inspect(large); !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), "twice") {
		t.Errorf("distinct members: %v", err)
	}
	if _, err := Inspect(build(MaxValueSize/4, true)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `"cipher" appears twice`) {
		t.Errorf("duplicate member: %v", err)
	}
	n, err := parseJSON(large, maxEnvelopeDepth)
	if err != nil {
		t.Fatal(err)
	}
	members := n.Get("$crypto").Get("value").Members
	check, floor := time.Duration(1<<62), time.Duration(1<<62)
	for range 5 {
		start := time.Now()
		if noDuplicates(&n) != nil {
			t.Fatal("a duplicate among distinct members")
		}
		check = min(check, time.Since(start))
		start = time.Now()
		seen := make(map[string]struct{}, len(members))
		dups := 0
		for i := range members {
			if _, dup := seen[members[i].Key]; dup {
				dups++
			}
			seen[members[i].Key] = struct{}{}
		}
		floor = min(floor, time.Since(start))
		if dups != 0 || len(seen) != len(members) {
			t.Fatal("the floor found duplicates")
		}
	}
	t.Logf("%d members (%d bytes): check %v, floor %v (x%.1f)", len(members), len(large), check, floor, float64(check)/float64(floor))
	if check > 16*floor {
		t.Errorf("checking %d members took %.0f times the floor (%v, %v): not linear", len(members), float64(check)/float64(floor), check, floor)
	}
}
