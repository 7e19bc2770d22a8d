package jsoncrypto

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// The modern scheme, TypeGCM:
//
//	{"$crypto": {"type": "x-secretstores-aes-gcm", "value": {
//	    "cipher": "AES/GCM/NoPadding", "stableId": alias, "purpose": secretID,
//	    "data": base64(nonce(12) ‖ ciphertext ‖ tag(16))}}}
//
// data is Secret.Seal's output, made where the key lives (inside the token for an HSM), with
// additional data binding the type, cipher, alias and purpose:
//
//	aad = for each of type, cipher, stableId, purpose: uint32 big-endian length ‖ UTF-8
//
// AES-256 when the key is 256-bit (secrets.KeySpec's default for AES).

const gcmOverhead = storekit.GCMNonceSize + 16

type gcmValue struct {
	alias    string
	secretID string // as written ("" when absent)
	sealed   []byte
}

func parseGCM(v *node) (*gcmValue, error) {
	// v comes from envelopeOf, which has rejected duplicate members.
	c, err := requiredStr(v, "cipher")
	if err != nil {
		return nil, err
	}
	if c != CipherGCM {
		return nil, unsupported("%s cipher %q (want %s)", TypeGCM, clip(c), CipherGCM)
	}
	gv := &gcmValue{}
	if gv.alias, err = requiredStr(v, "stableId"); err != nil {
		return nil, err
	}
	if gv.alias == "" {
		return nil, malformed("the key alias is empty")
	}
	if gv.secretID, _, err = str(v, "purpose"); err != nil {
		return nil, err
	}
	if gv.sealed, _, err = b64(v, "data", true); err != nil {
		return nil, err
	}
	if len(gv.sealed) < gcmOverhead {
		return nil, malformed("field \"data\" is shorter than a GCM nonce and tag")
	}
	for _, m := range v.Members {
		switch m.Key {
		case "cipher", "stableId", "purpose", "data":
		default:
			// Unlike x-simple-encryption, nothing outside the AAD is accepted.
			return nil, malformed("unknown field %q in a %s value", clip(m.Key), TypeGCM)
		}
	}
	return gv, nil
}

func gcmAAD(alias, purpose string) []byte {
	parts := [...]string{TypeGCM, CipherGCM, alias, purpose}
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	aad := make([]byte, 0, n)
	for _, p := range parts {
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(p)))
		aad = append(aad, p...)
	}
	return aad
}

func (c *Codec) encryptGCM(ctx context.Context, s *secrets.Secret, secretID string, pt []byte) (json.RawMessage, error) {
	if s.Kind() != secrets.KindAES {
		return nil, fmt.Errorf("jsoncrypto: key %q is %v; %s needs an AES key: %w", s.Alias(), s.Kind(), TypeGCM, secrets.ErrWrongKind)
	}
	sealed, err := s.Seal(ctx, pt, gcmAAD(s.Alias(), secretID))
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: encrypt: %w", err)
	}
	fields := [...]kv{{name: "cipher", val: CipherGCM}, {name: "stableId", val: s.Alias()},
		{name: "purpose", val: secretID}, {name: "data", bin: sealed}}
	return appendEnvelope(make([]byte, 0, envelopeSize(TypeGCM, fields[:])), TypeGCM, fields[:]), nil
}

func (c *Codec) decryptGCM(ctx context.Context, gv *gcmValue) (json.RawMessage, error) {
	s, err := c.p.Named(ctx, c.secretIDOf(gv.secretID), secrets.Decrypt, gv.alias)
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: decrypt: %w", err)
	}
	if s.Kind() != secrets.KindAES {
		return nil, fmt.Errorf("jsoncrypto: key %q is %v; %s needs an AES key: %w", s.Alias(), s.Kind(), TypeGCM, secrets.ErrWrongKind)
	}
	pt, err := s.Open(ctx, gv.sealed, gcmAAD(gv.alias, gv.secretID))
	if err != nil {
		return nil, fmt.Errorf("jsoncrypto: value named %q: %w", gv.alias, err)
	}
	if err := checkPlaintext(pt); err != nil {
		clear(pt)
		return nil, err
	}
	return pt, nil
}
