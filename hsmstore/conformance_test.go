//go:build cgo

package hsmstore_test

import (
	"context"
	"testing"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

func TestConformance(t *testing.T) {
	tok := softhsmtest.New(t, "conf")
	setup := open(t, tok)
	want := []secretstest.Want{
		{Alias: "hmac", Kind: secrets.KindSecret, Extractable: true},
		{Alias: "hmac-inside", Kind: secrets.KindSecret},
		{Alias: "aes", Kind: secrets.KindAES, Extractable: true},
		{Alias: "aes-inside", Kind: secrets.KindAES},
		{Alias: "rsa", Kind: secrets.KindRSA},
		{Alias: "ec", Kind: secrets.KindEC},
		{Alias: "ca", Kind: secrets.KindCertificate},
	}
	for _, w := range want {
		spec := secrets.KeySpec{Kind: w.Kind, Extractable: w.Extractable}
		switch w.Kind {
		case secrets.KindCertificate:
			continue
		case secrets.KindSecret:
			// SoftHSM refuses HMAC-SHA384/512 with a key shorter than the hash (its
			// CKM_SHA384_HMAC needs 48 bytes); the suite checks all three hashes.
			spec.Bits = 512
		}
		gen(t, setup, w.Alias, spec)
	}
	ca, err := setup.Entry(context.Background(), "ec")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Import(context.Background(), "ca", secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: ca.Chain()}, false); err != nil {
		t.Fatal(err)
	}
	secretstest.Run(t, func(t *testing.T) secrets.Store {
		s, err := hsmstore.Open(context.Background(), hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, want)
}
