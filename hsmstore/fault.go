//go:build cgo

package hsmstore

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

func isPINError(err error) bool {
	return isCKR(err, pkcs11.CKR_PIN_INCORRECT) || isCKR(err, pkcs11.CKR_PIN_INVALID) || isCKR(err, pkcs11.CKR_PIN_LEN_RANGE) ||
		isCKR(err, pkcs11.CKR_PIN_LOCKED) || isCKR(err, pkcs11.CKR_PIN_EXPIRED)
}

func isCKR(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// Fault levels: what a PKCS#11 error says about the connection.
const (
	noFault      = iota
	faultHandle  // an object handle is stale: the entry re-resolves it, the call is retried
	faultSession // lost login or dead sessions: new sessions and C_Login
	faultModule  // device gone or broken: C_Finalize + C_Initialize, then log in again
)

// A faultError marks a fault found by a probe rather than returned by the call itself (an
// empty search on a token that is logged out or gone).
type faultError struct {
	level int
	err   error
}

func (e *faultError) Error() string { return e.err.Error() }
func (e *faultError) Unwrap() error { return e.err }

func faultLevel(err error) int {
	if err == nil {
		return noFault
	}
	var fe *faultError
	if errors.As(err, &fe) {
		return fe.level
	}
	var e pkcs11.Error
	if !errors.As(err, &e) {
		return noFault
	}
	switch uint(e) {
	case pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID:
		return faultHandle
	case pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED:
		return faultSession
	case pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_DEVICE_REMOVED,
		pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_SLOT_ID_INVALID:
		return faultModule
	}
	return noFault
}

// isFault reports whether err is a fault of the connection rather than an answer.
func isFault(err error) bool { return faultLevel(err) != noFault }

var errLoggedOut = &faultError{level: faultSession, err: fmt.Errorf("hsmstore: the session is not logged in (an empty search would be wrong): %w", pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN))}

// checkLive tells an empty search from a lost login or a vanished token: crypto11 and
// PKCS#11 itself answer "no objects" for private objects after a C_Logout, and SoftHSM does
// the same when the token's files are gone. It returns nil when the session is logged in
// and the token answers, else a fault.
func (c *conn) checkLive(sh pkcs11.SessionHandle) error {
	info, err := c.p11.GetSessionInfo(sh)
	if err != nil {
		return fmt.Errorf("hsmstore: C_GetSessionInfo: %w", err)
	}
	if c.tok.Flags&pkcs11.CKF_LOGIN_REQUIRED != 0 && info.State != pkcs11.CKS_RO_USER_FUNCTIONS && info.State != pkcs11.CKS_RW_USER_FUNCTIONS {
		return errLoggedOut
	}
	if _, err := c.p11.GetTokenInfo(c.slot); err != nil {
		return &faultError{level: faultModule, err: fmt.Errorf("hsmstore: C_GetTokenInfo: the token does not answer: %w", err)}
	}
	return nil
}

// faultOrNil tells a failed decryption from an outage: err itself when it is a fault, the
// fault a probe of the session finds (tokens answer CKR_GENERAL_ERROR both for a bad tag
// and for a login lost during the call), or nil when the failure is the data's.
func (c *conn) faultOrNil(sh pkcs11.SessionHandle, err error) error {
	if isFault(err) {
		return err
	}
	if perr := c.checkLive(sh); isFault(perr) {
		return &faultError{level: faultLevel(perr), err: fmt.Errorf("%w (after %v)", perr, err)}
	}
	return nil
}
