//go:build cgo

package hsmstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// capMechs are the mechanisms of each Capability: any one of them will do.
var capMechs = map[Capability][]uint{
	CapHMACSHA256:      {pkcs11.CKM_SHA256_HMAC},
	CapHMACSHA384:      {pkcs11.CKM_SHA384_HMAC},
	CapHMACSHA512:      {pkcs11.CKM_SHA512_HMAC},
	CapAESGCM:          {pkcs11.CKM_AES_GCM},
	CapRSASignPKCS1:    {pkcs11.CKM_RSA_PKCS},
	CapRSASignPSS:      {pkcs11.CKM_RSA_PKCS_PSS},
	CapRSADecryptPKCS1: {pkcs11.CKM_RSA_X_509, pkcs11.CKM_RSA_PKCS},
	CapRSADecryptOAEP:  {pkcs11.CKM_RSA_PKCS_OAEP},
	CapECDSASign:       {pkcs11.CKM_ECDSA},
	CapGenerateSecret:  {pkcs11.CKM_GENERIC_SECRET_KEY_GEN},
	CapGenerateAES:     {pkcs11.CKM_AES_KEY_GEN},
	CapGenerateRSA:     {pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN},
	CapGenerateEC:      {pkcs11.CKM_EC_KEY_PAIR_GEN},
}

// Capabilities returns the capabilities of the store's token, in the order of
// AllCapabilities: those whose mechanism the token listed (C_GetMechanismList) when the
// store was opened, less key generation once the module answered
// CKR_FUNCTION_NOT_SUPPORTED to C_GenerateKey. A capability listed may still fail for a key whose attributes forbid
// it, or for a key size the token refuses.
func (s *Store) Capabilities() []Capability {
	var cs []Capability
	for _, c := range AllCapabilities {
		if s.c.supports(c) == nil {
			cs = append(cs, c)
		}
	}
	return cs
}

// Supports returns nil when the token can do c, else an error wrapping
// errors.ErrUnsupported that names the mechanism it lacks; it makes no PKCS#11 call.
func (s *Store) Supports(c Capability) error { return s.c.supports(c) }

// usable returns ctx's error when it is done (a cancelled call fails with
// context.Canceled, whatever the token lacks), else supports(cp).
func (c *conn) usable(ctx context.Context, cp Capability) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.supports(cp)
}

func (c *conn) supports(cp Capability) error {
	ms, ok := capMechs[cp]
	if !ok {
		return fmt.Errorf("hsmstore: unknown capability %q: %w", cp, errors.ErrUnsupported)
	}
	if (cp == CapGenerateSecret || cp == CapGenerateAES) && c.noGenerateKey.Load() {
		return fmt.Errorf("hsmstore: %s: the module of token %q has no C_GenerateKey (it answered CKR_FUNCTION_NOT_SUPPORTED): %w", cp, c.tok.Label, errors.ErrUnsupported)
	}
	for _, m := range ms {
		if c.hasMech(m) {
			return nil
		}
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = mechName(m)
	}
	hint := ""
	if cp == CapAESGCM && c.viaP11Kit {
		// p11-kit 0.24's RPC cannot carry CK_GCM_PARAMS and leaves the mechanism out.
		hint = " (the module is p11-kit's RPC client or proxy, which cannot carry CK_GCM_PARAMS: AES-GCM needs the token's own module)"
	}
	return fmt.Errorf("hsmstore: %s: token %q (%s %s) lacks %s%s: %w", cp, c.tok.Label, strings.TrimSpace(c.tok.ManufacturerID),
		strings.TrimSpace(c.tok.Model), strings.Join(names, " and "), hint, errors.ErrUnsupported)
}

// wanted reports whether m is the mechanism of some Capability (conn reads its
// CK_MECHANISM_INFO at open).
func wanted(m uint) bool {
	for _, ms := range capMechs {
		for _, x := range ms {
			if x == m {
				return true
			}
		}
	}
	return false
}
