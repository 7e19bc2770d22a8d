//go:build cgo

package hsmstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/secrets"
)

// ready waits for a running recovery, fails fast while the token is away, and starts a
// reconnect attempt when one is due. It returns the module's generation.
func (c *conn) ready(ctx context.Context) (uint64, error) {
	m := c.mod
	for {
		if c.isClosed.Load() {
			return 0, secrets.ErrClosed
		}
		m.recMu.Lock()
		if c.pinErr != nil {
			err := c.pinErr
			m.recMu.Unlock()
			c.st.failFast.Add(1)
			return 0, err
		}
		ch := m.recovering
		if ch == nil && !c.down {
			g := m.gen.Load()
			m.recMu.Unlock()
			return g, nil
		}
		if ch == nil {
			if wait := time.Until(c.nextTry); wait > 0 {
				err := c.unavailable(wait)
				m.recMu.Unlock()
				c.st.failFast.Add(1)
				return 0, err
			}
			ch = m.startRecovery(faultModule, c.lastErr)
		}
		m.recMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// unavailable is the error of a call refused while the token is away; mod.recMu is held.
func (c *conn) unavailable(wait time.Duration) error {
	if wait < 0 {
		wait = 0
	}
	return fmt.Errorf("hsmstore: token %q: %w since %s (next reconnect attempt in %v): %w",
		c.tok.Label, ErrUnavailable, c.downSince.Format(time.RFC3339), wait.Round(time.Millisecond), c.lastErr)
}

// recover recovers from a fault seen by an operation that started in generation gen: it
// returns nil at once when another caller has recovered since, joins a recovery that runs,
// or runs one. It returns nil when the operation may be retried.
func (c *conn) recover(ctx context.Context, gen uint64, lvl int, cause error) error {
	m := c.mod
	m.recMu.Lock()
	if m.gen.Load() != gen && !c.down {
		m.recMu.Unlock()
		return nil
	}
	ch := m.recovering
	if ch == nil {
		if c.down {
			err := c.unavailable(time.Until(c.nextTry))
			m.recMu.Unlock()
			return err
		}
		ch = m.startRecovery(lvl, cause)
	}
	m.recMu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.recMu.Lock()
	defer m.recMu.Unlock()
	switch {
	case c.pinErr != nil:
		return c.pinErr
	case c.down:
		return c.unavailable(time.Until(c.nextTry))
	}
	return nil
}

// startRecovery starts a recovery in its own goroutine (so that no caller's context cancels
// it) and returns the channel closed when it ends. m.recMu is held.
func (m *module) startRecovery(lvl int, cause error) chan struct{} {
	ch := make(chan struct{})
	m.recovering = ch
	go m.runRecovery(lvl, cause, ch)
	return ch
}

func (m *module) runRecovery(lvl int, cause error, done chan struct{}) {
	start := time.Now()
	conns, errs, err := m.recoverOnce(lvl, cause)
	m.recMu.Lock()
	defer m.recMu.Unlock()
	defer close(done)
	m.recovering = nil
	if errors.Is(err, secrets.ErrClosed) {
		return
	}
	// Handles may be gone whatever the outcome: entries look their keys up again.
	m.gen.Add(1)
	now := time.Now()
	for _, c := range conns {
		cerr := err
		if cerr == nil {
			cerr = errs[c]
		}
		if cerr == nil {
			c.st.recoveries.Add(1)
			downtime := now.Sub(start)
			if c.down {
				downtime = now.Sub(c.downSince)
			}
			c.log.Info("hsmstore: recovered", "token", c.tok.Label, "serial", c.tok.SerialNumber, "took", now.Sub(start).Round(time.Microsecond), "downtime", downtime.Round(time.Millisecond))
			c.down, c.backoff, c.lastErr = false, 0, nil
			continue
		}
		c.st.failedRecoveries.Add(1)
		if !c.down {
			c.down, c.downSince = true, now
		}
		if c.backoff == 0 {
			c.backoff = m.backoffMin
		} else if c.backoff *= 2; c.backoff > m.backoffMax {
			c.backoff = m.backoffMax
		}
		c.nextTry, c.lastErr = now.Add(c.backoff), cerr
		c.log.Error("hsmstore: recovery failed; calls fail at once until the next attempt", "token", c.tok.Label, "serial", c.tok.SerialNumber, "error", cerr, "retry_in", c.backoff, "down_since", c.downSince)
	}
}

// recoverOnce re-logs in (lvl faultSession) or re-initialises the module (faultModule, or
// when a re-login meets a dead device) for every connection on the module. It holds
// registry.mu and every connection's mu, so no operation runs meanwhile.
//
// It returns the connections and, per connection, the error that leaves it down; the error
// is for the whole module.
func (m *module) recoverOnce(lvl int, cause error) ([]*conn, map[*conn]error, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.modules[m.path] != m || len(m.conns) == 0 {
		return nil, nil, secrets.ErrClosed
	}
	conns := make([]*conn, 0, len(m.conns))
	for _, c := range m.conns {
		conns = append(conns, c)
	}
	sort.Slice(conns, func(i, j int) bool { return conns[i].key < conns[j].key })
	for _, c := range conns {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	for _, c := range conns {
		c.log.Warn("hsmstore: token fault, recovering", "token", c.tok.Label, "serial", c.tok.SerialNumber, "cause", cause, "reinitialise", lvl == faultModule)
	}
	// Close every idle session first: after C_CloseAllSessions their handles may be reused
	// by the sessions opened below.
	for _, c := range conns {
		c.pool.reset()
	}
	if lvl < faultModule {
		errs, err := m.relogin(conns)
		if err == nil {
			return conns, errs, nil
		}
		for _, c := range conns {
			c.log.Warn("hsmstore: re-login failed, re-initialising the module", "token", c.tok.Label, "error", err)
		}
		for _, c := range conns {
			c.pool.reset()
		}
	}
	errs, err := m.reinit(conns)
	return conns, errs, err
}

// relogin opens a session per connection and logs in where the login is lost. A rejected
// PIN marks that connection failed (no second C_Login); a connection whose token is away
// stays down; any other error means the module needs re-initialising.
func (m *module) relogin(conns []*conn) (map[*conn]error, error) {
	errs := map[*conn]error{}
	for _, c := range conns {
		if c.away {
			errs[c] = errors.New("hsmstore: the token is still away")
			continue
		}
		// The slot must still hold the token that was opened: a re-login never reaches
		// another token (re-initialising finds the token again, or fails).
		if ti, err := m.p11.GetTokenInfo(c.slot); err != nil || !sameToken(ti, c.tok) {
			if err == nil {
				err = fmt.Errorf("slot %d now holds %s", c.slot, tokenName(c.slot, ti))
			}
			return nil, fmt.Errorf("hsmstore: %s: %w", tokenName(c.slot, c.tok), err)
		}
		sh, err := m.p11.OpenSession(c.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return nil, fmt.Errorf("hsmstore: C_OpenSession: %w", err)
		}
		if err := c.loginSession(sh, true); err != nil {
			_ = m.p11.CloseSession(sh)
			if isPINError(err) {
				continue
			}
			return nil, err
		}
		if _, err := m.p11.GetTokenInfo(c.slot); err != nil {
			_ = m.p11.CloseSession(sh)
			return nil, fmt.Errorf("hsmstore: C_GetTokenInfo: %w", err)
		}
		c.pool.add(sh)
	}
	return errs, nil
}

// reinit re-initialises the module, when hsmstore owns its initialisation, and logs every
// connection in again on its token, found again by what was opened (conn.locate): never on
// another token.
//
// A module that another component of the process initialised (crypto11 configured before
// the first Open) is not finalised under it: if it is still initialised, sessions are
// opened and logged in again as they are; if that component has finalised it, hsmstore
// initialises it and owns it from then on.
func (m *module) reinit(conns []*conn) (map[*conn]error, error) {
	for _, c := range conns {
		c.st.reinits.Add(1)
	}
	reinitialised := m.owner || !m.initialized()
	if reinitialised {
		if m.owner {
			_ = m.p11.Finalize()
			m.owner = false
		}
		if err := m.initialize(); err != nil {
			return nil, err
		}
	}
	errs := map[*conn]error{}
	for _, c := range conns {
		s, _, err := c.locate()
		if err != nil {
			c.away = true
			errs[c] = err
			continue
		}
		c.away = false
		c.slot, c.pool.slot = s, s
		if err := c.loginOwn(true); err != nil {
			if isPINError(err) {
				continue
			}
			errs[c] = fmt.Errorf("hsmstore: log in to %s again: %w", tokenName(c.slot, c.tok), err)
			continue
		}
		c.log.Info("hsmstore: logged in", "token", c.tok.Label, "serial", c.tok.SerialNumber, "slot", c.slot, "module", m.path, "reinitialised", reinitialised)
	}
	return errs, nil
}
