//go:build cgo

package hsmstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/secrets"
)

// A module is one loaded PKCS#11 library with the connections (one per token) on it.
// crypto11 owns C_Initialize/C_Finalize (its last Close per library finalizes) and the
// C_Login of each connection; p11 is our own handle on the same dlopen'ed library for the
// calls crypto11 does not offer.
//
// Recovery is per module: re-initialising the library (C_Finalize + C_Initialize) ends every
// session and login on it, so it is done once for every connection on the module, and
// concurrent callers on any of them share it.
type module struct {
	path  string
	p11   *pkcs11.Ctx
	conns map[string]*conn // guarded by registry.mu

	// gen moves on every successful recovery; entries re-resolve their object handles when
	// it differs from the generation they resolved them in.
	gen atomic.Uint64

	recMu      sync.Mutex
	recovering chan struct{} // non-nil while a recovery runs; closed when it ends
	backoffMin time.Duration
	backoffMax time.Duration

	// ownInit: p11 is a module instance of its own, which we initialise, finalise and log
	// in ourselves. Some modules (p11-kit-client.so) return a separate instance, with its
	// own connection to the server, for every C_GetFunctionList: crypto11's instance then
	// shares nothing with ours.
	ownInit bool

	// calls, when not nil, lets one call at a time into p11 (see serialModule): run holds
	// it around its calls, and so do connect and release for theirs on a module that is in
	// use. Recovery needs not: it holds every connection's mu for writing.
	calls chan struct{}
}

// serialModule reports whether the module at path must get one call at a time.
//
// p11-kit-client.so (p11-kit's RPC client, 0.24.1 in Debian 12) multiplexes the calls of
// all threads on one socket: the thread that reads a reply header meant for another thread
// parks in pthread_cond_wait until the header's owner has read the reply. When the
// connection breaks after a header was read (the server or the network goes away), the
// owner's read fails and it returns CKR_DEVICE_ERROR and closes the socket without
// resetting the pending header or signalling the condition: every other thread waiting on
// that socket sleeps forever in pthread_cond_wait, and nothing can wake it (found by
// TestLongSoak: native stacks of the hung process had every in-flight C_SignInit, C_Sign,
// C_FindObjects*, C_GetAttributeValue in p11-kit-client's pthread_cond_wait on one
// condition variable, the socket closed, the reply header of a finished call still
// pending). With one call at a time no thread ever waits for another's reply. The p11-kit
// server handles the calls of one connection one at a time anyway.
func serialModule(path string) bool {
	return strings.HasPrefix(filepath.Base(path), "p11-kit-client")
}

// enter waits (up to wait, or until ctx is done) for the right to call into a serial
// module; leave gives it back. Both do nothing on other modules.
func (m *module) enter(ctx context.Context, wait time.Duration, st *connStats) error {
	if m.calls == nil {
		return nil
	}
	select {
	case m.calls <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case m.calls <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		st.poolTimeouts.Add(1)
		return errPoolTimeout
	}
}

func (m *module) leave() {
	if m.calls != nil {
		<-m.calls
	}
}

// lock and unlock are enter and leave without a limit, for connect and release.
func (m *module) lock() {
	if m.calls != nil {
		m.calls <- struct{}{}
	}
}

func (m *module) unlock() { m.leave() }

// registry holds the process's connections, so that every Store on one (library, token)
// shares one crypto11 context and one login.
var registry struct {
	mu      sync.Mutex
	modules map[string]*module
	salt    [32]byte
	once    sync.Once
}

// A conn is the process's single connection to one token.
type conn struct {
	mod  *module
	key  string
	c11  *crypto11.Context // nil while the module is down; guarded by mu (write) during recovery
	p11  *pkcs11.Ctx
	slot uint
	tok  pkcs11.TokenInfo
	log  *slog.Logger

	// what a re-initialisation needs to log in again; never logged or put into an error
	pin     string
	c11wait time.Duration

	mechs   map[uint]pkcs11.MechanismInfo
	pinHash [32]byte
	refs    int // guarded by registry.mu

	pool *sessionPool

	// mu is held for reading by every token operation and for writing by close and by
	// recovery, so both wait for operations in flight.
	mu       sync.RWMutex
	closed   bool
	isClosed atomic.Bool

	// pinErr is set (under mod.recMu) when the token rejected the PIN on a re-login: the
	// connection then fails at once, without another C_Login.
	pinErr error
	// down is set (under mod.recMu) while the last recovery failed for this token: calls
	// fail at once until nextTry, when one of them starts a reconnect attempt. Each token
	// has its own backoff, so a token that stays away does not keep the module's other
	// tokens down (though each of its attempts re-initialises the module for all of them).
	down      bool
	downSince time.Time
	nextTry   time.Time
	backoff   time.Duration
	lastErr   error

	st connStats

	manageMu sync.Mutex

	subs secrets.Subscribers // every Store on the connection; Store.Subscribe names the store
}

type connStats struct {
	ops, errs, faults, recoveries, failedRecoveries, relogins, reinits, retries, failFast, poolWaits, poolTimeouts atomic.Uint64
	lastFault                                                                                                      atomic.Pointer[string]
}

func pinDigest(pin string) [32]byte {
	registry.once.Do(func() { _, _ = rand.Read(registry.salt[:]) })
	h := sha256.New()
	h.Write(registry.salt[:])
	h.Write([]byte(pin))
	var d [32]byte
	h.Sum(d[:0])
	return d
}

const (
	defaultMaxSessions = 16
	defaultPoolWait    = 30 * time.Second
	defaultBackoffMin  = 200 * time.Millisecond
	defaultBackoffMax  = 10 * time.Second
)

func isPINError(err error) bool {
	return isCKR(err, pkcs11.CKR_PIN_INCORRECT) || isCKR(err, pkcs11.CKR_PIN_INVALID) || isCKR(err, pkcs11.CKR_PIN_LEN_RANGE) ||
		isCKR(err, pkcs11.CKR_PIN_LOCKED) || isCKR(err, pkcs11.CKR_PIN_EXPIRED)
}

// connect returns the shared connection for cfg, creating it (one C_Login) when it is the
// first in the process, or failing with ErrWrongPIN, without a C_Login, when a connection
// to the token exists and pin differs from the one it was opened with.
func connect(cfg *Config) (*conn, error) {
	lib, sel, pin, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(lib); err == nil {
		lib = abs
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.modules == nil {
		registry.modules = map[string]*module{}
	}
	m := registry.modules[lib]
	var slot uint
	var ti pkcs11.TokenInfo
	if m != nil {
		// Other connections on the module may be calling into it.
		m.lock()
		defer m.unlock()
		slot, ti, err = findSlot(m.p11, sel)
		if err != nil {
			return nil, err
		}
		if c := m.conns[connKey(slot, ti)]; c != nil {
			d := pinDigest(pin)
			if subtle.ConstantTimeCompare(d[:], c.pinHash[:]) != 1 {
				return nil, fmt.Errorf("hsmstore: token %q: %w: the token is already open in this process with another PIN", ti.Label, secrets.ErrWrongPIN)
			}
			c.refs++
			return c, nil
		}
	} else {
		p := pkcs11.New(lib)
		if p == nil {
			return nil, fmt.Errorf("hsmstore: cannot load PKCS#11 module %s", lib)
		}
		err := p.Initialize()
		weInit := err == nil
		if err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			p.Destroy()
			return nil, fmt.Errorf("hsmstore: initialise PKCS#11 module %s: %w", lib, err)
		}
		slot, ti, err = findSlot(p, sel)
		if weInit {
			// crypto11 initialises the module itself and fails if it is initialised.
			_ = p.Finalize()
		}
		if err != nil {
			p.Destroy()
			return nil, err
		}
		m = &module{path: lib, p11: p, conns: map[string]*conn{}}
		if serialModule(lib) {
			m.calls = make(chan struct{}, 1)
		}
	}
	if m.backoffMin == 0 {
		m.backoffMin, m.backoffMax = cfg.ReconnectBackoff, cfg.ReconnectBackoffMax
		if m.backoffMin <= 0 {
			m.backoffMin = defaultBackoffMin
		}
		if m.backoffMax <= 0 {
			m.backoffMax = defaultBackoffMax
		}
		if m.backoffMax < m.backoffMin {
			m.backoffMax = m.backoffMin
		}
	}
	maxSessions := cfg.MaxSessions
	if maxSessions == 0 {
		maxSessions = defaultMaxSessions
	}
	if maxSessions < 2 {
		maxSessions = 2
	}
	wait := cfg.PoolWaitTimeout
	if wait <= 0 {
		wait = defaultPoolWait
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &conn{mod: m, p11: m.p11, slot: slot, tok: ti, pin: pin, c11wait: wait, log: log}
	c11, err := crypto11.Configure(c.c11Config())
	if err != nil {
		if len(m.conns) == 0 {
			m.p11.Destroy()
		}
		if isPINError(err) {
			log.Error("hsmstore: the token rejected the PIN", "token", ti.Label, "serial", ti.SerialNumber, "error", err)
			return nil, fmt.Errorf("hsmstore: log in to token %q: %w (%w)", ti.Label, secrets.ErrWrongPIN, err)
		}
		return nil, fmt.Errorf("hsmstore: open token %q: %w", ti.Label, err)
	}
	c.c11, c.key, c.pinHash, c.refs = c11, connKey(slot, ti), pinDigest(pin), 1
	if _, err := m.p11.GetSlotList(true); isCKR(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
		// crypto11's C_Initialize did not reach our instance (see module.ownInit).
		if err := m.p11.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			_ = c11.Close()
			if len(m.conns) == 0 {
				m.p11.Destroy()
			}
			return nil, fmt.Errorf("hsmstore: initialise PKCS#11 module %s: %w", lib, err)
		}
		m.ownInit = true
	}
	if ti.SerialNumber != "" {
		// Slot IDs may change across C_Initialize (SoftHSM); find the token again by serial.
		if s, t, err := findSlot(m.p11, selector{serial: ti.SerialNumber}); err == nil {
			c.slot, c.tok = s, t
		}
	}
	c.mechs = map[uint]pkcs11.MechanismInfo{}
	if list, err := m.p11.GetMechanismList(c.slot); err == nil {
		for _, mech := range list {
			c.mechs[mech.Mechanism] = pkcs11.MechanismInfo{}
		}
	}
	c.pool = newSessionPool(m.p11, c.slot, maxSessions, wait, &c.st)
	if err := c.loginOwn(false); err != nil {
		_ = c11.Close()
		if len(m.conns) == 0 {
			if m.ownInit {
				_ = m.p11.Finalize()
			}
			m.p11.Destroy()
		}
		if isPINError(err) {
			return nil, fmt.Errorf("hsmstore: log in to token %q: %w (%w)", ti.Label, secrets.ErrWrongPIN, err)
		}
		return nil, fmt.Errorf("hsmstore: open token %q: %w", ti.Label, err)
	}
	m.conns[c.key] = c
	registry.modules[lib] = m
	log.Info("hsmstore: logged in", "token", c.tok.Label, "serial", c.tok.SerialNumber, "slot", c.slot, "module", lib)
	return c, nil
}

// c11Config is the crypto11 configuration that opens (again) this connection's token.
func (c *conn) c11Config() *crypto11.Config {
	cfg := &crypto11.Config{Path: c.mod.path, Pin: c.pin, MaxSessions: 2, PoolWaitTimeout: c.c11wait}
	if c.tok.SerialNumber != "" {
		cfg.TokenSerial = c.tok.SerialNumber
	} else {
		n := int(c.slot)
		cfg.SlotNumber = &n
	}
	return cfg
}

func connKey(slot uint, ti pkcs11.TokenInfo) string {
	if ti.SerialNumber != "" {
		return "serial:" + ti.SerialNumber
	}
	return "slot:" + strconv.FormatUint(uint64(slot), 10)
}

// release drops one reference; the last closes the connection, after the operations in
// flight on it (and any recovery) end.
func (c *conn) release() error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	c.refs--
	if c.refs > 0 {
		return nil
	}
	c.isClosed.Store(true)
	c.mu.Lock()
	c.closed = true
	c.mod.lock() // other connections on the module may be calling into it
	c.pool.close()
	var err error
	if c.c11 != nil {
		err = c.c11.Close()
		c.c11 = nil
	}
	c.mod.unlock()
	c.mu.Unlock()
	delete(c.mod.conns, c.key)
	if len(c.mod.conns) == 0 {
		delete(registry.modules, c.mod.path)
		if c.mod.ownInit {
			_ = c.mod.p11.Finalize()
		}
		c.mod.p11.Destroy()
	}
	return err
}

// findSlot returns the one slot whose token matches sel.
func findSlot(p *pkcs11.Ctx, sel selector) (uint, pkcs11.TokenInfo, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsmstore: list slots: %w", err)
	}
	if sel.slotIndex != nil || (sel == selector{}) {
		i := 0
		if sel.slotIndex != nil {
			i = *sel.slotIndex
		}
		if i >= len(slots) {
			return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsmstore: slot list index %d: only %d slots with a token", i, len(slots))
		}
		ti, err := p.GetTokenInfo(slots[i])
		if err != nil {
			return 0, ti, fmt.Errorf("hsmstore: token info of slot %d: %w", slots[i], err)
		}
		return slots[i], ti, nil
	}
	var found []uint
	var foundTI pkcs11.TokenInfo
	for _, s := range slots {
		if sel.slotID != nil && *sel.slotID != s {
			continue
		}
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		if (sel.label != "" && ti.Label != sel.label) || (sel.serial != "" && ti.SerialNumber != sel.serial) ||
			(sel.manufacturer != "" && ti.ManufacturerID != sel.manufacturer) || (sel.model != "" && ti.Model != sel.model) {
			continue
		}
		if sel.slotDesc != "" || sel.slotManuf != "" {
			si, err := p.GetSlotInfo(s)
			if err != nil || (sel.slotDesc != "" && si.SlotDescription != sel.slotDesc) || (sel.slotManuf != "" && si.ManufacturerID != sel.slotManuf) {
				continue
			}
		}
		found = append(found, s)
		foundTI = ti
	}
	switch len(found) {
	case 0:
		return 0, foundTI, fmt.Errorf("hsmstore: no initialised token with %v: %w", sel, secrets.ErrNotFound)
	case 1:
		return found[0], foundTI, nil
	}
	return 0, foundTI, fmt.Errorf("hsmstore: %d tokens match %v: select by serial", len(found), sel)
}

func isCKR(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// hasMech reports whether the token lists mechanism m.
func (c *conn) hasMech(m uint) bool {
	_, ok := c.mechs[m]
	return ok
}

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

// put returns s to the pool, or closes it when broken (an operation may still be active on
// it, or the session is gone).
func (p *sessionPool) put(s pkcs11.SessionHandle, broken bool) {
	if broken || p.closed.Load() {
		_ = p.p11.CloseSession(s)
		<-p.sem
		return
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
		if lvl == faultHandle && !handleRetried {
			// The entry dropped its handle and resolves it again on the next try.
			handleRetried = true
			c.st.retries.Add(1)
			continue
		}
		if recovered {
			return fmt.Errorf("hsmstore: token %q: %w: %w", c.tok.Label, ErrUnavailable, err)
		}
		if lvl == faultHandle {
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
	if isCKR(err, pkcs11.CKR_GENERAL_ERROR) && !isFault(err) {
		// Tokens answer CKR_GENERAL_ERROR when the login vanishes in the middle of a call
		// (SoftHSM, on a private key, racing a C_Logout): ask the session what it is.
		if perr := c.checkLive(s); isFault(perr) {
			err = &faultError{level: faultLevel(perr), err: fmt.Errorf("%w (after %v)", perr, err)}
		}
	}
	if faultLevel(err) >= faultSession {
		broken = true
	}
	c.pool.put(s, broken)
	return err
}

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
		if c.c11 == nil {
			errs[c] = errors.New("hsmstore: the token is still away")
			continue
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

// loginOwn makes sure our module instance is logged in to the token: a no-op where
// crypto11's C_Login reached it (the same instance), one C_Login otherwise (module.ownInit).
// The session used goes into the pool. Called with c.mu held for writing, or before c is
// shared.
func (c *conn) loginOwn(count bool) error {
	sh, err := c.p11.OpenSession(c.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("hsmstore: C_OpenSession: %w", err)
	}
	if err := c.loginSession(sh, count); err != nil {
		_ = c.p11.CloseSession(sh)
		return err
	}
	c.pool.add(sh)
	return nil
}

// loginSession logs the application in through sh unless it is logged in. A rejected PIN
// sets c.pinErr.
func (c *conn) loginSession(sh pkcs11.SessionHandle, count bool) error {
	info, err := c.p11.GetSessionInfo(sh)
	if err != nil {
		return fmt.Errorf("hsmstore: C_GetSessionInfo: %w", err)
	}
	if info.State == pkcs11.CKS_RO_USER_FUNCTIONS || info.State == pkcs11.CKS_RW_USER_FUNCTIONS || c.tok.Flags&pkcs11.CKF_LOGIN_REQUIRED == 0 {
		return nil
	}
	if count {
		c.st.relogins.Add(1)
	}
	err = c.p11.Login(sh, pkcs11.CKU_USER, c.pin)
	switch {
	case err == nil || isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN):
		if count {
			c.log.Info("hsmstore: logged in again", "token", c.tok.Label, "serial", c.tok.SerialNumber)
		}
		return nil
	case isPINError(err):
		if count {
			c.setPINErr(err)
		}
		return err
	}
	return fmt.Errorf("hsmstore: C_Login: %w", err)
}

func (c *conn) setPINErr(err error) {
	c.log.Error("hsmstore: the token rejected the PIN on a re-login; not trying again (close and reopen the store with the right PIN)", "token", c.tok.Label, "serial", c.tok.SerialNumber, "error", err)
	c.mod.recMu.Lock()
	c.pinErr = fmt.Errorf("hsmstore: token %q: %w: %w: the token rejected the PIN on a re-login (%w); no further C_Login is attempted", c.tok.Label, ErrUnavailable, secrets.ErrWrongPIN, err)
	c.mod.recMu.Unlock()
}

// reinit closes every connection's crypto11 context, makes sure the module is finalised,
// and configures each connection again (C_Initialize, token by serial, C_Login).
func (m *module) reinit(conns []*conn) (map[*conn]error, error) {
	for _, c := range conns {
		c.st.reinits.Add(1)
		if c.c11 != nil {
			_ = c.c11.Close()
			c.c11 = nil
		}
	}
	// crypto11 finalises on the last Close of the library. If something else in the process
	// holds a crypto11 context on it, the module is still initialised: finalise and
	// initialise it here so that crypto11 finds a fresh one.
	if err := m.p11.Finalize(); err == nil || m.ownInit {
		if err := m.p11.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return nil, fmt.Errorf("hsmstore: C_Initialize: %w", err)
		}
	}
	errs := map[*conn]error{}
	for _, c := range conns {
		c11, err := crypto11.Configure(c.c11Config())
		if err != nil {
			if isPINError(err) {
				c.setPINErr(err)
				continue
			}
			errs[c] = fmt.Errorf("hsmstore: reopen token %q: %w", c.tok.Label, err)
			continue
		}
		c.c11 = c11
		if c.tok.SerialNumber != "" {
			if s, _, err := findSlot(m.p11, selector{serial: c.tok.SerialNumber}); err == nil {
				c.slot, c.pool.slot = s, s
			}
		}
		if err := c.loginOwn(true); err != nil {
			if isPINError(err) {
				continue
			}
			errs[c] = fmt.Errorf("hsmstore: log in to token %q again: %w", c.tok.Label, err)
			continue
		}
		c.log.Info("hsmstore: logged in", "token", c.tok.Label, "serial", c.tok.SerialNumber, "slot", c.slot, "module", m.path, "reinitialised", true)
	}
	return errs, nil
}

// stats returns a snapshot of the connection's counters.
func (c *conn) stats() Stats {
	m := c.mod
	s := Stats{
		Operations:       c.st.ops.Load(),
		Errors:           c.st.errs.Load(),
		Faults:           c.st.faults.Load(),
		Recoveries:       c.st.recoveries.Load(),
		FailedRecoveries: c.st.failedRecoveries.Load(),
		Relogins:         c.st.relogins.Load(),
		Reinits:          c.st.reinits.Load(),
		Retries:          c.st.retries.Load(),
		FailedFast:       c.st.failFast.Load(),
		PoolWaits:        c.st.poolWaits.Load(),
		PoolTimeouts:     c.st.poolTimeouts.Load(),
		Sessions:         len(c.pool.sem),
		IdleSessions:     len(c.pool.idle),
		MaxSessions:      cap(c.pool.sem),
	}
	if p := c.st.lastFault.Load(); p != nil {
		s.LastFault = *p
	}
	m.recMu.Lock()
	s.Up = !c.down && c.pinErr == nil && !c.isClosed.Load()
	if c.down {
		s.DownSince = c.downSince
	}
	m.recMu.Unlock()
	return s
}
