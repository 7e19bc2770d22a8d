package jsoncrypto

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// Types of $crypto values ("$crypto"."type").
const (
	// TypeSimple is ForgeRock json-crypto's x-simple-encryption (AES/CBC/PKCS5Padding, HKDF,
	// truncated HMAC-SHA256), what IDM writes for encrypted configuration and properties.
	TypeSimple = "x-simple-encryption"
	// TypeSaltedHash is IDM's one-way hash of a property (passwords).
	TypeSaltedHash = "salted-hash"
	// TypeGCM is this package's modern scheme: AES-GCM done by the store (Secret.Seal), so
	// the key may stay inside an HSM. IDM does not read it; the distinct type makes IDM leave
	// such a value alone rather than fail to decrypt it.
	TypeGCM = "x-secretstores-aes-gcm"
)

// Ciphers ("value"."cipher").
const (
	CipherCBC = "AES/CBC/PKCS5Padding"
	CipherGCM = "AES/GCM/NoPadding"
)

// Limits. Larger input is refused with an error wrapping ErrTooLarge before any parsing.
const (
	// MaxValueSize bounds one serialized $crypto object.
	MaxValueSize = 1 << 20
	// MaxPlaintextSize bounds the JSON text of a value to encrypt.
	MaxPlaintextSize = 512 << 10
	// MaxDocumentSize bounds a JSON document given to the document helpers.
	MaxDocumentSize = 16 << 20
	// MaxDepth bounds the nesting of arrays and objects in a document.
	MaxDepth = 256

	maxEnvelopeDepth = 8
)

// DefaultSecretID is the secret id of a $crypto value that names no "purpose" (IDM's rule).
const DefaultSecretID = "idm.default"

var (
	// ErrMalformed: the input is not a well-formed $crypto object (missing or mistyped
	// field, bad base64, wrong IV or tag length, duplicate member, invalid JSON).
	ErrMalformed = errors.New("jsoncrypto: malformed $crypto value")
	// ErrTooLarge: the input exceeds one of the size limits.
	ErrTooLarge = errors.New("jsoncrypto: input too large")
	// ErrAliasInUse: CheckRetire found data that still names the alias.
	ErrAliasInUse = errors.New("jsoncrypto: alias still in use")
	// ErrNotAllowed: a value the Codec's Options do not allow it to read: one naming a
	// secret id outside Options.SecretIDs, or an unauthenticated form (legacy, asymmetric)
	// without Options.AllowLegacy or Options.AllowAsymmetric. Refused before any key is
	// looked up.
	ErrNotAllowed = errors.New("jsoncrypto: not allowed by the Codec's Options")
)

// Errors about the data wrap ErrMalformed, errors.ErrUnsupported (unknown type, cipher or
// hash algorithm), secrets.ErrVerification (a MAC, tag, padding or hash that does not check),
// secrets.ErrWrongKind, secrets.ErrNotFound or secrets.ErrNoMapping (from the Provider),
// secrets.ErrNotExtractable, or ErrNotAllowed (a secret id or form the Options do not allow). They name fields, never their values, and never key bytes or
// plaintext.

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("jsoncrypto: "+format+": %w", append(args, errors.ErrUnsupported)...)
}

// envelope is a parsed {"$crypto": {"type": ..., "value": ...}}.
type envelope struct {
	typ   string
	value *node
}

// parseEnvelope parses one serialized $crypto object.
func parseEnvelope(data []byte) (*envelope, error) {
	if len(data) > MaxValueSize {
		return nil, fmt.Errorf("%w: $crypto value of %d bytes (limit %d)", ErrTooLarge, len(data), MaxValueSize)
	}
	n, err := parseJSON(data, maxEnvelopeDepth)
	if err != nil {
		return nil, malformed("%v", err)
	}
	return envelopeOf(&n)
}

// isEnvelope reports whether n has the shape IDM recognises as encrypted: an object whose
// only member is "$crypto".
func isEnvelope(n *node) bool {
	return n.Kind == kObject && len(n.Members) == 1 && n.Members[0].Key == "$crypto"
}

func envelopeOf(n *node) (*envelope, error) {
	if n.Kind != kObject || n.Get("$crypto") == nil {
		return nil, malformed("not a {\"$crypto\": ...} object")
	}
	if len(n.Members) != 1 {
		return nil, malformed("a $crypto object has members besides \"$crypto\"")
	}
	c := &n.Members[0].Val
	if c.Kind != kObject {
		return nil, malformed("\"$crypto\" is a %v, not an object", c.Kind)
	}
	if err := noDuplicates(c); err != nil {
		return nil, err
	}
	t := c.Get("type")
	if t == nil || t.Kind != kString {
		return nil, malformed("\"$crypto\".\"type\" missing or not a string")
	}
	v := c.Get("value")
	if v == nil || v.Kind != kObject {
		return nil, malformed("\"$crypto\".\"value\" missing or not an object")
	}
	return &envelope{typ: t.Str, value: v}, nil
}

// noDuplicates rejects an object (or nested object) that names a member twice: Java's
// Jackson keeps the last, encoding/json too, but a MAC over such a value is ambiguous.
// Linear in the size of n (a set for all but small objects: a 1 MiB value of distinct
// members took ~30 s compared pairwise).
func noDuplicates(n *node) error {
	switch n.Kind {
	case kObject:
		var seen map[string]struct{}
		if len(n.Members) > 8 {
			seen = make(map[string]struct{}, len(n.Members))
		}
		for i := range n.Members {
			k := n.Members[i].Key
			dup := false
			if seen != nil {
				_, dup = seen[k]
				seen[k] = struct{}{}
			} else {
				for j := 0; j < i && !dup; j++ {
					dup = n.Members[j].Key == k
				}
			}
			if dup {
				return malformed("member %q appears twice", clip(k))
			}
			if err := noDuplicates(&n.Members[i].Val); err != nil {
				return err
			}
		}
	case kArray:
		for i := range n.Elems {
			if err := noDuplicates(&n.Elems[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// str returns the string member name of v: ok=false when absent; an error when present
// but not a string.
func str(v *node, name string) (string, bool, error) {
	m := v.Get(name)
	if m == nil {
		return "", false, nil
	}
	if m.Kind != kString {
		return "", false, malformed("field %q is a %v, not a string", name, m.Kind)
	}
	return m.Str, true, nil
}

func requiredStr(v *node, name string) (string, error) {
	s, ok, err := str(v, name)
	if err == nil && !ok {
		err = malformed("field %q missing", name)
	}
	return s, err
}

// b64 decodes standard padded base64 (java.util.Base64 and ForgeRock's encoder write it).
func b64(v *node, name string, required bool) ([]byte, bool, error) {
	s, ok, err := str(v, name)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		if required {
			return nil, false, malformed("field %q missing", name)
		}
		return nil, false, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, false, malformed("field %q is not base64", name)
	}
	return b, true, nil
}

// Info describes a $crypto value without decrypting it.
type Info struct {
	// Type is "$crypto"."type": TypeSimple, TypeGCM, TypeSaltedHash or another.
	Type string
	// Cipher is the value's "cipher" (encryption types).
	Cipher string
	// Alias is the key the value names: "stableId", or the 2016 and legacy "key" (for the
	// 2016 asymmetric form, the alias inside the "key" object).
	Alias string
	// SecretID is the value's "purpose", or "" when it has none (IDM then uses
	// DefaultSecretID).
	SecretID string
	// Algorithm is a salted hash's "algorithm".
	Algorithm string
	// Legacy is true for the pre-2016 x-simple-encryption form: no salt and no MAC, the
	// data encrypted directly with the key. Nothing in it is authenticated
	// (Options.AllowLegacy).
	Legacy bool
	// Asymmetric is true for json-crypto's 2016 asymmetric x-simple-encryption form: a
	// session key wrapped with an RSA public key. Anyone with the public key can make one
	// (Options.AllowAsymmetric).
	Asymmetric bool
}

// Inspect parses a serialized $crypto object and reports what it names. It checks the
// fields of the types it knows (TypeSimple, TypeGCM, TypeSaltedHash): their presence, JSON
// types, base64 and lengths. Other types are reported with only Type set and an error
// wrapping errors.ErrUnsupported.
func Inspect(data []byte) (Info, error) {
	env, err := parseEnvelope(data)
	if err != nil {
		return Info{}, err
	}
	return env.info()
}

func (env *envelope) info() (Info, error) {
	info := Info{Type: env.typ}
	switch env.typ {
	case TypeSimple:
		sv, err := parseSimple(env.value)
		if err != nil {
			return info, err
		}
		info.Cipher, info.Alias, info.SecretID, info.Legacy, info.Asymmetric = sv.cipher, sv.alias, sv.secretID, !sv.salted, sv.keyObj != nil
	case TypeGCM:
		gv, err := parseGCM(env.value)
		if err != nil {
			return info, err
		}
		info.Cipher, info.Alias, info.SecretID = CipherGCM, gv.alias, gv.secretID
	case TypeSaltedHash:
		hv, err := parseHash(env.value)
		if err != nil {
			return info, err
		}
		info.Algorithm = hv.algorithm
	default:
		return info, unsupported("$crypto type %q", clip(env.typ))
	}
	return info, nil
}
