//go:build cgo

package hsmstore

import "github.com/miekg/pkcs11"

// WithoutRawRSA makes s's connection behave as on a token without CKM_RSA_X_509 (call it
// before any operation on the connection).
func WithoutRawRSA(s *Store) { delete(s.c.mechs, pkcs11.CKM_RSA_X_509) }
