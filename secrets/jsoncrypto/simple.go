package jsoncrypto

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/secretstores/secretstores/secrets"
)

// The x-simple-encryption scheme of ForgeRock json-crypto (2016), byte for byte:
//
//	salt    16 random bytes
//	PRK     = HMAC-SHA256(key = salt, msg = raw key)                  (HKDF-Extract, RFC 5869)
//	encKey  = HKDF-Expand(PRK, info = "AES", L = 16)
//	macKey  = HKDF-Expand(PRK, info = "HmacSHA256", L = 32)
//	data    = AES-CBC-PKCS5(encKey, iv = 16 random bytes, JSON text of the value)
//	mac     = HMAC-SHA256(macKey, M)[:16]
//	M       = for each field but "mac", in Java String order of the names:
//	          UTF-8(name) ‖ UTF-8(value.toString()), an object value recursed the same way
//
// salt, iv, data and mac are standard padded base64. A value without "salt" is the legacy
// (pre-2016) form: data = AES-CBC-PKCS5(raw key, iv, JSON), nothing authenticated.

const (
	saltSize   = 16
	macSize    = 16 // HMAC-SHA256 truncated to half
	macKeySize = 32
	macInfo    = "HmacSHA256"
)

var fields2016 = map[string]bool{"cipher": true, "key": true, "data": true, "iv": true, "salt": true}

// isSimpleField reports whether name is a member an x-simple-encryption value may have: the
// members IDM documents (cipher, stableId, purpose, keySize, salt, iv, data, mac) and the
// 2016 and legacy forms' "key". The MAC input has no separators, so an unknown member could
// hold the names and values of known ones folded into it ("keySize16purpose": "x") under the
// same MAC; every other member is refused.
func isSimpleField(name string) bool {
	switch name {
	case "cipher", "stableId", "purpose", "keySize", "salt", "iv", "data", "mac", "key":
		return true
	}
	return false
}

// simpleValue is a parsed x-simple-encryption value.
type simpleValue struct {
	v        *node
	cipher   string
	alias    string
	secretID string // "purpose", "" when absent
	keyObj   *node  // the 2016 asymmetric form's "key" object, else nil
	keyCiph  string // its cipher
	wrapped  []byte // its data: the RSA-encrypted session key
	salted   bool
	salt     []byte
	iv       []byte
	data     []byte
	mac      []byte
	keySize  int // "keySize", 0 when absent
}

func parseSimple(v *node) (*simpleValue, error) {
	// v comes from envelopeOf, which has rejected duplicate members.
	sv := &simpleValue{v: v}
	for i := range v.Members {
		if k := v.Members[i].Key; !isSimpleField(k) {
			return nil, malformed("unknown field %q in an %s value (allowed: cipher, stableId, purpose, keySize, salt, iv, data, mac, key)",
				clip(k), TypeSimple)
		}
	}
	var err error
	if sv.cipher, err = requiredStr(v, "cipher"); err != nil {
		return nil, err
	}
	if sv.cipher != CipherCBC {
		return nil, unsupported("x-simple-encryption cipher %q (want %s)", clip(sv.cipher), CipherCBC)
	}
	stable, hasStable, err := str(v, "stableId")
	if err != nil {
		return nil, err
	}
	switch k := v.Get("key"); {
	case hasStable && k != nil:
		// "key" is a prefix of "keySize" and the MAC input has no separators:
		// "key":"Size32" authenticates as "keySize":32 would. One name for the key.
		return nil, malformed("both \"stableId\" and \"key\" name the key: a value has one of them")
	case hasStable:
		sv.alias = stable
	case k == nil:
		return nil, malformed("neither \"stableId\" nor \"key\" names the key")
	case k.Kind == kString:
		sv.alias = k.Str
	case k.Kind == kObject:
		for i := range k.Members {
			switch k.Members[i].Key {
			case "cipher", "key", "data":
			default:
				return nil, malformed("unknown field %q in the \"key\" object (allowed: cipher, key, data)", clip(k.Members[i].Key))
			}
		}
		sv.keyObj = k
		if sv.alias, err = requiredStr(k, "key"); err != nil {
			return nil, err
		}
		if sv.keyCiph, err = requiredStr(k, "cipher"); err != nil {
			return nil, err
		}
		if _, err := rsaOptions(sv.keyCiph); err != nil {
			return nil, err
		}
		if sv.wrapped, _, err = b64(k, "data", true); err != nil {
			return nil, err
		}
	default:
		return nil, malformed("field \"key\" is a %v, not a string or object", k.Kind)
	}
	if sv.alias == "" {
		return nil, malformed("the key alias is empty")
	}
	if sv.secretID, _, err = str(v, "purpose"); err != nil {
		return nil, err
	}
	if sv.data, _, err = b64(v, "data", true); err != nil {
		return nil, err
	}
	if len(sv.data) == 0 || len(sv.data)%aes.BlockSize != 0 {
		return nil, malformed("field \"data\" is not a whole number of AES blocks")
	}
	if sv.iv, _, err = b64(v, "iv", true); err != nil {
		return nil, err
	}
	if len(sv.iv) != aes.BlockSize {
		return nil, malformed("field \"iv\" is %d bytes, want %d", len(sv.iv), aes.BlockSize)
	}
	if sv.salt, sv.salted, err = b64(v, "salt", false); err != nil {
		return nil, err
	}
	if sv.salted {
		if sv.mac, _, err = b64(v, "mac", true); err != nil {
			return nil, err
		}
		if len(sv.mac) != macSize {
			return nil, malformed("field \"mac\" is %d bytes, want %d", len(sv.mac), macSize)
		}
	} else if sv.keyObj != nil {
		return nil, malformed("the asymmetric form has no \"salt\"")
	} else if v.Get("mac") != nil {
		return nil, malformed("field \"mac\" without \"salt\"")
	}
	if ks := v.Get("keySize"); ks != nil {
		n, err := strconv.Atoi(ks.Str)
		if ks.Kind != kNumber || err != nil {
			return nil, malformed("field \"keySize\" is not 16, 24 or 32 (bytes) or 128, 192 or 256 (bits)")
		}
		if sv.keySize = keySizeBytes(n); sv.keySize == 0 {
			return nil, malformed("field \"keySize\" is not 16, 24 or 32 (bytes) or 128, 192 or 256 (bits)")
		}
	}
	return sv, nil
}

// keySizeBytes reads a "keySize" field: IDM's encrypted-object examples print bytes
// ("keySize": 16), Advanced Identity Cloud's print bits ("keySize": 128); the two ranges
// do not overlap. It returns 0 for any other value.
func keySizeBytes(n int) int {
	switch {
	case aesKeySize(n):
		return n
	case n%8 == 0 && aesKeySize(n/8):
		return n / 8
	}
	return 0
}

// clip shortens a string from the input for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// rsaOptions maps the Java cipher names of json-crypto's asymmetric form to Secret.Decrypt
// options. Java's OAEPWith<H>AndMGF1Padding uses SHA-1 for MGF1 whatever H is.
func rsaOptions(javaCipher string) (crypto.DecrypterOpts, error) {
	switch strings.ToUpper(javaCipher) {
	case "RSA/ECB/PKCS1PADDING", "RSA":
		return nil, nil
	case "RSA/ECB/OAEPWITHSHA1ANDMGF1PADDING", "RSA/ECB/OAEPWITHSHA-1ANDMGF1PADDING", "RSA/ECB/OAEPPADDING":
		return &rsa.OAEPOptions{Hash: crypto.SHA1}, nil
	case "RSA/ECB/OAEPWITHSHA-256ANDMGF1PADDING":
		return &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1}, nil
	}
	return nil, unsupported("key-wrapping cipher %q", clip(javaCipher))
}

// macInput writes M (see the scheme above) for the object v to w.
func macInput(w io.Writer, v *node, scope MACFields, top bool) error {
	var st kdfState
	mw := macWriter{w: w, buf: st.stage[:0]}
	err := mw.input(v, scope, top)
	mw.flush()
	return err
}

// macWriter feeds M to the HMAC through a staging buffer: names and values are strings, and
// many of them are short, so they are copied and written in a few large Writes rather than
// converted and written one by one.
type macWriter struct {
	w   io.Writer
	buf []byte // len: staged bytes; cap: the staging size
}

func (m *macWriter) flush() {
	if len(m.buf) > 0 {
		m.w.Write(m.buf)
		m.buf = m.buf[:0]
	}
}

func (m *macWriter) writeString(s string) {
	for len(s) > 0 {
		if len(m.buf) == cap(m.buf) {
			m.flush()
		}
		n := copy(m.buf[len(m.buf):cap(m.buf)], s)
		m.buf = m.buf[:len(m.buf)+n]
		s = s[n:]
	}
}

func (m *macWriter) write(b []byte) {
	if len(b) > cap(m.buf)-len(m.buf) {
		m.flush()
		if len(b) >= cap(m.buf) {
			m.w.Write(b)
			return
		}
	}
	m.buf = append(m.buf, b...)
}

// input writes M for the object v.
func (m *macWriter) input(v *node, scope MACFields, top bool) error {
	var small [16]int
	order := small[:0]
	for i := range v.Members {
		k := v.Members[i].Key
		if top && (k == "mac" || (scope == MAC2016Fields && !fields2016[k])) {
			continue
		}
		// Insertion sort: a handful of members.
		j := len(order)
		order = append(order, i)
		for j > 0 && javaLess(k, v.Members[order[j-1]].Key) {
			order[j] = order[j-1]
			j--
		}
		order[j] = i
	}
	for _, i := range order {
		mb := &v.Members[i]
		m.writeString(mb.Key)
		switch mb.Val.Kind {
		case kString:
			m.writeString(mb.Val.Str)
		case kObject:
			if err := m.input(&mb.Val, scope, false); err != nil {
				return err
			}
		case kBool:
			m.writeString(strconv.FormatBool(mb.Val.Bool))
		case kNumber:
			s, ok := javaInteger(mb.Val.Str)
			if !ok {
				return malformed("field %q: only integer numbers can be authenticated", mb.Key)
			}
			m.writeString(s)
		default:
			return malformed("field %q is a %v, which cannot be authenticated", mb.Key, mb.Val.Kind)
		}
	}
	return nil
}

// kv is one field Encrypt writes: a JSON string, (num) a JSON integer, or (bin != nil) the
// base64 of bin as a JSON string. appendFields records where the text of a bin field is in
// its output (the MAC covers that text).
type kv struct {
	name, val string
	num       bool
	bin       []byte
	at, end   int
}

// write writes the field's value as the MAC sees it; out is appendFields' output.
func (f *kv) write(m *macWriter, out []byte) {
	if f.bin != nil {
		m.write(out[f.at:f.end])
	} else {
		m.writeString(f.val)
	}
}

// macOf computes the truncated MAC over fields (none of which is "mac"), whose bin values
// are in out, into st.sum[:macSize].
func macOf(st *kdfState, macKey []byte, fields []kv, out []byte, scope MACFields) []byte {
	var small [16]int
	order := small[:0]
	for i, f := range fields {
		if scope == MAC2016Fields && !fields2016[f.name] {
			continue
		}
		j := len(order)
		order = append(order, i)
		for j > 0 && javaLess(f.name, fields[order[j-1]].name) {
			order[j] = order[j-1]
			j--
		}
		order[j] = i
	}
	m := macWriter{w: hmac.New(sha256.New, macKey), buf: st.stage[:0]}
	for _, i := range order {
		m.writeString(fields[i].name)
		fields[i].write(&m, out)
	}
	m.flush()
	return m.w.(hash.Hash).Sum(st.sum[:0])[:macSize]
}

const envelopeHead = `{"$crypto":{"type":` // then the type, `,"value":{`, the fields, "}}}"

// envelopeSize is len(appendEnvelope(nil, typ, fields)).
func envelopeSize(typ string, fields []kv) int {
	n := len(envelopeHead) + jsonStringLen(typ) + len(`,"value":{`) + len("}}}")
	for _, f := range fields {
		n += jsonStringLen(f.name) + 2 // ':' and ','
		switch {
		case f.bin != nil:
			n += base64.StdEncoding.EncodedLen(len(f.bin)) + 2
		case f.num:
			n += len(f.val)
		default:
			n += jsonStringLen(f.val)
		}
	}
	return n
}

// appendEnvelope writes {"$crypto":{"type":typ,"value":{fields...}}}.
func appendEnvelope(dst []byte, typ string, fields []kv) []byte {
	return append(appendFields(appendEnvelopeOpen(dst, typ), fields, true), "}}}"...)
}

func appendEnvelopeOpen(dst []byte, typ string) []byte {
	dst = append(dst, envelopeHead...)
	dst = appendJSONString(dst, typ)
	return append(dst, `,"value":{`...)
}

// appendFields writes the members of fields, the first one with no comma before it when
// first, and records where each bin field's text is.
func appendFields(dst []byte, fields []kv, first bool) []byte {
	for i := range fields {
		f := &fields[i]
		if i > 0 || !first {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.name)
		dst = append(dst, ':')
		switch {
		case f.bin != nil:
			dst = append(dst, '"')
			f.at = len(dst)
			dst = base64.StdEncoding.AppendEncode(dst, f.bin)
			f.end = len(dst)
			dst = append(dst, '"')
		case f.num:
			dst = append(dst, f.val...)
		default:
			dst = appendJSONString(dst, f.val)
		}
	}
	return dst
}

// exportSymmetric returns the raw key of a secret or AES key.
func exportSymmetric(ctx context.Context, s *secrets.Secret) ([]byte, error) {
	if !s.Kind().Symmetric() {
		return nil, fmt.Errorf("jsoncrypto: key %q is %v; x-simple-encryption needs a secret or AES key: %w",
			s.Alias(), s.Kind(), secrets.ErrWrongKind)
	}
	step("Secret.Export")
	raw, err := s.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: x-simple-encryption derives its keys from the raw key: %w", err)
	}
	if len(raw) < 16 {
		clear(raw)
		return nil, fmt.Errorf("jsoncrypto: key %q has %d bytes; json-crypto needs at least 16: %w",
			s.Alias(), len(raw), secrets.ErrWrongKind)
	}
	return raw, nil
}

// kdfState holds one call's derived keys and scratch space: one allocation, cleared (clear)
// when the call ends.
type kdfState struct {
	prk    [sha256.Size]byte
	macKey [macKeySize]byte
	encKey [sha256.Size]byte
	sum    [sha256.Size]byte
	rnd    [saltSize + aes.BlockSize]byte
	stage  [512]byte // macWriter's staging buffer, HKDF info
	exp    hash.Hash // HMAC keyed with the PRK, after extract
	reuse  bool      // exp has been used once
}

// clear zeroes the keys. (The HMAC keyed with the PRK keeps its padded copy until it is
// collected, as crypto/hkdf's does: no API clears it.)
func (st *kdfState) clear() { *st = kdfState{} }

var zeroSalt [sha256.Size]byte

// extract sets the PRK to HKDF-Extract(salt, raw) (RFC 5869) and readies expand.
func (st *kdfState) extract(raw, salt []byte) {
	if len(salt) == 0 { // json-crypto: an empty salt is HashLen zero bytes (RFC 5869)
		salt = zeroSalt[:]
	}
	h := hmac.New(sha256.New, salt)
	h.Write(raw)
	h.Sum(st.prk[:0])
	st.exp = hmac.New(sha256.New, st.prk[:])
	st.reuse = false
}

// expand writes HKDF-Expand(PRK, info, len(out)) to out. Every key here is at most HashLen
// bytes, so the output is the first block alone: T(1) = HMAC(PRK, info ‖ 0x01).
func (st *kdfState) expand(info string, out []byte) error {
	if len(out) > sha256.Size {
		return fmt.Errorf("jsoncrypto: HKDF-Expand of %d bytes", len(out))
	}
	if st.reuse {
		st.exp.Reset()
	}
	st.reuse = true
	m := macWriter{w: st.exp, buf: st.stage[:0]}
	m.writeString(info)
	m.writeString("\x01")
	m.flush()
	st.exp.Sum(st.sum[:0])
	copy(out, st.sum[:])
	clear(st.sum[:])
	return nil
}

// encryptSimple encrypts pt, which it may overwrite (with the ciphertext).
func (c *Codec) encryptSimple(ctx context.Context, s *secrets.Secret, secretID string, pt []byte) (json.RawMessage, error) {
	raw, err := exportSymmetric(ctx, s)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	st := new(kdfState)
	defer st.clear()
	if _, err := io.ReadFull(c.o.Rand, st.rnd[:]); err != nil {
		return nil, fmt.Errorf("jsoncrypto: reading random salt and IV: %w", err)
	}
	salt, iv := st.rnd[:saltSize], st.rnd[saltSize:]
	st.extract(raw, salt)
	if err := st.expand(macInfo, st.macKey[:]); err != nil {
		return nil, err
	}
	size := c.o.KeySize
	if c.o.Format == Format2016 {
		// No keySize field: derive as many bytes as the key has, as json-crypto's
		// SimpleEncryptor does and as Decrypt reads such values.
		if !aesKeySize(len(raw)) {
			return nil, fmt.Errorf("jsoncrypto: Format2016 derives an AES key as long as the key, and %q has %d bytes, not 16, 24 or 32: %w",
				s.Alias(), len(raw), secrets.ErrWrongKind)
		}
		size = len(raw)
	}
	encKey := st.encKey[:size]
	if err := st.expand(c.o.AESInfo, encKey); err != nil {
		return nil, err
	}
	ct, err := cbcEncryptInPlace(encKey, iv, pt)
	if err != nil {
		return nil, err
	}
	var buf [8]kv
	fields := buf[:0]
	if c.o.Format == Format2016 {
		fields = append(fields, kv{name: "cipher", val: CipherCBC}, kv{name: "key", val: s.Alias()})
	} else {
		fields = append(fields, kv{name: "cipher", val: CipherCBC}, kv{name: "stableId", val: s.Alias()},
			kv{name: "purpose", val: secretID}, kv{name: "keySize", val: strconv.Itoa(c.o.KeySize), num: true})
	}
	fields = append(fields, kv{name: "salt", bin: salt}, kv{name: "iv", bin: iv}, kv{name: "data", bin: ct})
	var sum [macSize]byte // stands for the MAC in envelopeSize
	out := make([]byte, 0, envelopeSize(TypeSimple, append(fields, kv{name: "mac", bin: sum[:]})))
	out = appendFields(appendEnvelopeOpen(out, TypeSimple), fields, true)
	mac := [1]kv{{name: "mac", bin: macOf(st, st.macKey[:], fields, out, c.o.MACFields)}}
	return append(appendFields(out, mac[:], false), "}}}"...), nil
}

// decryptSimple decrypts a value decryptEnvelope has allowed (Codec.allow).
func (c *Codec) decryptSimple(ctx context.Context, sv *simpleValue) (json.RawMessage, error) {
	secretID := c.secretIDOf(sv.secretID)
	s, err := c.p.Named(ctx, secretID, secrets.Decrypt, sv.alias)
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: decrypt: %w", err)
	}
	var raw []byte
	info := c.o.AESInfo
	if sv.keyObj != nil {
		if raw, err = unwrapSessionKey(ctx, s, sv); err != nil {
			return nil, err
		}
		info = "AES" // json-crypto: the session key's algorithm is the cipher's ("AES/...")
	} else if raw, err = exportSymmetric(ctx, s); err != nil {
		return nil, err
	}
	defer clear(raw)

	if !sv.salted {
		return decryptLegacy(raw, sv)
	}
	st := new(kdfState)
	defer st.clear()
	st.extract(raw, sv.salt)
	if err := st.expand(macInfo, st.macKey[:]); err != nil {
		return nil, err
	}
	m := macWriter{w: hmac.New(sha256.New, st.macKey[:]), buf: st.stage[:0]}
	if err := m.input(sv.v, c.o.MACFields, true); err != nil {
		return nil, err
	}
	m.flush()
	step("mac")
	if !hmac.Equal(m.w.(hash.Hash).Sum(st.sum[:0])[:macSize], sv.mac) {
		return nil, fmt.Errorf("jsoncrypto: MAC of the value named %q does not verify: %w", sv.alias, secrets.ErrVerification)
	}
	// The MAC has verified: the fields it covers (Options.MACFields) are the ones the
	// key holder wrote.
	size := sv.keySize
	switch {
	case size != 0:
	case sv.keyObj != nil:
		size = 16 // the 2016 asymmetric form: always a 128-bit AES key
	case aesKeySize(len(raw)):
		// No keySize: as long as the key (json-crypto's SimpleEncryptor expands
		// key.getEncoded().length bytes; IDM 7.3 derives it from the key).
		size = len(raw)
	default:
		return nil, fmt.Errorf("jsoncrypto: the value has no keySize and key %q has %d bytes, not an AES key size (16, 24 or 32): %w",
			sv.alias, len(raw), secrets.ErrWrongKind)
	}
	encKey := st.encKey[:size]
	if err := st.expand(info, encKey); err != nil {
		return nil, err
	}
	// sv.data was decoded for this call alone: decrypt it in place. The MAC has been
	// checked: what follows leaks nothing an attacker could not compute.
	pt, ok := cbcDecryptInPlace(encKey, sv.iv, sv.data)
	if ok != 1 {
		clear(sv.data)
		return nil, errDecrypt
	}
	if err := checkPlaintext(pt); err != nil {
		clear(pt)
		return nil, err
	}
	return pt, nil
}

// decryptLegacy decrypts the legacy form (no salt, no MAC) with the raw key. Nothing is
// authenticated, so whatever is wrong with the data (padding, JSON) must not show, in the
// error or in the time taken: the padding is checked and removed in constant time, the JSON
// check runs whether or not the padding was good, on the plaintext less the padding it
// claims (all of it when the padding is bad), and one error is returned for every failure.
func decryptLegacy(raw []byte, sv *simpleValue) (json.RawMessage, error) {
	if !aesKeySize(len(raw)) {
		return nil, fmt.Errorf("jsoncrypto: legacy x-simple-encryption needs a 16, 24 or 32-byte key, %q has %d: %w",
			sv.alias, len(raw), secrets.ErrWrongKind)
	}
	pt, ok := cbcDecryptInPlace(raw, sv.iv, sv.data)
	step("json")
	ok &= boolInt(validJSON(pt, MaxDepth) == nil)
	if ok != 1 {
		clear(sv.data)
		return nil, errDecrypt
	}
	return pt, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// testHook, when a test sets it, is told each step a decryption takes (the calls on the
// Secret, the MAC, the CBC decryption, the JSON check), so that tests can check that valid
// and invalid input take the same steps. Nil outside tests.
var testHook func(step string)

func step(name string) {
	if testHook != nil {
		testHook(name)
	}
}

// unwrapSessionKey decrypts the 2016 asymmetric form's session key with the RSA key.
//
// A session key that does not unwrap (bad RSA padding, or a key shorter than 16 bytes) is
// replaced by a random one, so that the value fails at the MAC with the same error as a
// forged value: telling the two apart would be an RSA padding oracle (Bleichenbacher). Other
// failures (wrong kind, store unavailable, cancelled ctx) are returned.
func unwrapSessionKey(ctx context.Context, s *secrets.Secret, sv *simpleValue) ([]byte, error) {
	if s.Kind() != secrets.KindRSA {
		return nil, fmt.Errorf("jsoncrypto: key %q is %v; the asymmetric form needs an RSA key: %w",
			s.Alias(), s.Kind(), secrets.ErrWrongKind)
	}
	opts, err := rsaOptions(sv.keyCiph)
	if err != nil {
		return nil, err
	}
	step("Secret.Decrypt")
	k, err := s.Decrypt(ctx, sv.wrapped, opts)
	if err != nil && !errors.Is(err, secrets.ErrVerification) {
		return nil, fmt.Errorf("jsoncrypto: unwrapping the session key: %w", err)
	}
	// Read the random replacement whatever the outcome, so that a good and a bad session
	// key take the same steps; keep it only when the unwrap failed.
	r := make([]byte, 16)
	if _, rerr := rand.Read(r); rerr != nil {
		clear(k)
		return nil, fmt.Errorf("jsoncrypto: reading random bytes: %w", rerr)
	}
	if err != nil || len(k) < 16 {
		clear(k)
		return r, nil
	}
	clear(r)
	return k, nil
}

func cbcEncrypt(key, iv, pt []byte) ([]byte, error) {
	return cbcEncryptInPlace(key, iv, append(make([]byte, 0, len(pt)+aes.BlockSize), pt...))
}

// cbcEncryptInPlace pads pt (within its capacity when there is room) and encrypts it where
// it is.
func cbcEncryptInPlace(key, iv, pt []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: AES key of %d bytes: %w", len(key), secrets.ErrWrongKind)
	}
	pad := aes.BlockSize - len(pt)%aes.BlockSize
	out := pt
	for range pad {
		out = append(out, byte(pad))
	}
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, out)
	return out, nil
}

var errDecrypt = fmt.Errorf("jsoncrypto: decryption failed: %w", secrets.ErrVerification)

// cbcDecryptInPlace decrypts ct where it is and returns the plaintext less its PKCS#5
// padding and ok = 1, or, when the padding is bad (or key, IV or ct have a wrong length),
// all of ct decrypted and ok = 0. The padding is checked and removed in constant time: no
// branch or memory access depends on it.
func cbcDecryptInPlace(key, iv, ct []byte) (pt []byte, ok int) {
	b, err := aes.NewCipher(key)
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 || len(iv) != aes.BlockSize {
		return ct, 0
	}
	out := ct
	step("cbc")
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, out)
	pad := int(out[len(out)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		match := subtle.ConstantTimeByteEq(out[len(out)-i], byte(pad))
		good &= subtle.ConstantTimeSelect(inPad, match, 1)
	}
	n := subtle.ConstantTimeSelect(good, len(out)-pad, len(out))
	return out[:n], good
}
