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
	faultOp      // an operation is still active on a pooled session: the session is closed, the call retried
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
	case pkcs11.CKR_OPERATION_ACTIVE:
		// Every operation of hsmstore starts on a session with none active (see endOp):
		// a session that still has one was left so by a module that did not end a failed
		// operation (tpm2-pkcs11 after a failed C_Decrypt).
		return faultOp
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

// answer marks err, which carries a code faultLevel would call a fault, as the operation's
// own answer: a probe found the token alive after it.
func answer(err error) error { return &faultError{level: noFault, err: err} }

// unexpected reports whether err is a return code that needs a probe to be understood: a
// module-level code (CKR_DEVICE_ERROR, ...) or CKR_GENERAL_ERROR straight from the module,
// not yet classified by a probe. Modules use them for a cryptographic "no" too (NSS answers
// a wrong HMAC tag with CKR_DEVICE_ERROR; SoftHSM a bad GCM tag, and tpm2-pkcs11 bad OAEP
// padding, with CKR_GENERAL_ERROR).
func unexpected(err error) bool {
	var fe *faultError
	if err == nil || errors.As(err, &fe) {
		return false
	}
	return faultLevel(err) == faultModule || isCKR(err, pkcs11.CKR_GENERAL_ERROR)
}

// faultOrNil tells an operation's failure from an outage, by one rule for every operation:
// a code that states a fault of the session or a handle is that fault; an unexpected code
// (see unexpected) is judged by a probe of the session and token (checkLive): when the probe
// fails the result is the fault the probe found (recovery follows), else nil (the failure is
// the operation's answer, whatever code the module used, and nothing is recovered). Both
// outcomes of a probe are counted in Stats. Any other code is the operation's answer: nil.
func (c *conn) faultOrNil(sh pkcs11.SessionHandle, err error) error {
	if !unexpected(err) {
		if isFault(err) {
			return err
		}
		return nil
	}
	if perr := c.checkLive(sh); isFault(perr) {
		c.st.probeDown.Add(1)
		return &faultError{level: faultLevel(perr), err: fmt.Errorf("%w (after %v)", perr, err)}
	}
	c.st.probeAlive.Add(1)
	return nil
}
