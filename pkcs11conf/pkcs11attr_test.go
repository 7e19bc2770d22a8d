//go:build cgo

package pkcs11conf

import (
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
)

func TestPKCS11Attributes(t *testing.T) {
	c := parse(t, base+"attributes(*, CKO_SECRET_KEY, *) = { CKA_TOKEN = true CKA_VALUE_LEN = 32 CKA_ID = 0h0102 CKA_LABEL = null }\n")
	got := PKCS11Attributes(c.Template(OpImport, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_AES))
	assert.Equal(t, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, uint(32)),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte{1, 2}),
	}, got)
	assert.Equal(t, pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), Attribute{Type: pkcs11.CKA_LABEL}.PKCS11())
	assert.Len(t, PKCS11Attributes([]Attribute{{Type: 1}}), 0)
}
