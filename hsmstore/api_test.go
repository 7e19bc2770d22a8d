package hsmstore_test

import (
	"context"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/secrets"
)

// The cgo and !cgo builds offer the same method set, so code using hsmstore compiles with
// CGO_ENABLED=0 (scripts/test vets both builds).
var (
	_ secrets.Store     = (*hsmstore.Store)(nil)
	_ secrets.Generator = (*hsmstore.Store)(nil)
	_ secrets.Importer  = (*hsmstore.Store)(nil)
	_ secrets.Deleter   = (*hsmstore.Store)(nil)
	_ secrets.Notifier  = (*hsmstore.Store)(nil)
	_ interface {
		Ping(context.Context) error
		Stats() hsmstore.Stats
		ExportCertificate(context.Context, string) ([]byte, error)
		TokenLabel() string
		TokenSerial() string
	} = (*hsmstore.Store)(nil)
)
