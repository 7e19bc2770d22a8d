package jwtsession

import "errors"

// Errors returned by Validate, Refresh and the HTTP glue, tested with errors.Is. Each
// error from this package wraps exactly one of them (key lookup failures wrap the
// secrets sentinels instead) and says what was wrong; no error carries key bytes or the
// token's claims.
var (
	// ErrNoSession: the request carries no session cookie.
	ErrNoSession = errors.New("jwtsession: no session cookie")
	// ErrTooLarge: the token exceeds Config.MaxTokenSize; it was not parsed.
	ErrTooLarge = errors.New("jwtsession: token too large")
	// ErrMalformed: the token is not a compact JWS whose payload is a compact JWE (wrong
	// number of parts, bad base64url, bad JSON, duplicate header or claim names, JWE
	// outside instead of inside).
	ErrMalformed = errors.New("jwtsession: malformed token")
	// ErrAlgorithm: a header names an algorithm, encryption, type or field the profile
	// does not allow (alg none, HS/RS confusion, RSA-OAEP in the IDM profile, a crit
	// or jwk header, cty other than JWT).
	ErrAlgorithm = errors.New("jwtsession: algorithm or header not allowed")
	// ErrUnknownKey: the token names a key (kid) that is not a valid key of the mapping.
	ErrUnknownKey = errors.New("jwtsession: unknown key")
	// ErrSignature: no valid signing key verifies the outer JWS.
	ErrSignature = errors.New("jwtsession: signature does not verify")
	// ErrDecryption: the inner JWE does not decrypt or its authentication tag does not
	// verify under any valid decryption key.
	ErrDecryption = errors.New("jwtsession: decryption failed")
	// ErrClaims: a required claim is missing or has the wrong type.
	ErrClaims = errors.New("jwtsession: invalid claims")
	// ErrExpired: now is at or past exp (plus leeway).
	ErrExpired = errors.New("jwtsession: token expired")
	// ErrIdleExpired: now is at or past the idle deadline tokenIdleTimeSeconds (plus
	// leeway).
	ErrIdleExpired = errors.New("jwtsession: session idle for too long")
	// ErrNotYetValid: nbf or iat lies in the future (beyond leeway).
	ErrNotYetValid = errors.New("jwtsession: token not yet valid")
	// ErrMaxLife (Modern profile, or Config.LimitLifetime): exp or the idle deadline
	// lies further ahead than Config.MaxLife or Config.IdleTimeout allow (a token made
	// under other settings, or forged by a key holder).
	ErrMaxLife = errors.New("jwtsession: token lifetime beyond the configured maximum")
	// ErrRevoked: the revocation hook rejected the session.
	ErrRevoked = errors.New("jwtsession: session revoked")
	// ErrForbidden: the middleware's X-Requested-With rule refused a cookie-authenticated
	// request.
	ErrForbidden = errors.New("jwtsession: X-Requested-With header required")
)
