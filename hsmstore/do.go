//go:build cgo

package hsmstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/secrets"
)

// do runs f on a pooled session. f returns broken=true when the session must not be
// reused (an operation failed after its Init).
//
// A fault (see faultLevel) is recovered once for every caller sharing the module, and f is
// run again once: a stale object handle costs one more try, a lost login or dead session a
// re-login, a dead device a re-initialisation. While the token is away calls fail at once
// with ErrUnavailable until the next reconnect attempt is due.
func (c *conn) do(ctx context.Context, f func(s pkcs11.SessionHandle) (broken bool, err error)) error {
	c.st.ops.Add(1)
	err := c.doRetry(ctx, f, nil)
	if err != nil && (errors.Is(err, ErrUnavailable) || errors.Is(err, errPoolTimeout) || isFault(err)) {
		c.st.errs.Add(1)
	}
	return err
}

// errWriteUnknown is wrapped by the error of a write that met a fault after it was sent.
var errWriteUnknown = errors.New("the token failed during a write, which may or may not have happened; it was not run again")

// doWrite runs a write (C_CreateObject, C_GenerateKey, C_GenerateKeyPair, C_DestroyObject,
// C_SetAttributeValue) as do runs an operation, except that f is not run again after a
// fault once it has set *sent, just before its first write call: the write may have reached
// the token and only its reply been lost, and running it again could leave a duplicate
// label or an orphan object, or report "not found" for what the first try deleted. The
// error then wraps ErrUnavailable and errWriteUnknown and says to check with Entry or
// Aliases. A fault before *sent is set is recovered and f run again, as do does.
func (c *conn) doWrite(ctx context.Context, f func(s pkcs11.SessionHandle, sent *bool) (broken bool, err error)) error {
	c.st.ops.Add(1)
	var sent bool
	err := c.doRetry(ctx, func(s pkcs11.SessionHandle) (bool, error) {
		sent = false
		return f(s, &sent)
	}, &sent)
	if err != nil && (errors.Is(err, ErrUnavailable) || errors.Is(err, errPoolTimeout) || isFault(err)) {
		c.st.errs.Add(1)
	}
	return err
}

// doRetry runs f, recovering from a fault and running f once more; not after a fault when
// sent is set (see doWrite).
func (c *conn) doRetry(ctx context.Context, f func(s pkcs11.SessionHandle) (bool, error), sent *bool) error {
	var handleRetried, recovered bool
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		gen, err := c.ready(ctx)
		if err != nil {
			return err
		}
		err = c.run(ctx, f)
		lvl := faultLevel(err)
		if lvl == noFault {
			return err
		}
		c.st.faults.Add(1)
		msg := err.Error()
		c.st.lastFault.Store(&msg)
		if sent != nil && *sent {
			// The next call recovers the connection; this one is not run again.
			return fmt.Errorf("hsmstore: token %q: %w: %w (check with Entry or Aliases): %w", c.tok.Label, ErrUnavailable, errWriteUnknown, err)
		}
		if (lvl == faultHandle || lvl == faultOp) && !handleRetried {
			// The entry dropped its handle and resolves it again on the next try; a session
			// with an operation left active was closed, and the next try gets another.
			handleRetried = true
			c.st.retries.Add(1)
			continue
		}
		if recovered {
			return fmt.Errorf("hsmstore: token %q: %w: %w", c.tok.Label, ErrUnavailable, err)
		}
		if lvl < faultSession {
			lvl = faultSession
		}
		if rerr := c.recover(ctx, gen, lvl, err); rerr != nil {
			return rerr
		}
		recovered = true
		c.st.retries.Add(1)
	}
}

// run runs f once on a pooled session.
func (c *conn) run(ctx context.Context, f func(s pkcs11.SessionHandle) (bool, error)) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return secrets.ErrClosed
	}
	if err := c.mod.enter(ctx, c.pool.wait, &c.st); err != nil {
		return err
	}
	defer c.mod.leave()
	s, err := c.pool.get(ctx)
	if err != nil {
		return err
	}
	broken, err := f(s)
	if isCKR(err, pkcs11.CKR_SESSION_HANDLE_INVALID) || isCKR(err, pkcs11.CKR_SESSION_CLOSED) {
		c.pool.drop(s)
		return err
	}
	if unexpected(err) {
		// One rule for every operation: an unexpected code is a fault only when a probe
		// says so; else it is the operation's answer (broken: the session is not reused).
		if ferr := c.faultOrNil(s, err); ferr != nil {
			err = ferr
		} else {
			err, broken = answer(err), true
		}
	}
	if faultLevel(err) >= faultOp {
		broken = true
	}
	c.pool.put(s, broken)
	return err
}

// An opKind is the kind of a PKCS#11 operation, for endOp.
type opKind int

const (
	opSign opKind = iota
	opVerify
	opEncrypt
	opDecrypt
)

// endOp ends the operation of kind k on sh after a call of it (C_Sign, C_Verify, C_Encrypt,
// C_Decrypt) failed, so that the session goes back to the pool with no operation active.
// PKCS#11 ends the operation on such a failure, but some modules keep it active
// (tpm2-pkcs11 after a failed C_Decrypt), and every later C_*Init on the session would
// answer CKR_OPERATION_ACTIVE. C_*Final ends it there, and answers
// CKR_OPERATION_NOT_INITIALIZED where it has ended already (C_SessionCancel, PKCS#11 3.0,
// is not offered by miekg/pkcs11). Its answer is not used: a session on which an
// operation stays active anyway is closed when the next call on it meets
// CKR_OPERATION_ACTIVE (faultOp), and that call runs again on another.
func (c *conn) endOp(sh pkcs11.SessionHandle, k opKind) {
	switch k {
	case opSign:
		_, _ = c.p11.SignFinal(sh)
	case opVerify:
		_ = c.p11.VerifyFinal(sh, nil)
	case opEncrypt:
		_, _ = c.p11.EncryptFinal(sh)
	case opDecrypt:
		_, _ = c.p11.DecryptFinal(sh)
	}
}
