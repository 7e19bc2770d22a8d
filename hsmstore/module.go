//go:build cgo

package hsmstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/miekg/pkcs11"
)

// A module is one loaded PKCS#11 library with the connections (one per token) on it.
//
// hsmstore initialises the library itself (C_Initialize with Config.InitArgs) and, when it
// did (owner), finalises it when its last connection closes and in recovery. When another
// component of the process initialised it first (crypto11, configured before the first
// Open), C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED: hsmstore then uses the
// library as it is and never finalises it; if that component finalises it later (crypto11's
// last Close), the next call fails with CKR_CRYPTOKI_NOT_INITIALIZED, and recovery
// initialises the library again, owning it from then on.
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

	// initArgs is Config.InitArgs of the first Open (C_CK_INITIALIZE_ARGS.pReserved);
	// initBuf holds it NUL-terminated for as long as the module is loaded, in case the
	// module keeps the pointer.
	initArgs string
	initBuf  []byte
	// owner: hsmstore's C_Initialize initialised the library, so hsmstore finalises it.
	// Changed only with registry.mu held, or by recovery (which holds every connection).
	owner bool

	// calls, when not nil, lets one call at a time into p11 (see serialModule): run holds
	// it around its calls, and so do connect and release for theirs on a module that is in
	// use. Recovery needs not: it holds every connection's mu for writing.
	calls chan struct{}

	// cEncrypt is the module's own C_Encrypt (see conn.encryptSized), nil if not found.
	cEncrypt unsafe.Pointer
}

// serialModule reports whether the module at path must get one call at a time.
//
// p11-kit-client.so (p11-kit's RPC client) multiplexes the calls of all threads on one
// socket, and when the connection breaks while one thread waits for a reply meant for
// another, the waiting thread never wakes (see DESIGN.md, "One call at a time on
// p11-kit-client"). With one call at a time no thread ever waits for another's reply; the
// p11-kit server handles the calls of one connection one at a time anyway.
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

// initialize calls C_Initialize with the module's init arguments (and CKF_OS_LOCKING_OK).
// Success makes hsmstore the owner; CKR_CRYPTOKI_ALREADY_INITIALIZED means another
// component of the process initialised the library, which hsmstore then uses without owning.
func (m *module) initialize() error {
	var err error
	if m.initArgs == "" {
		err = m.p11.Initialize()
	} else {
		if m.initBuf == nil {
			m.initBuf = append([]byte(m.initArgs), 0)
		}
		err = m.p11.Initialize(pkcs11.InitializeWithReserved(unsafe.Pointer(&m.initBuf[0])))
	}
	switch {
	case err == nil:
		m.owner = true
		return nil
	case isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED):
		m.owner = false
		return nil
	case isCKR(err, pkcs11.CKR_ARGUMENTS_BAD) && m.initArgs == "":
		return fmt.Errorf("hsmstore: initialise PKCS#11 module %s: %w: the module may need init arguments (Config.InitArgs, SunPKCS11 nssArgs; NSS softokn: \"configdir='sql:DIR' certPrefix='' keyPrefix='' secmod='secmod.db' flags=\")", m.path, err)
	}
	return fmt.Errorf("hsmstore: initialise PKCS#11 module %s: %w", m.path, err)
}

// initialized reports whether the library is initialised in this process (by anyone).
func (m *module) initialized() bool {
	_, err := m.p11.GetInfo()
	return !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED))
}

// unload finalises the library when hsmstore initialised it, and drops our handle on it.
// Called with registry.mu held, once no connection uses the module.
func (m *module) unload() {
	if m.owner {
		_ = m.p11.Finalize()
		m.owner = false
	}
	m.p11.Destroy()
}

// conn returns the module's connection to the token ti in slot, nil when there is none.
// registry.mu is held.
func (m *module) conn(slot uint, ti pkcs11.TokenInfo) *conn {
	for _, c := range m.conns {
		if c.slot == slot && sameToken(c.tok, ti) {
			return c
		}
	}
	return nil
}
