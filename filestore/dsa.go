package filestore

import (
	"context"
	"crypto"
	//lint:ignore SA1019 DSA public keys are only described (x509 parses them), never used to sign
	"crypto/dsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/secretstores/secretstores/secrets"
)

// errDSAKey marks the error of a DSA private key: Go does not sign with DSA (crypto/dsa is
// deprecated), but the entry still serves its certificate chain and public key.
var errDSAKey = errors.New("DSA private key")

// dsaEntry is a DSA key entry: Chain and Public work, Sign returns an error wrapping
// errors.ErrUnsupported. Its Kind is secrets.KindUnknown (secrets has no DSA kind).
type dsaEntry struct {
	alias string
	chain []*x509.Certificate
}

func newDSAEntry(alias string, chain []*x509.Certificate) (secrets.Entry, bool) {
	if len(chain) == 0 {
		return nil, false
	}
	if _, ok := chain[0].PublicKey.(*dsa.PublicKey); !ok {
		return nil, false
	}
	return &dsaEntry{alias: alias, chain: chain}, true
}

func (e *dsaEntry) Alias() string              { return e.alias }
func (e *dsaEntry) Kind() secrets.Kind         { return secrets.KindUnknown }
func (e *dsaEntry) Algorithm() string          { return "DSA" }
func (e *dsaEntry) Chain() []*x509.Certificate { return e.chain }
func (e *dsaEntry) Public() crypto.PublicKey   { return e.chain[0].PublicKey }
func (e *dsaEntry) Sign(context.Context, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, &secrets.KeyError{Op: "sign", Alias: e.alias, Err: fmt.Errorf("a DSA key cannot sign here (Go's crypto/dsa is deprecated; use an RSA or EC key): %w", errors.ErrUnsupported)}
}

var _ secrets.EntrySigner = (*dsaEntry)(nil)
