//go:build cgo

package main

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
)

// replaceSelfserviceCertificate replaces the certificate object of selfservice on
// the token (same CKA_ID and label, as keytool pairs them) with a certificate of another key:
// the stores refuse to make such an entry, but a token edited by other tools can hold one.
func replaceSelfserviceCertificate(t *testing.T) *hsmProject {
	hp := hsmProjectOn(t)
	p := pkcs11.New(hp.tok.Module)
	if p == nil {
		t.Fatal("cannot load " + hp.tok.Module)
	}
	switch err := p.Initialize(); {
	case err == nil:
		defer p.Finalize() // hsmstore (crypto11) refuses a module left initialised by another user
	case !strings.Contains(err.Error(), "CKR_CRYPTOKI_ALREADY_INITIALIZED"):
		t.Fatal(err)
	}
	sh, err := p.OpenSession(hp.tok.SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseSession(sh)
	if err := p.Login(sh, pkcs11.CKU_USER, hp.tok.PIN); err != nil && !strings.Contains(err.Error(), "CKR_USER_ALREADY_LOGGED_IN") {
		t.Fatal(err)
	}
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE), pkcs11.NewAttribute(pkcs11.CKA_LABEL, "selfservice")}
	if err := p.FindObjectsInit(sh, tmpl); err != nil {
		t.Fatal(err)
	}
	hs, _, err := p.FindObjects(sh, 2)
	p.FindObjectsFinal(sh)
	if err != nil || len(hs) != 1 {
		t.Fatalf("certificate of selfservice: %d objects, %v", len(hs), err)
	}
	at, err := p.GetAttributeValue(sh, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
	if err != nil {
		t.Fatal(err)
	}
	id := at[0].Value
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, other, "selfservice", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
	if err := p.DestroyObject(sh, hs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateObject(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "selfservice"),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
	}); err != nil {
		t.Fatal(err)
	}
	return hp
}

func TestHSMDefectKeyDoesNotMatchCertificate(t *testing.T) {
	hp := replaceSelfserviceCertificate(t)
	out, rep, code := idmcheck(t, nil, hp.args...)
	noPIN(t, hp.tok.PIN, out)
	wantFail(t, out, rep, code, "cert.keymatch", "mainKeyStore selfservice", "does not match the certificate", "examples/p11keytool genkeypair -providerArg "+hp.conf+" -pin-env OPENIDM_KEYSTORE_PASSWORD -alias selfservice")
}
