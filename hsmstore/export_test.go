//go:build cgo

package hsmstore

import "github.com/miekg/pkcs11"

// WithoutRawRSA makes s's connection behave as on a token without CKM_RSA_X_509 (call it
// before any operation on the connection).
func WithoutRawRSA(s *Store) { delete(s.c.mechs, pkcs11.CKM_RSA_X_509) }

// SetWriteHook makes f see (and possibly replace) the result of every key-management write
// call until the returned function is called.
func SetWriteHook(f func(call string, err error) error) (restore func()) {
	writeHook.Store(&f)
	return func() { writeHook.Store(nil) }
}

// TempPrefix starts the temporary names of entries being made to replace others.
const TempPrefix = tempPrefix
