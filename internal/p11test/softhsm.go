package p11test

import (
	"sync"
	"testing"

	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
)

var softhsmMod struct {
	mu  sync.Mutex
	mod *Module
}

// NewSoftHSM initialises a fresh SoftHSM2 token (softhsmtest.New: label plus a unique
// suffix; "" means "test"). SoftHSM makes as many tokens as a test wants, each with its own
// serial.
func NewSoftHSM(tb testing.TB, label string) *Token {
	tb.Helper()
	checkMain(tb)
	st := softhsmtest.New(tb, label)
	softhsmMod.mu.Lock()
	if softhsmMod.mod == nil {
		softhsmMod.mod = &Module{Name: SoftHSM, Tool: testenv.SoftHSM, Path: st.Module, Env: []string{"SOFTHSM2_CONF=" + st.Conf}}
	}
	mod := softhsmMod.mod
	softhsmMod.mu.Unlock()
	return &Token{Module: mod, Label: st.Label, Serial: st.Serial, Model: "SoftHSM v2", SlotID: st.SlotID, PIN: st.PIN, SOPIN: st.SOPIN, SoftHSM: st}
}
