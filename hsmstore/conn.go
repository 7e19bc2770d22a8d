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

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// registry holds the process's modules and connections, so that every Store on one
// (library, token) shares one connection and one login.
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
	p11  *pkcs11.Ctx
	slot uint
	tok  pkcs11.TokenInfo
	log  *slog.Logger

	// what a re-initialisation needs to log in again; never logged or put into an error
	pin string
	// away is set by a recovery that could not find the token (guarded by mu for writing).
	away bool

	mechs map[uint]pkcs11.MechanismInfo
	// viaP11Kit: the module is p11-kit's RPC client or proxy (C_GetInfo), not the token's own.
	viaP11Kit bool
	// noGenerateKey: C_GenerateKey answered CKR_FUNCTION_NOT_SUPPORTED (tpm2-pkcs11, whose
	// mechanism list shows CKM_AES_KEY_GEN all the same).
	noGenerateKey atomic.Bool
	// pubOnToken: the module refused a key pair whose public key is a session object and
	// took it as a token object (tpm2-pkcs11 1.9); later generations ask so at once.
	pubOnToken atomic.Bool
	// tpm2: the module is tpm2-pkcs11 (C_GetInfo), whose C_CreateObject takes certificates,
	// data objects and RSA public keys only.
	tpm2    bool
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

	subs storekit.Subscribers // every Store on the connection; Store.Subscribe names the store
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
// to the token exists and pin differs from the one it was opened with. The first connection
// on a library loads and initialises it (module.initialize).
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
	if m != nil {
		if cfg.InitArgs != m.initArgs {
			return nil, fmt.Errorf("hsmstore: PKCS#11 module %s is already loaded in this process with other InitArgs (a module is initialised once per process)", lib)
		}
		// Other connections on the module may be calling into it.
		m.lock()
		defer m.unlock()
	} else {
		p := pkcs11.New(lib)
		if p == nil {
			return nil, fmt.Errorf("hsmstore: cannot load PKCS#11 module %s", lib)
		}
		m = &module{path: lib, p11: p, conns: map[string]*conn{}, initArgs: cfg.InitArgs}
		m.loadEncrypt()
		if serialModule(lib) {
			m.calls = make(chan struct{}, 1)
		}
		if err := m.initialize(); err != nil {
			p.Destroy()
			return nil, err
		}
	}
	// unload undoes the loading of a module that got no connection.
	unload := func() {
		if len(m.conns) == 0 {
			m.unload()
		}
	}
	slot, ti, err := findSlot(m.p11, sel)
	if isCKR(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) && !m.owner {
		// The code that initialised the module (crypto11) has finalised it since: initialise
		// it again. The module's other connections recover on their next call.
		if err = m.initialize(); err == nil {
			slot, ti, err = findSlot(m.p11, sel)
		}
	}
	if err != nil {
		unload()
		return nil, err
	}
	if c := m.conn(slot, ti); c != nil {
		d := pinDigest(pin)
		if subtle.ConstantTimeCompare(d[:], c.pinHash[:]) != 1 {
			return nil, fmt.Errorf("hsmstore: %s: %w: the token is already open in this process with another PIN", tokenName(slot, ti), secrets.ErrWrongPIN)
		}
		c.refs++
		return c, nil
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
	c := &conn{mod: m, p11: m.p11, slot: slot, tok: ti, pin: pin, log: log}
	c.key, c.pinHash, c.refs = connKey(slot, ti), pinDigest(pin), 1
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
		c.tpm2 = strings.HasPrefix(info.LibraryDescription, "TPM2.0 Cryptoki")
	}
	c.pool = newSessionPool(m.p11, c.slot, maxSessions, wait, &c.st)
	if err := c.loginOwn(false); err != nil {
		c.pool.close()
		unload()
		if isPINError(err) {
			log.Error("hsmstore: the token rejected the PIN", "token", ti.Label, "slot", slot, "serial", ti.SerialNumber, "error", err)
			return nil, fmt.Errorf("hsmstore: log in to %s: %w (%w)", tokenName(slot, ti), secrets.ErrWrongPIN, err)
		}
		return nil, fmt.Errorf("hsmstore: open %s: %w", tokenName(slot, ti), err)
	}
	m.conns[c.key] = c
	registry.modules[lib] = m
	log.Info("hsmstore: logged in", "token", c.tok.Label, "serial", c.tok.SerialNumber, "model", c.tok.Model, "slot", c.slot, "module", lib, "initialised_here", m.owner)
	return c, nil
}

// connKey identifies a connection within its module by what was opened: the slot and the
// token's label, serial, model and manufacturer. Several modules give every token one serial
// (tpm2-pkcs11, NSS softokn), so no one field identifies a token.
func connKey(slot uint, ti pkcs11.TokenInfo) string {
	return strconv.FormatUint(uint64(slot), 10) + "\x00" + ti.Label + "\x00" + ti.SerialNumber + "\x00" + ti.Model + "\x00" + ti.ManufacturerID
}

// sameToken reports whether a and b describe the same token: equal label, serial, model and
// manufacturer.
func sameToken(a, b pkcs11.TokenInfo) bool {
	return a.Label == b.Label && a.SerialNumber == b.SerialNumber && a.Model == b.Model && a.ManufacturerID == b.ManufacturerID
}

// tokenName names a token in errors and logs: label, slot, serial and model.
func tokenName(slot uint, ti pkcs11.TokenInfo) string {
	return fmt.Sprintf("token %q (slot %d, serial %q, model %q)", ti.Label, slot, ti.SerialNumber, strings.TrimRight(ti.Model, "\x00 "))
}

// release drops one reference; the last closes the connection, after the operations in
// flight on it (and any recovery) end. The last connection on a module unloads it,
// finalising it only when hsmstore initialised it.
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
	c.mod.unlock()
	c.mu.Unlock()
	delete(c.mod.conns, c.key)
	if len(c.mod.conns) == 0 {
		delete(registry.modules, c.mod.path)
		c.mod.unload()
	}
	return nil
}

// findSlot returns the one slot whose token matches sel. When several tokens match, the
// error lists them (slot, label, serial, model) and opens none.
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
	var infos []pkcs11.TokenInfo
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
		infos = append(infos, ti)
	}
	switch len(found) {
	case 0:
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsmstore: no initialised token with %v: %w", sel, secrets.ErrNotFound)
	case 1:
		return found[0], infos[0], nil
	}
	return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsmstore: %d tokens match %v, and hsmstore opens none of them: %s; select one by label, slot id or a pkcs11: URI naming more of its attributes",
		len(found), sel, listTokens(found, infos))
}

// listTokens formats tokens for an error: "slot 1 (label "a", serial "0", model "m"), ...".
func listTokens(slots []uint, infos []pkcs11.TokenInfo) string {
	parts := make([]string, len(slots))
	for i, s := range slots {
		parts[i] = fmt.Sprintf("slot %d (label %q, serial %q, model %q)", s, infos[i].Label, infos[i].SerialNumber, strings.TrimRight(infos[i].Model, "\x00 "))
	}
	return strings.Join(parts, ", ")
}

// locate finds c's token again after the module was re-initialised (slot IDs may change:
// SoftHSM renumbers them): the one slot whose token has c's label, serial, model and
// manufacturer, its old slot when several do. A token that is not there, or that cannot be
// told apart from another, is an error: recovery then logs in to nothing.
func (c *conn) locate() (uint, pkcs11.TokenInfo, error) {
	slots, err := c.p11.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsmstore: list slots: %w", err)
	}
	var found []uint
	var infos []pkcs11.TokenInfo
	for _, s := range slots {
		ti, err := c.p11.GetTokenInfo(s)
		if err != nil || !sameToken(ti, c.tok) {
			continue
		}
		if s == c.slot {
			return s, ti, nil
		}
		found = append(found, s)
		infos = append(infos, ti)
	}
	switch len(found) {
	case 0:
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsmstore: %s is not present: %w", tokenName(c.slot, c.tok), pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT))
	case 1:
		return found[0], infos[0], nil
	}
	return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsmstore: %s moved from slot %d and %d tokens now look like it (%s): not logging in to any", tokenName(c.slot, c.tok), c.slot, len(found), listTokens(found, infos))
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
