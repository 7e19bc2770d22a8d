//go:build !cgo

package hsmstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/secretstores/secretstores/secrets"
)

// Store is a PKCS#11 secret store. In a build without cgo it cannot be opened: Open fails,
// so no *Store exists and the methods below, which keep the cgo build's method set so that
// code using them compiles, are never reached; they fail like Open.
type Store struct{}

var errNoCgo = fmt.Errorf("hsmstore: PKCS#11 needs cgo (this binary was built with CGO_ENABLED=0): %w", errors.ErrUnsupported)

// Open fails in a build without cgo with an error wrapping errors.ErrUnsupported.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, errNoCgo
}

// Name returns "" without cgo.
func (s *Store) Name() string { return "" }

// TokenLabel returns "" without cgo.
func (s *Store) TokenLabel() string { return "" }

// TokenSerial returns "" without cgo.
func (s *Store) TokenSerial() string { return "" }

// Entry fails without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) Entry(ctx context.Context, alias string) (secrets.Entry, error) { return nil, errNoCgo }

// Aliases fails without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) Aliases(ctx context.Context) ([]string, error) { return nil, errNoCgo }

// Generate fails without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) Generate(ctx context.Context, alias string, spec secrets.KeySpec, overwrite bool) (secrets.Entry, error) {
	return nil, errNoCgo
}

// Import fails without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) Import(ctx context.Context, alias string, km secrets.KeyMaterial, overwrite bool) (secrets.Entry, error) {
	return nil, errNoCgo
}

// Delete fails without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) Delete(ctx context.Context, alias string) error { return errNoCgo }

// ExportCertificate fails without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) ExportCertificate(ctx context.Context, alias string) ([]byte, error) {
	return nil, errNoCgo
}

// Subscribe registers nothing without cgo.
func (s *Store) Subscribe(f func(secrets.Change)) (unsubscribe func()) { return func() {} }

// Ping fails in a build without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) Ping(ctx context.Context) error { return errNoCgo }

// Stats is empty in a build without cgo.
func (s *Store) Stats() Stats { return Stats{} }

// Close does nothing without cgo.
func (s *Store) Close() error { return nil }

// CanGenerate fails without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) CanGenerate(ctx context.Context, spec secrets.KeySpec) error { return errNoCgo }

// Capabilities returns nil without cgo.
func (s *Store) Capabilities() []Capability { return nil }

// Supports fails without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) Supports(c Capability) error { return errNoCgo }
