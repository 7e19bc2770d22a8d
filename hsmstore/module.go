//go:build cgo

package hsmstore

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
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
