//go:build cgo

package main

import (
	"fmt"

	"github.com/miekg/pkcs11"
)

// initToken initialises the free SoftHSM slot through PKCS#11 (C_InitToken with the SO PIN,
// then C_InitPIN as the SO), so that no PIN appears on a command line (softhsm2-util
// --so-pin/--pin would show both in /proc and ps). It finalises the module before returning.
func initToken(module, label, soPIN, userPIN string) (err error) {
	p := pkcs11.New(module)
	if p == nil {
		return fmt.Errorf("cannot load the PKCS#11 module %s", module)
	}
	defer p.Destroy()
	if err := p.Initialize(); err != nil {
		// CKR_CRYPTOKI_ALREADY_INITIALIZED: someone in this process uses the module, with
		// their own SOFTHSM2_CONF; do not touch (or finalise) their tokens.
		return fmt.Errorf("C_Initialize: %w", err)
	}
	defer p.Finalize()
	slots, err := p.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("C_GetSlotList: %w", err)
	}
	free, found := uint(0), false
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			free, found = s, true
			break
		}
	}
	if !found {
		return fmt.Errorf("no uninitialised token among %d slots", len(slots))
	}
	if err := p.InitToken(free, soPIN, label); err != nil {
		return fmt.Errorf("C_InitToken: %w", err)
	}
	// SoftHSM gives the initialised token a new slot: find it by label.
	slots, err = p.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("C_GetSlotList: %w", err)
	}
	var slot uint
	found = false
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 && trimLabel(ti.Label) == label {
			slot, found = s, true
			break
		}
	}
	if !found {
		return fmt.Errorf("the token %q is not found after C_InitToken", label)
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("C_OpenSession: %w", err)
	}
	defer p.CloseSession(sh)
	if err := p.Login(sh, pkcs11.CKU_SO, soPIN); err != nil {
		return fmt.Errorf("C_Login as SO: %w", err)
	}
	defer p.Logout(sh)
	if err := p.InitPIN(sh, userPIN); err != nil {
		return fmt.Errorf("C_InitPIN: %w", err)
	}
	return nil
}

func trimLabel(l string) string {
	for len(l) > 0 && (l[len(l)-1] == ' ' || l[len(l)-1] == 0) {
		l = l[:len(l)-1]
	}
	return l
}
