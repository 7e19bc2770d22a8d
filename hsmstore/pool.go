//go:build cgo

package hsmstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
)

// sessionPool hands out R/W sessions on one slot, one operation at a time: no session is
// held between calls of the public API.
type sessionPool struct {
	p11    *pkcs11.Ctx
	slot   uint // changed only by recovery, with conn.mu held for writing
	idle   chan pkcs11.SessionHandle
	sem    chan struct{}
	wait   time.Duration
	closed atomic.Bool
	st     *connStats

	// gone is set when a call finds its session closed behind our back (another component's
	// C_CloseAllSessions): every handle of the pool may then be stale, and tokens give the
	// numbers of closed sessions to new ones (SoftHSM: the lowest free), so a stale handle
	// may name a session another goroutine has just opened, and a call on it would share
	// that session or close it under the other goroutine (SoftHSM frees a session closed
	// while a call runs on it). Until recovery, which holds every call off, closes the idle
	// handles and clears it, the pool hands out and opens no session.
	gone atomic.Bool
}

// errSessionsGone is what a call gets from a pool whose sessions were found closed.
var errSessionsGone = &faultError{level: faultSession, err: fmt.Errorf("hsmstore: the pool's sessions were closed (another component's C_CloseAllSessions?): %w", pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID))}

func newSessionPool(p *pkcs11.Ctx, slot uint, max int, wait time.Duration, st *connStats) *sessionPool {
	return &sessionPool{p11: p, slot: slot, idle: make(chan pkcs11.SessionHandle, max), sem: make(chan struct{}, max), wait: wait, st: st}
}

var errPoolTimeout = errors.New("hsmstore: timed out waiting for a free PKCS#11 session (raise MaxSessions or PoolWaitTimeout)")

func (p *sessionPool) open() (pkcs11.SessionHandle, error) {
	s, err := p.p11.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		<-p.sem
		return 0, fmt.Errorf("hsmstore: C_OpenSession: %w", err)
	}
	return s, nil
}

func (p *sessionPool) get(ctx context.Context) (pkcs11.SessionHandle, error) {
	if p.gone.Load() {
		return 0, errSessionsGone
	}
	select {
	case s := <-p.idle:
		return s, nil
	default:
	}
	select {
	case s := <-p.idle:
		return s, nil
	case p.sem <- struct{}{}:
		return p.open()
	default:
	}
	p.st.poolWaits.Add(1)
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case s := <-p.idle:
		return s, nil
	case p.sem <- struct{}{}:
		return p.open()
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-t.C:
		p.st.poolTimeouts.Add(1)
		return 0, errPoolTimeout
	}
}

// put returns s to the pool, or replaces it when broken (an operation may still be active
// on it, or the session is gone): a new session is opened before s is closed, because
// closing an application's last session logs it out of the token (PKCS#11 §5.6), and a
// module may then answer for a private key with a code that says nothing of a lost login
// (NSS: CKR_KEY_SIZE_RANGE).
func (p *sessionPool) put(s pkcs11.SessionHandle, broken bool) {
	if p.closed.Load() {
		_ = p.p11.CloseSession(s)
		<-p.sem
		return
	}
	if broken {
		ns, err := p.p11.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		_ = p.p11.CloseSession(s)
		if err != nil {
			<-p.sem
			return
		}
		s = ns
	}
	select {
	case p.idle <- s:
	default:
		_ = p.p11.CloseSession(s)
		<-p.sem
	}
}

// drop forgets s, a handle the token no longer knows, without closing it: its number may
// already be another session's. Every other handle of the pool is suspect from now on.
func (p *sessionPool) drop(s pkcs11.SessionHandle) {
	p.gone.Store(true) // before the slot is free, so that no one opens a session in it
	<-p.sem
}

// add puts a session opened by recovery into the pool.
func (p *sessionPool) add(s pkcs11.SessionHandle) {
	select {
	case p.sem <- struct{}{}:
		p.put(s, false)
	default:
		_ = p.p11.CloseSession(s)
	}
}

// reset closes the idle sessions and clears gone; callers hold conn.mu for writing, so
// none is in use.
func (p *sessionPool) reset() {
	for {
		select {
		case s := <-p.idle:
			_ = p.p11.CloseSession(s)
			<-p.sem
		default:
			p.gone.Store(false)
			return
		}
	}
}

func (p *sessionPool) close() {
	p.closed.Store(true)
	p.reset()
}
