//go:build cgo

package p11test

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/miekg/pkcs11"
)

func init() { listSlots = cgoListSlots }

// Initialize calls C_Initialize on p with the module's InitArgs (CK_C_INITIALIZE_ARGS
// pReserved) and CKF_OS_LOCKING_OK. It returns the module's error as is, including
// CKR_CRYPTOKI_ALREADY_INITIALIZED.
func (m *Module) Initialize(p *pkcs11.Ctx) error {
	if m.InitArgs == "" {
		return p.Initialize()
	}
	b := append([]byte(m.InitArgs), 0)
	err := p.Initialize(pkcs11.InitializeWithReserved(unsafe.Pointer(&b[0])))
	runtime.KeepAlive(b)
	return err
}

// Load loads and initialises the module (Initialize) for a test that talks to it directly,
// and finalises it when the test ends. The module must not be initialised in this process
// already (by a Store, crypto11 or another Load): PKCS#11 has one initialisation per
// process, and this Ctx would finalise it under the other user.
func (m *Module) Load(tb testing.TB) *pkcs11.Ctx {
	tb.Helper()
	p := pkcs11.New(m.Path)
	if p == nil {
		tb.Fatalf("p11test: cannot load %s", m.Path)
	}
	if err := m.Initialize(p); err != nil {
		p.Destroy()
		tb.Fatalf("p11test: %s C_Initialize: %v", m.Name, err)
	}
	tb.Cleanup(func() {
		if err := p.Finalize(); err != nil {
			tb.Errorf("p11test: %s C_Finalize: %v", m.Name, err)
		}
		p.Destroy()
	})
	return p
}

// cgoListSlots lists the slots with a token; it finalises the module afterwards unless it
// was initialised already in this process.
func cgoListSlots(m *Module) ([]Slot, error) {
	p := pkcs11.New(m.Path)
	if p == nil {
		return nil, errors.New("cannot load " + m.Path)
	}
	defer p.Destroy()
	err := m.Initialize(p)
	if err == nil {
		defer p.Finalize()
	} else if !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return nil, err
	}
	ids, err := p.GetSlotList(true)
	if err != nil {
		return nil, err
	}
	var slots []Slot
	for _, id := range ids {
		ti, err := p.GetTokenInfo(id)
		if err != nil {
			return nil, err
		}
		slots = append(slots, Slot{ID: id, Label: trim(ti.Label), Serial: trim(ti.SerialNumber), Model: trim(ti.Model), Manf: trim(ti.ManufacturerID)})
	}
	return slots, nil
}

// trim removes the blank (and, for tpm2-pkcs11's model, NUL) padding of a token info field.
func trim(s string) string { return strings.TrimRight(s, " \x00") }
