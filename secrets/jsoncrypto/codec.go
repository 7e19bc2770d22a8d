package jsoncrypto

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/secretstores/secretstores/secrets"
)

// Scheme selects how Encrypt encrypts.
type Scheme int

const (
	// SchemeSimple is x-simple-encryption, ForgeRock json-crypto's 2016 scheme, which IDM
	// reads: the key is exported (it must be extractable) and AES and MAC keys are derived
	// from it by HKDF. The default.
	SchemeSimple Scheme = iota
	// SchemeGCM is TypeGCM: AES-GCM by Secret.Seal under an AES key, which never leaves its
	// store. IDM cannot read it.
	SchemeGCM
)

// Format selects the fields of an x-simple-encryption value Encrypt writes.
type Format int

const (
	// FormatIDM writes cipher, stableId (the alias), purpose (the secret id), keySize,
	// salt, iv, data and mac: the shape IDM 7/8 documents. The default.
	FormatIDM Format = iota
	// Format2016 writes cipher, key (the alias), salt, iv, data and mac: exactly what
	// json-crypto's 2016 SimpleEncryptor writes (and IDM 5.x/6.x).
	Format2016
)

// MACFields selects which fields of an x-simple-encryption value the MAC covers.
type MACFields int

const (
	// MACAllFields: every field of the value except "mac", as json-crypto's 2016
	// SimpleDecryptor computes it (its encryptor only writes cipher, key, data, iv and salt,
	// so for 2016 values both rules agree). The default.
	MACAllFields MACFields = iota
	// MAC2016Fields: only cipher, key, data, iv and salt; any other field (stableId,
	// purpose, keySize) is outside the MAC. For IDM 7/8 values, should they turn out to be
	// made that way. Anyone can then change those fields without the key: a value can be
	// moved to another secret id of Options.SecretIDs that maps the same alias (it still
	// decrypts, with the same key), and a changed keySize makes the decryption fail.
	MAC2016Fields
)

// Options tune a Codec. The zero value means the documented defaults.
//
// IDM 7/8 interoperability of x-simple-encryption is unverified: the open 2016 sources fix
// the algorithm, but not which fields IDM 7/8 feed to the MAC, the derived key size, or the
// HKDF info string for a key whose Java algorithm is not "AES". These are the options below;
// the defaults follow the 2016 decryptor. Check them against a value made by a real IDM
// before relying on interoperability.
type Options struct {
	// Scheme is what Encrypt makes: SchemeSimple (default) or SchemeGCM. Decrypt reads both,
	// whatever this says.
	Scheme Scheme
	// Format is the field set of x-simple-encryption values Encrypt makes: FormatIDM
	// (default) or Format2016.
	Format Format
	// MACFields is the field set the MAC covers, for Encrypt and Decrypt: MACAllFields
	// (default) or MAC2016Fields.
	MACFields MACFields
	// KeySize is the length in bytes of the AES key Encrypt derives for FormatIDM
	// values, and writes as "keySize" (in bytes, as IDM's examples do): 16, 24 or 32;
	// 0 means 16 (IDM creates openidm-sym-default as a 128-bit AES key). Format2016
	// values, which have no keySize field, derive as many bytes as the key has, as
	// json-crypto's SimpleEncryptor does. Decrypt reads "keySize" in bytes (16, 24, 32)
	// or bits (128, 192, 256; Advanced Identity Cloud's examples); a value without it
	// derives as many bytes as the key has (IDM 7.3; json-crypto's SimpleEncryptor,
	// key.getEncoded().length), or 16 for the 2016 asymmetric form — decided after the
	// MAC has verified.
	KeySize int
	// AESInfo is the HKDF info string of the AES key: "" means "AES". json-crypto uses the
	// Java algorithm name of the key (Key.getAlgorithm()), "AES" for IDM's keys; what it is
	// for a PKCS#11 generic secret in IDM 7/8 is unconfirmed.
	AESInfo string
	// DefaultSecretID is the secret id used to find the key of a value without "purpose":
	// "" means DefaultSecretID ("idm.default").
	DefaultSecretID string
	// SecretIDs are the secret ids the values this Codec decrypts may name: a value's
	// "purpose", or DefaultSecretID for a value without one. Decrypt, DecryptString,
	// DecryptDocument and Reencrypt refuse a value naming any other secret id with an error
	// wrapping ErrNotAllowed, before any key is looked up: the key is never chosen from the
	// value alone. Empty: they refuse every value, with an error naming this field. A tool
	// reading a whole IDM project lists every secret id its secrets.json maps for DECRYPT;
	// a service lists the one or two it expects. Encrypt and EncryptDocument do not use it.
	SecretIDs []string
	// AllowLegacy reads the pre-2016 x-simple-encryption form ({cipher, key, iv, data}: no
	// salt and no MAC). It gives no authenticity: anyone can change such a value's
	// plaintext without the key, block by block (CBC). Decrypt takes the same steps and
	// returns the same error whether the padding or the JSON of a legacy value is wrong.
	// Without it a legacy value is refused with an error wrapping ErrNotAllowed. IDM has
	// written the MAC'd form since 2016: set it for tools that read a user's own old files,
	// and re-encrypt what they find (Reencrypt).
	AllowLegacy bool
	// AllowAsymmetric reads json-crypto's 2016 asymmetric form, whose "key" object holds a
	// session key wrapped with an RSA public key. It gives no authenticity: the MAC key
	// comes from that session key, so anyone holding the public key (a certificate) can make
	// a value that decrypts, with no error, to a plaintext of their choice; and reading it
	// runs an RSA decryption with the private key on a ciphertext of the sender's choice.
	// Without it such a value is refused with an error wrapping ErrNotAllowed, before any
	// key is looked up.
	AllowAsymmetric bool
	// Rand is the source of salts and IVs: nil means crypto/rand.Reader. (SchemeGCM
	// nonces come from the store.)
	Rand io.Reader
}

// A Codec encrypts and decrypts $crypto values with the keys of a Provider. It is safe for
// concurrent use.
type Codec struct {
	p *secrets.Provider
	o Options
}

// New returns a Codec over p; the zero Options are the defaults.
func New(p *secrets.Provider, opts Options) (*Codec, error) {
	if p == nil {
		return nil, fmt.Errorf("jsoncrypto: nil Provider")
	}
	c := &Codec{p: p, o: opts}
	if c.o.KeySize == 0 {
		c.o.KeySize = 16
	}
	if !aesKeySize(c.o.KeySize) {
		return nil, fmt.Errorf("jsoncrypto: Options.KeySize %d: want 16, 24 or 32", c.o.KeySize)
	}
	if c.o.AESInfo == "" {
		c.o.AESInfo = "AES"
	}
	if c.o.DefaultSecretID == "" {
		c.o.DefaultSecretID = DefaultSecretID
	}
	if c.o.Rand == nil {
		c.o.Rand = rand.Reader
	}
	switch {
	case c.o.Scheme != SchemeSimple && c.o.Scheme != SchemeGCM:
		return nil, fmt.Errorf("jsoncrypto: unknown Options.Scheme %d", c.o.Scheme)
	case c.o.Format != FormatIDM && c.o.Format != Format2016:
		return nil, fmt.Errorf("jsoncrypto: unknown Options.Format %d", c.o.Format)
	case c.o.MACFields != MACAllFields && c.o.MACFields != MAC2016Fields:
		return nil, fmt.Errorf("jsoncrypto: unknown Options.MACFields %d", c.o.MACFields)
	}
	return c, nil
}

func aesKeySize(n int) bool { return n == 16 || n == 24 || n == 32 }

// Encrypt encrypts plaintext with the active key of secretID (ENCRYPT purpose) using the
// default Options: an x-simple-encryption value in IDM's shape. See Codec.Encrypt.
func Encrypt(ctx context.Context, p *secrets.Provider, secretID string, plaintext any) (json.RawMessage, error) {
	c, err := New(p, Options{})
	if err != nil {
		return nil, err
	}
	return c.Encrypt(ctx, secretID, plaintext)
}

// Decrypt decrypts a $crypto value that names secretID (its "purpose"; DefaultSecretID for a
// value without one) with the key it names among secretID's valid DECRYPT keys, using the
// default Options otherwise. A value naming another secret id is refused with an error
// wrapping ErrNotAllowed. See Codec.Decrypt and Options.SecretIDs.
func Decrypt(ctx context.Context, p *secrets.Provider, secretID string, value []byte) (json.RawMessage, error) {
	c, err := New(p, Options{SecretIDs: []string{secretID}})
	if err != nil {
		return nil, err
	}
	return c.Decrypt(ctx, value)
}

// Encrypt encrypts plaintext with the active key of secretID for ENCRYPT and returns the
// $crypto object ({"$crypto": {"type": ..., "value": {...}}}), which records the key's
// alias as "stableId" and secretID as "purpose" (Format2016: the alias as "key").
//
// plaintext is what gets encrypted, as JSON (IDM encrypts JSON values, mostly strings):
// a json.RawMessage is used as is (it must be valid JSON; whitespace is removed), anything
// else is marshalled by encoding/json without HTML escaping. Pass a string, not a []byte,
// for text.
func (c *Codec) Encrypt(ctx context.Context, secretID string, plaintext any) (json.RawMessage, error) {
	pt, err := plaintextJSON(plaintext)
	if err != nil {
		return nil, err
	}
	s, err := c.p.Active(ctx, secretID, secrets.Encrypt)
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: encrypt: %w", err)
	}
	return c.encryptWith(ctx, s, secretID, pt)
}

// encryptWith encrypts pt, a slice of its own: x-simple-encryption overwrites it.
func (c *Codec) encryptWith(ctx context.Context, s *secrets.Secret, secretID string, pt []byte) (json.RawMessage, error) {
	if c.o.Scheme == SchemeGCM {
		return c.encryptGCM(ctx, s, secretID, pt)
	}
	return c.encryptSimple(ctx, s, secretID, pt)
}

// plaintextJSON returns the compact JSON text of v, in a new slice, with room for the CBC
// padding when v is a string or a json.RawMessage (encryptSimple encrypts it in place).
func plaintextJSON(v any) ([]byte, error) {
	var out []byte
	switch t := v.(type) {
	case json.RawMessage:
		if len(t) > MaxPlaintextSize {
			return nil, fmt.Errorf("%w: plaintext of %d bytes (limit %d)", ErrTooLarge, len(t), MaxPlaintextSize)
		}
		var b bytes.Buffer
		b.Grow(len(t) + aes.BlockSize) // room for the CBC padding
		if err := json.Compact(&b, t); err != nil {
			return nil, fmt.Errorf("jsoncrypto: plaintext json.RawMessage is not valid JSON")
		}
		out = b.Bytes()
	case string:
		out = appendJSONString(make([]byte, 0, len(t)+2+aes.BlockSize), t)
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("jsoncrypto: plaintext cannot be marshalled as JSON (%T)", v)
		}
		out = bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
	}
	if len(out) > MaxPlaintextSize {
		return nil, fmt.Errorf("%w: plaintext of %d bytes as JSON (limit %d)", ErrTooLarge, len(out), MaxPlaintextSize)
	}
	return out, nil
}

// Decrypt decrypts a serialized $crypto object of type x-simple-encryption or TypeGCM and
// returns the plaintext JSON value (for a string, its quoted JSON form: see DecryptString).
// The value's secret id (its "purpose", default Options.DefaultSecretID) must be one of
// Options.SecretIDs; the key is the one the value names ("stableId", or "key") among the
// valid DECRYPT keys of that secret id (Provider.Named), so data made under an older alias
// still decrypts while that alias is mapped. The MAC (or GCM tag) is checked, in constant
// time, before anything is decrypted. The legacy and asymmetric forms of x-simple-encryption
// authenticate nothing and are read only with Options.AllowLegacy and
// Options.AllowAsymmetric.
//
// Errors: ErrNotAllowed (secret id or form not allowed by the Options), ErrMalformed,
// ErrTooLarge, errors.ErrUnsupported, secrets.ErrVerification (MAC, tag, padding or JSON
// check failed: one error whatever failed), and the Provider's errors.
func (c *Codec) Decrypt(ctx context.Context, value []byte) (json.RawMessage, error) {
	env, err := parseEnvelope(value)
	if err != nil {
		return nil, err
	}
	return c.decryptEnvelope(ctx, env)
}

// DecryptString decrypts a value whose plaintext is a JSON string and returns the string.
func (c *Codec) DecryptString(ctx context.Context, value []byte) (string, error) {
	pt, err := c.Decrypt(ctx, value)
	if err != nil {
		return "", err
	}
	n, err := parseJSON(pt, 1)
	if err != nil || n.Kind != kString {
		return "", fmt.Errorf("jsoncrypto: the decrypted value is not a JSON string")
	}
	return n.Str, nil
}

func (c *Codec) decryptEnvelope(ctx context.Context, env *envelope) (json.RawMessage, error) {
	switch env.typ {
	case TypeSimple:
		sv, err := parseSimple(env.value)
		if err != nil {
			return nil, err
		}
		if err := c.allow(sv.secretID, !sv.salted, sv.keyObj != nil); err != nil {
			return nil, err
		}
		return c.decryptSimple(ctx, sv)
	case TypeGCM:
		gv, err := parseGCM(env.value)
		if err != nil {
			return nil, err
		}
		if err := c.allow(gv.secretID, false, false); err != nil {
			return nil, err
		}
		return c.decryptGCM(ctx, gv)
	case TypeSaltedHash:
		return nil, unsupported("a salted-hash cannot be decrypted (use VerifyHash)")
	default:
		return nil, unsupported("$crypto type %q", clip(env.typ))
	}
}

// checkPlaintext validates decrypted bytes as one JSON value.
func checkPlaintext(pt []byte) error {
	if err := validJSON(pt, MaxDepth); err != nil {
		return fmt.Errorf("jsoncrypto: decrypted data is not JSON: %w", secrets.ErrVerification)
	}
	return nil
}

func (c *Codec) secretIDOf(purpose string) string {
	if purpose == "" {
		return c.o.DefaultSecretID
	}
	return purpose
}

// allow checks a value against the Options before any key is looked up: its secret id
// (purpose as written, "" for none) must be in SecretIDs, and an unauthenticated form must
// be allowed explicitly.
func (c *Codec) allow(purpose string, legacy, asymmetric bool) error {
	id := c.secretIDOf(purpose)
	if len(c.o.SecretIDs) == 0 {
		return fmt.Errorf("jsoncrypto: the value names secret id %q, but Options.SecretIDs is empty: list the secret ids the values may name: %w",
			clip(id), ErrNotAllowed)
	}
	if !slices.Contains(c.o.SecretIDs, id) {
		how := "its \"purpose\""
		if purpose == "" {
			how = "no \"purpose\": Options.DefaultSecretID"
		}
		return fmt.Errorf("jsoncrypto: the value names secret id %q (%s), which is not in Options.SecretIDs %q: %w",
			clip(id), how, c.o.SecretIDs, ErrNotAllowed)
	}
	switch {
	case legacy && !c.o.AllowLegacy:
		return fmt.Errorf("jsoncrypto: the value is in the legacy x-simple-encryption form (no salt, no MAC: unauthenticated), refused unless Options.AllowLegacy is set: %w",
			ErrNotAllowed)
	case asymmetric && !c.o.AllowAsymmetric:
		return fmt.Errorf("jsoncrypto: the value is in json-crypto's asymmetric form (RSA-wrapped session key: anyone with the public key can make one), refused unless Options.AllowAsymmetric is set: %w",
			ErrNotAllowed)
	}
	return nil
}
