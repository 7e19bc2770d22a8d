//go:build !cgo

package hsmstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/secretstores/secretstores/secrets"
)

// Store is a PKCS#11 secret store. In a build without cgo it cannot be opened.
type Store struct{ secrets.Store }

var errNoCgo = fmt.Errorf("hsmstore: PKCS#11 needs cgo (this binary was built with CGO_ENABLED=0): %w", errors.ErrUnsupported)

// Open fails in a build without cgo with an error wrapping errors.ErrUnsupported.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, errNoCgo
}

// Ping fails in a build without cgo with an error wrapping errors.ErrUnsupported.
func (s *Store) Ping(ctx context.Context) error { return errNoCgo }

// Stats is empty in a build without cgo.
func (s *Store) Stats() Stats { return Stats{} }
