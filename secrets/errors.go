package secrets

import (
	"errors"
	"strings"
)

// Sentinel errors, tested with errors.Is. Errors from this module wrap them, often inside a
// *KeyError that names the store and alias. No error carries a PIN, a password or key bytes.
var (
	// ErrNotFound: the alias (or store) does not exist.
	ErrNotFound = errors.New("secrets: not found")
	// ErrNoMapping: no mapping gives the secret id the purpose asked for.
	ErrNoMapping = errors.New("secrets: no mapping")
	// ErrNotExtractable: the key may not leave its store (an HSM key with CKA_EXTRACTABLE=false
	// or CKA_SENSITIVE=true).
	ErrNotExtractable = errors.New("secrets: key not extractable")
	// ErrWrongKind: the entry's kind cannot do what was asked (signing with a certificate,
	// Seal with a generic secret).
	ErrWrongKind = errors.New("secrets: wrong kind of key")
	// ErrWrongPIN: the PIN or password was rejected.
	ErrWrongPIN = errors.New("secrets: wrong PIN or password")
	// ErrClosed: the store or provider is closed.
	ErrClosed = errors.New("secrets: closed")
	// ErrExists: the alias already exists and overwriting was not asked for.
	ErrExists = errors.New("secrets: alias exists")
	// ErrReadOnly: the store cannot be written (a JCEKS or JKS file).
	ErrReadOnly = errors.New("secrets: store is read-only")
	// ErrUnavailable: the store could not be reached or did not work (an HSM away, a lost
	// network link); the call did nothing and may succeed later. Not a missing key.
	ErrUnavailable = errors.New("secrets: store unavailable")
	// ErrVerification: a MAC, signature or AEAD tag did not verify.
	ErrVerification = errors.New("secrets: verification failed")
)

// A KeyError is an error about one key: the store and alias it concerns, the operation, and
// the cause (which usually wraps a sentinel above).
type KeyError struct {
	Op       string  // "sign", "decrypt", "mac", "lookup", ...
	Store    string  // store name, "" when unknown
	Alias    string  // alias, "" when unknown
	SecretID string  // secret id, when the error came through a Provider
	Purpose  Purpose // purpose, when the error came through a Provider
	Err      error
}

func (e *KeyError) Error() string {
	var b strings.Builder
	b.WriteString("secrets: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.SecretID != "" {
		b.WriteString("secret id ")
		b.WriteString(e.SecretID)
		if e.Purpose != "" {
			b.WriteString(" (")
			b.WriteString(string(e.Purpose))
			b.WriteString(")")
		}
		b.WriteString(": ")
	}
	if e.Store != "" {
		b.WriteString("store ")
		b.WriteString(e.Store)
		b.WriteString(": ")
	}
	if e.Alias != "" {
		b.WriteString("alias ")
		b.WriteString(e.Alias)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "secrets: "))
	}
	return b.String()
}

func (e *KeyError) Unwrap() error { return e.Err }
