package p11test

import (
	"sync"
	"testing"
)

var shared struct {
	mu      sync.Mutex
	softhsm *Token
	tpm     *Token
}

// SharedToken returns a token of the named module (one of Names) that every caller in this
// test binary shares: a SoftHSM token labelled "shared", a tpm2 token labelled "shared",
// opencryptoki's token, NSS's database token, or the NSS token behind p11-kit. Use aliases
// of your own on it.
func SharedToken(tb testing.TB, name string) *Token {
	tb.Helper()
	switch name {
	case SoftHSM, TPM2:
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if name == SoftHSM {
			if shared.softhsm == nil {
				shared.softhsm = NewSoftHSM(tb, "shared")
			}
			return shared.softhsm
		}
		if shared.tpm == nil {
			shared.tpm = NewTPM2Token(tb, "shared")
		}
		return shared.tpm
	case OpenCryptoki:
		return OpenCryptokiToken(tb)
	case NSS:
		return NSSToken(tb)
	case NSSP11Kit:
		return NSSP11KitToken(tb)
	}
	tb.Fatalf("p11test: unknown module %q (want one of %v)", name, Names)
	return nil
}

// Each runs f as a subtest per module, in the order of Names, on that module's
// SharedToken. A module whose programs are missing skips its subtest (or fails it when
// SECRETSTORES_REQUIRE names the module).
func Each(t *testing.T, f func(t *testing.T, tok *Token)) {
	t.Helper()
	for _, name := range Names {
		t.Run(name, func(t *testing.T) { f(t, SharedToken(t, name)) })
	}
}
