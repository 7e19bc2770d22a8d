//go:build cgo

package hsmstore

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/secrets"
)

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

	mechs map[uint]pkcs11.MechanismInfo
	// viaP11Kit: the module is p11-kit's RPC client or proxy (C_GetInfo), not the token's own.
	viaP11Kit bool
	// noGenerateKey: C_GenerateKey answered CKR_FUNCTION_NOT_SUPPORTED (tpm2-pkcs11, whose
	// mechanism list shows CKM_AES_KEY_GEN all the same).
	noGenerateKey atomic.Bool
	pinHash       [32]byte
	refs          int // guarded by registry.mu

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
	probeAlive, probeDown                                                                                          atomic.Uint64
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
			var mi pkcs11.MechanismInfo
			if wanted(mech.Mechanism) {
				mi, _ = m.p11.GetMechanismInfo(c.slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech.Mechanism, nil)})
			}
			c.mechs[mech.Mechanism] = mi
		}
	}
	if info, err := m.p11.GetInfo(); err == nil {
		c.viaP11Kit = strings.HasPrefix(info.ManufacturerID, "PKCS#11 Kit")
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

// hasMech reports whether the token lists mechanism m.
func (c *conn) hasMech(m uint) bool {
	_, ok := c.mechs[m]
	return ok
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
		ProbedAlive:      c.st.probeAlive.Load(),
		ProbedDown:       c.st.probeDown.Load(),
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
