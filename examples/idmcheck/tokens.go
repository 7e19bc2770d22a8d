//go:build cgo

package main

import (
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
	"github.com/secretstores/secretstores/pkcs11conf"
)

// matchingTokens lists the tokens of pc's library that its selector (tokenLabel or
// tokenSerial; a slot id or slot list index names one slot by definition) matches, described
// by slot, label and serial, and how many tokens the library shows. It logs in to nothing.
// A module it initialised it finalises again (hsmstore, through crypto11, refuses a module
// someone else left initialised); one already initialised in the process it leaves alone.
func matchingTokens(pc *pkcs11conf.Config) (matches []string, tokens int, err error) {
	p := pkcs11.New(pc.Library)
	if p == nil {
		return nil, 0, fmt.Errorf("cannot load the PKCS#11 library %s", pc.Library)
	}
	if err := p.Initialize(); err != nil {
		if e, ok := err.(pkcs11.Error); !ok || e != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			return nil, 0, err
		}
	} else {
		defer p.Finalize()
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		return nil, 0, err
	}
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			continue
		}
		label, serial := strings.TrimRight(ti.Label, " \x00"), strings.TrimRight(ti.SerialNumber, " \x00")
		hit := (pc.TokenLabel != "" && label == pc.TokenLabel) || (pc.TokenSerial != "" && serial == pc.TokenSerial)
		if hit {
			matches = append(matches, fmt.Sprintf("slot %d (label %q, serial %s)", s, label, serial))
		}
	}
	return matches, len(slots), nil
}
