package jsoncrypto

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	switch k := v.get("key"); {
	case hasStable:
		sv.alias = stable
	case k == nil:
		return nil, malformed("neither \"stableId\" nor \"key\" names the key")
	case k.kind == kString:
		sv.alias = k.str
	case k.kind == kObject:
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
		return nil, malformed("field \"key\" is a %v, not a string or object", k.kind)
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
	} else if v.get("mac") != nil {
		return nil, malformed("field \"mac\" without \"salt\"")
	}
	if ks := v.get("keySize"); ks != nil {
		n, err := strconv.Atoi(ks.str)
		if ks.kind != kNumber || err != nil || !aesKeySize(n) {
			return nil, malformed("field \"keySize\" is not 16, 24 or 32")
		}
		sv.keySize = n
	}
	return sv, nil
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
	order := make([]int, 0, len(v.members))
	for i := range v.members {
		k := v.members[i].key
		if top && (k == "mac" || (scope == MAC2016Fields && !fields2016[k])) {
			continue
		}
		// Insertion sort: a handful of members.
		j := len(order)
		order = append(order, i)
		for j > 0 && javaLess(k, v.members[order[j-1]].key) {
			order[j] = order[j-1]
			j--
		}
		order[j] = i
	}
	for _, i := range order {
		m := &v.members[i]
		io.WriteString(w, m.key)
		switch m.val.kind {
		case kString:
			io.WriteString(w, m.val.str)
		case kObject:
			if err := macInput(w, &m.val, scope, false); err != nil {
				return err
			}
		case kBool:
			io.WriteString(w, strconv.FormatBool(m.val.b))
		case kNumber:
			s, ok := javaInteger(m.val.str)
			if !ok {
				return malformed("field %q: only integer numbers can be authenticated", m.key)
			}
			io.WriteString(w, s)
		default:
			return malformed("field %q is a %v, which cannot be authenticated", m.key, m.val.kind)
		}
	}
	return nil
}

// kv is one field Encrypt writes: a JSON string, or (num) a JSON integer.
type kv struct {
	name, val string
	num       bool
}

// macOf computes the truncated MAC over fields (none of which is "mac").
func macOf(macKey []byte, fields []kv, scope MACFields) []byte {
	order := make([]int, 0, len(fields))
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
	h := hmac.New(sha256.New, macKey)
	for _, i := range order {
		io.WriteString(h, fields[i].name)
		io.WriteString(h, fields[i].val)
	}
	return h.Sum(nil)[:macSize]
}

// appendEnvelope writes {"$crypto":{"type":typ,"value":{fields...}}}.
func appendEnvelope(dst []byte, typ string, fields []kv) []byte {
	dst = append(dst, `{"$crypto":{"type":`...)
	dst = appendJSONString(dst, typ)
	dst = append(dst, `,"value":{`...)
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.name)
		dst = append(dst, ':')
		if f.num {
			dst = append(dst, f.val...)
		} else {
			dst = appendJSONString(dst, f.val)
		}
	}
	return append(dst, "}}}"...)
}

// exportSymmetric returns the raw key of a secret or AES key.
func exportSymmetric(ctx context.Context, s *secrets.Secret) ([]byte, error) {
	if !s.Kind().Symmetric() {
		return nil, fmt.Errorf("jsoncrypto: key %q is %v; x-simple-encryption needs a secret or AES key: %w",
			s.Alias(), s.Kind(), secrets.ErrWrongKind)
	}
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

// derive returns HKDF-Expand(HKDF-Extract(salt, raw), info, n).
func derive(prk []byte, info string, n int) ([]byte, error) {
	k, err := hkdf.Expand(sha256.New, prk, info, n)
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: HKDF-Expand: %w", err)
	}
	return k, nil
}

// deriveKeys returns the PRK and the MAC key.
func deriveKeys(raw, salt []byte) (prk, macKey []byte, err error) {
	if len(salt) == 0 { // json-crypto: an empty salt is HashLen zero bytes (RFC 5869)
		salt = make([]byte, sha256.Size)
	}
	if prk, err = hkdf.Extract(sha256.New, raw, salt); err != nil {
		return nil, nil, fmt.Errorf("jsoncrypto: HKDF-Extract: %w", err)
	}
	if macKey, err = derive(prk, macInfo, macKeySize); err != nil {
		clear(prk)
		return nil, nil, err
	}
	return prk, macKey, nil
}

func (c *Codec) encryptSimple(ctx context.Context, s *secrets.Secret, secretID string, pt []byte) (json.RawMessage, error) {
	raw, err := exportSymmetric(ctx, s)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	var rnd [saltSize + aes.BlockSize]byte
	if _, err := io.ReadFull(c.o.Rand, rnd[:]); err != nil {
		return nil, fmt.Errorf("jsoncrypto: reading random salt and IV: %w", err)
	}
	salt, iv := rnd[:saltSize], rnd[saltSize:]
	prk, macKey, err := deriveKeys(raw, salt)
	if err != nil {
		return nil, err
	}
	defer clear(prk)
	defer clear(macKey)
	encKey, err := derive(prk, c.o.AESInfo, c.o.KeySize)
	if err != nil {
		return nil, err
	}
	defer clear(encKey)

	ct, err := cbcEncrypt(encKey, iv, pt)
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding
	var fields []kv
	if c.o.Format == Format2016 {
		fields = []kv{{name: "cipher", val: CipherCBC}, {name: "key", val: s.Alias()}}
	} else {
		fields = []kv{{name: "cipher", val: CipherCBC}, {name: "stableId", val: s.Alias()},
			{name: "purpose", val: secretID}, {name: "keySize", val: strconv.Itoa(c.o.KeySize), num: true}}
	}
	fields = append(fields, kv{name: "salt", val: enc.EncodeToString(salt)},
		kv{name: "iv", val: enc.EncodeToString(iv)}, kv{name: "data", val: enc.EncodeToString(ct)})
	fields = append(fields, kv{name: "mac", val: enc.EncodeToString(macOf(macKey, fields, c.o.MACFields))})
	n := 96 + len(s.Alias()) + len(secretID)
	for _, f := range fields {
		n += len(f.name) + len(f.val) + 4
	}
	return appendEnvelope(make([]byte, 0, n), TypeSimple, fields), nil
}

func (c *Codec) decryptSimple(ctx context.Context, sv *simpleValue) (json.RawMessage, error) {
	if !sv.salted && c.o.NoLegacy {
		return nil, fmt.Errorf("jsoncrypto: legacy x-simple-encryption (no salt, no MAC) refused by Options.NoLegacy: %w",
			secrets.ErrVerification)
	}
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

	var encKey []byte
	if sv.salted {
		prk, macKey, err := deriveKeys(raw, sv.salt)
		if err != nil {
			return nil, err
		}
		defer clear(prk)
		defer clear(macKey)
		h := hmac.New(sha256.New, macKey)
		if err := macInput(h, sv.v, c.o.MACFields, true); err != nil {
			return nil, err
		}
		if !hmac.Equal(h.Sum(nil)[:macSize], sv.mac) {
			return nil, fmt.Errorf("jsoncrypto: MAC of the value named %q does not verify: %w", sv.alias, secrets.ErrVerification)
		}
		size := c.o.KeySize
		if sv.keySize != 0 {
			size = sv.keySize
		}
		if encKey, err = derive(prk, info, size); err != nil {
			return nil, err
		}
		defer clear(encKey)
	} else {
		if !aesKeySize(len(raw)) {
			return nil, fmt.Errorf("jsoncrypto: legacy x-simple-encryption needs a 16, 24 or 32-byte key, %q has %d: %w",
				sv.alias, len(raw), secrets.ErrWrongKind)
		}
		encKey = raw
	}
	pt, err := cbcDecrypt(encKey, sv.iv, sv.data)
	if err != nil {
		return nil, err
	}
	if err := checkPlaintext(pt); err != nil {
		clear(pt)
		if !sv.salted {
			// Unauthenticated CBC: one error for bad padding and bad JSON, or the
			// difference is a padding oracle.
			return nil, errDecrypt
		}
		return nil, err
	}
	return pt, nil
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
	k, err := s.Decrypt(ctx, sv.wrapped, opts)
	if err != nil && !errors.Is(err, secrets.ErrVerification) {
		return nil, fmt.Errorf("jsoncrypto: unwrapping the session key: %w", err)
	}
	if err != nil || len(k) < 16 {
		clear(k)
		k = make([]byte, 16)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("jsoncrypto: reading random bytes: %w", err)
		}
	}
	return k, nil
}

func cbcEncrypt(key, iv, pt []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: AES key of %d bytes: %w", len(key), secrets.ErrWrongKind)
	}
	pad := aes.BlockSize - len(pt)%aes.BlockSize
	out := make([]byte, len(pt)+pad)
	copy(out, pt)
	for i := len(pt); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, out)
	return out, nil
}

var errDecrypt = fmt.Errorf("jsoncrypto: decryption failed: %w", secrets.ErrVerification)

// cbcDecrypt decrypts and removes PKCS#5 padding, checking the padding in constant time.
// Every failure is the same error.
func cbcDecrypt(key, iv, ct []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 || len(iv) != aes.BlockSize {
		return nil, errDecrypt
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, ct)
	pad := int(out[len(out)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		match := subtle.ConstantTimeByteEq(out[len(out)-i], byte(pad))
		good &= subtle.ConstantTimeSelect(inPad, match, 1)
	}
	if good != 1 {
		clear(out)
		return nil, errDecrypt
	}
	return out[:len(out)-pad], nil
}
