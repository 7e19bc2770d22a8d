//go:build cgo

package hsmstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/secrets"
)

// A module is one loaded PKCS#11 library with the connections (one per token) on it.
// crypto11 owns C_Initialize/C_Finalize (its last Close per library finalizes); p11 is our
// own handle on the same dlopen'ed library for the calls crypto11 does not offer.
type module struct {
	path  string
	p11   *pkcs11.Ctx
	conns map[string]*conn
}

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
	c11  *crypto11.Context
	p11  *pkcs11.Ctx
	slot uint
	tok  pkcs11.TokenInfo

	mechs   map[uint]pkcs11.MechanismInfo
	pinHash [32]byte
	refs    int // guarded by registry.mu

	pool *sessionPool

	// mu is held for reading by every token operation and for writing by close, so close
	// waits for operations in flight.
	mu     sync.RWMutex
	closed bool

	manageMu sync.Mutex

	subMu  sync.Mutex
	subs   map[int]func(secrets.Change)
	subSeq int
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
)

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
	c11cfg := &crypto11.Config{Path: lib, Pin: pin, MaxSessions: 2, PoolWaitTimeout: wait}
	if ti.SerialNumber != "" {
		c11cfg.TokenSerial = ti.SerialNumber
	} else {
		n := int(slot)
		c11cfg.SlotNumber = &n
	}
	c11, err := crypto11.Configure(c11cfg)
	if err != nil {
		if len(m.conns) == 0 {
			m.p11.Destroy()
		}
		if isCKR(err, pkcs11.CKR_PIN_INCORRECT) || isCKR(err, pkcs11.CKR_PIN_INVALID) || isCKR(err, pkcs11.CKR_PIN_LEN_RANGE) {
			return nil, fmt.Errorf("hsmstore: log in to token %q: %w (%w)", ti.Label, secrets.ErrWrongPIN, err)
		}
		return nil, fmt.Errorf("hsmstore: open token %q: %w", ti.Label, err)
	}
	c := &conn{mod: m, key: connKey(slot, ti), c11: c11, p11: m.p11, slot: slot, tok: ti, pinHash: pinDigest(pin), refs: 1}
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
	c.pool = newSessionPool(m.p11, c.slot, maxSessions, wait)
	m.conns[c.key] = c
	registry.modules[lib] = m
	return c, nil
}

func connKey(slot uint, ti pkcs11.TokenInfo) string {
	if ti.SerialNumber != "" {
		return "serial:" + ti.SerialNumber
	}
	return "slot:" + strconv.FormatUint(uint64(slot), 10)
}

// release drops one reference; the last closes the connection.
func (c *conn) release() error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	c.refs--
	if c.refs > 0 {
		return nil
	}
	c.mu.Lock()
	c.closed = true
	c.pool.close()
	c.mu.Unlock()
	err := c.c11.Close()
	delete(c.mod.conns, c.key)
	if len(c.mod.conns) == 0 {
		delete(registry.modules, c.mod.path)
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
	slot   uint
	idle   chan pkcs11.SessionHandle
	sem    chan struct{}
	wait   time.Duration
	closed atomic.Bool
}

func newSessionPool(p *pkcs11.Ctx, slot uint, max int, wait time.Duration) *sessionPool {
	return &sessionPool{p11: p, slot: slot, idle: make(chan pkcs11.SessionHandle, max), sem: make(chan struct{}, max), wait: wait}
}

var errPoolTimeout = errors.New("hsmstore: timed out waiting for a free PKCS#11 session (raise MaxSessions or PoolWaitTimeout)")

func (p *sessionPool) get(ctx context.Context) (pkcs11.SessionHandle, error) {
	select {
	case s := <-p.idle:
		return s, nil
	default:
	}
	select {
	case s := <-p.idle:
		return s, nil
	case p.sem <- struct{}{}:
		s, err := p.p11.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			<-p.sem
			return 0, fmt.Errorf("hsmstore: open session: %w", err)
		}
		return s, nil
	default:
	}
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case s := <-p.idle:
		return s, nil
	case p.sem <- struct{}{}:
		s, err := p.p11.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			<-p.sem
			return 0, fmt.Errorf("hsmstore: open session: %w", err)
		}
		return s, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-t.C:
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

// close closes the idle sessions; callers hold conn.mu for writing, so none is in use.
func (p *sessionPool) close() {
	p.closed.Store(true)
	for {
		select {
		case s := <-p.idle:
			_ = p.p11.CloseSession(s)
			<-p.sem
		default:
			return
		}
	}
}

// do runs f on a pooled session. f returns broken=true when the session must not be
// reused (an operation failed after its Init).
func (c *conn) do(ctx context.Context, f func(s pkcs11.SessionHandle) (broken bool, err error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return secrets.ErrClosed
	}
	s, err := c.pool.get(ctx)
	if err != nil {
		return err
	}
	broken, err := f(s)
	c.pool.put(s, broken)
	return err
}

// subscribe / notify implement secrets.Notifier for every Store on the connection.
func (c *conn) subscribe(f func(secrets.Change)) func() {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if c.subs == nil {
		c.subs = map[int]func(secrets.Change){}
	}
	c.subSeq++
	id := c.subSeq
	c.subs[id] = f
	return func() {
		c.subMu.Lock()
		delete(c.subs, id)
		c.subMu.Unlock()
	}
}

func (c *conn) notify(ch secrets.Change) {
	c.subMu.Lock()
	fs := make([]func(secrets.Change), 0, len(c.subs))
	for _, f := range c.subs {
		fs = append(fs, f)
	}
	c.subMu.Unlock()
	for _, f := range fs {
		f(ch)
	}
}
