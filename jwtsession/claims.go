package jwtsession

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/secretstores/secretstores/internal/strictjson"
)

// Claim names of IDM's session token.
const (
	ClaimID          = "jti"
	ClaimExpiry      = "exp"
	ClaimNotBefore   = "nbf"
	ClaimIssuedAt    = "iat"
	ClaimIdleExpiry  = "tokenIdleTimeSeconds" // epoch seconds of the idle deadline
	ClaimPrincipal   = "prn"
	ClaimSessionID   = "sessionId"
	ClaimAuthContext = "org.forgerock.authentication.context"
)

var reservedClaims = map[string]bool{
	ClaimID: true, ClaimExpiry: true, ClaimNotBefore: true, ClaimIssuedAt: true,
	ClaimIdleExpiry: true, ClaimPrincipal: true, ClaimSessionID: true, ClaimAuthContext: true,
}

// Claims are what a caller puts into a session.
type Claims struct {
	// Principal is the authenticated user (claim prn).
	Principal string
	// SessionID identifies the session (claim sessionId); "" means a new random UUID.
	SessionID string
	// Context is IDM's authentication context (claim
	// org.forgerock.authentication.context): roles, ids, ...; omitted when nil.
	Context map[string]any
	// Extra holds further claims. Names of the claims above are refused by Issue.
	// Numbers come back from Validate as json.Number.
	Extra map[string]any
}

// A Session is a validated (or newly issued) token. Its maps are shared with the cache:
// treat a Session as read-only.
type Session struct {
	Claims
	// ID is the token id (claim jti), kept across refreshes.
	ID string
	// IssuedAt and NotBefore are iat and nbf; Expiry is exp (the absolute end); IdleExpiry
	// is tokenIdleTimeSeconds (the end unless refreshed).
	IssuedAt, NotBefore, Expiry, IdleExpiry time.Time
	// SigningKey and EncryptionKey are the aliases that signed and encrypted the token
	// (for Validate: the keys that verified and decrypted it).
	SigningKey, EncryptionKey string
	// Token is the compact token.
	Token string
}

// Deadline returns the earlier of Expiry and IdleExpiry.
func (s *Session) Deadline() time.Time {
	if s.IdleExpiry.Before(s.Expiry) {
		return s.IdleExpiry
	}
	return s.Expiry
}

func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:]), nil
}

// marshalClaims renders the claims of s as IDM does.
func marshalClaims(s *Session) ([]byte, error) {
	m := make(map[string]any, 8+len(s.Extra))
	for k, v := range s.Extra {
		if reservedClaims[k] {
			return nil, fmt.Errorf("jwtsession: Claims.Extra may not set the reserved claim %q", k)
		}
		m[k] = v
	}
	m[ClaimID] = s.ID
	m[ClaimIssuedAt] = s.IssuedAt.Unix()
	m[ClaimNotBefore] = s.NotBefore.Unix()
	m[ClaimExpiry] = s.Expiry.Unix()
	m[ClaimIdleExpiry] = s.IdleExpiry.Unix()
	if s.Principal != "" {
		m[ClaimPrincipal] = s.Principal
	}
	m[ClaimSessionID] = s.SessionID
	if s.Context != nil {
		m[ClaimAuthContext] = s.Context
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("jwtsession: claims do not marshal to JSON: %w", err)
	}
	return b, nil
}

// parseObject decodes a JSON object into its members, refusing duplicate names, trailing
// data and anything but an object.
func parseObject(data []byte) (map[string]json.RawMessage, error) {
	m, err := strictjson.ParseObject(data, strictjson.Options{ReplaceInvalidUTF8: true})
	if err == nil {
		return m, nil
	}
	var dup *strictjson.DuplicateError
	switch first := bytes.TrimLeft(data, " \t\r\n"); {
	case errors.As(err, &dup):
		return nil, fmt.Errorf("duplicate member %q", truncate(dup.Key))
	case len(first) > 0 && first[0] == '{' && errors.Is(err, strictjson.ErrTrailingData):
		return nil, errors.New("data after the JSON object")
	case len(first) > 0 && first[0] == '{':
		return nil, errors.New("bad JSON")
	case errors.Is(err, strictjson.ErrNotObject), len(first) > 0 && first[0] == '[':
		return nil, errors.New("not a JSON object")
	}
	return nil, errors.New("not JSON")
}

// truncate shortens attacker-supplied text quoted in an error.
func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func claimString(m map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := m[name]
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%w: claim %s is not a string", ErrClaims, name)
	}
	return s, true, nil
}

// maxEpoch bounds time claims (year 2500) so arithmetic cannot overflow.
const maxEpoch = 16725225600

func claimTime(m map[string]json.RawMessage, name string) (time.Time, bool, error) {
	raw, ok := m[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return time.Time{}, false, fmt.Errorf("%w: claim %s is not a number", ErrClaims, name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > maxEpoch {
		return time.Time{}, false, fmt.Errorf("%w: claim %s is not a time in epoch seconds", ErrClaims, name)
	}
	if i, err := n.Int64(); err == nil {
		return time.Unix(i, 0), true, nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// parseClaims turns a claims set into a Session (times not yet checked).
func parseClaims(data []byte) (*Session, error) {
	m, err := parseObject(data)
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrClaims, err)
	}
	s := &Session{}
	var ok bool
	if s.ID, _, err = claimString(m, ClaimID); err != nil {
		return nil, err
	}
	if s.Principal, _, err = claimString(m, ClaimPrincipal); err != nil {
		return nil, err
	}
	if s.SessionID, _, err = claimString(m, ClaimSessionID); err != nil {
		return nil, err
	}
	if s.Expiry, ok, err = claimTime(m, ClaimExpiry); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: claim exp is missing", ErrClaims)
	}
	if s.IdleExpiry, ok, err = claimTime(m, ClaimIdleExpiry); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: claim %s is missing", ErrClaims, ClaimIdleExpiry)
	}
	if s.IssuedAt, _, err = claimTime(m, ClaimIssuedAt); err != nil {
		return nil, err
	}
	if s.NotBefore, _, err = claimTime(m, ClaimNotBefore); err != nil {
		return nil, err
	}
	if raw, ok := m[ClaimAuthContext]; ok && string(raw) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&s.Context); err != nil || s.Context == nil {
			return nil, fmt.Errorf("%w: claim %s is not an object", ErrClaims, ClaimAuthContext)
		}
	}
	for k, raw := range m {
		if reservedClaims[k] {
			continue
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: claim %q", ErrClaims, truncate(k))
		}
		if s.Extra == nil {
			s.Extra = make(map[string]any)
		}
		s.Extra[k] = v
	}
	return s, nil
}

// header is the part of a JOSE header this package reads.
type header struct {
	alg, enc, typ, cty, kid string
	hasCty                  bool
}

// parseHeader decodes a protected header, refusing duplicates and any member but alg,
// enc (JWE only), typ, cty and kid.
func parseHeader(b64 string, jwe bool) (header, error) {
	var h header
	data, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil {
		return h, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	m, err := parseObject(data)
	if err != nil {
		return h, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	for k, raw := range m {
		var dst *string
		switch k {
		case "alg":
			dst = &h.alg
		case "typ":
			dst = &h.typ
		case "cty":
			dst = &h.cty
			h.hasCty = true
		case "kid":
			dst = &h.kid
		case "enc":
			if jwe {
				dst = &h.enc
			}
		}
		if dst == nil {
			return h, fmt.Errorf("%w: header member %q is not allowed", ErrAlgorithm, truncate(k))
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return h, fmt.Errorf("%w: header member %q is not a string", ErrMalformed, k)
		}
	}
	if h.alg == "" {
		return h, fmt.Errorf("%w: header has no alg", ErrAlgorithm)
	}
	if jwe && h.enc == "" {
		return h, fmt.Errorf("%w: JWE header has no enc", ErrAlgorithm)
	}
	return h, nil
}

func eqFold(a, b string) bool { return strings.EqualFold(a, b) }
