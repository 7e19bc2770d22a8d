package pkcs11conf

import (
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func b(t uint, v bool) Attribute { return Attribute{Type: t, Kind: Bool, Bool: v} }

func TestTemplateIDM(t *testing.T) {
	c, err := ParseFile("testdata/valid/idm-softhsm.cfg")
	require.NoError(t, err)
	tests := []struct {
		op            Operation
		class, keyTyp uint
		want          []Attribute
	}{
		// keytool -genseckey imports (software keygen), so the generate rules do not apply
		{OpImport, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_GENERIC_SECRET, []Attribute{b(pkcs11.CKA_PRIVATE, false), b(pkcs11.CKA_EXTRACTABLE, true)}},
		{OpGenerate, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_GENERIC_SECRET, []Attribute{b(pkcs11.CKA_TOKEN, true), b(pkcs11.CKA_PRIVATE, false), b(pkcs11.CKA_EXTRACTABLE, true)}},
		{OpGenerate, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_AES, []Attribute{b(pkcs11.CKA_TOKEN, true), b(pkcs11.CKA_PRIVATE, false), b(pkcs11.CKA_EXTRACTABLE, true)}},
		{OpGenerate, pkcs11.CKO_CERTIFICATE, 0, []Attribute{b(pkcs11.CKA_TOKEN, true), b(pkcs11.CKA_PRIVATE, false)}},
		{OpGenerate, pkcs11.CKO_PUBLIC_KEY, pkcs11.CKK_RSA, []Attribute{b(pkcs11.CKA_TOKEN, true), b(pkcs11.CKA_PRIVATE, false)}},
		{OpGenerate, pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_RSA, []Attribute{b(pkcs11.CKA_TOKEN, true)}},
		{OpImport, pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_RSA, nil},
		{OpImport, pkcs11.CKO_CERTIFICATE, 0, nil},
	}
	for _, tt := range tests {
		got := c.Template(tt.op, tt.class, tt.keyTyp)
		assert.Equal(t, tt.want, got, "%s %s %s", tt.op, ObjectClassName(tt.class), KeyTypeName(tt.keyTyp))
	}
}

func TestTemplateMerge(t *testing.T) {
	c := parse(t, base+`
attributes(*, *, *) = { CKA_TOKEN = true CKA_PRIVATE = true CKA_LABEL = 0h01 }
attributes(generate, CKO_SECRET_KEY, *) = { CKA_PRIVATE = false CKA_SENSITIVE = true }
attributes(*, CKO_SECRET_KEY, CKK_AES) = { CKA_TOKEN = null CKA_VALUE_LEN = 32 }
attributes(import, *, CKK_AES) = { CKA_SENSITIVE = false }
attributes(*, CKO_SECRET_KEY, 0x1F) = { CKA_PRIVATE = true }
`)
	l := Attribute{Type: pkcs11.CKA_LABEL, Kind: Bytes, Bytes: []byte{1}}
	vl := Attribute{Type: pkcs11.CKA_VALUE_LEN, Kind: Int, Int: 32}
	// later rules win and move the attribute to the end; null removes
	assert.Equal(t, []Attribute{l, b(pkcs11.CKA_SENSITIVE, true), vl, b(pkcs11.CKA_PRIVATE, true)},
		c.Template(OpGenerate, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_AES))
	assert.Equal(t, []Attribute{l, vl, b(pkcs11.CKA_SENSITIVE, false), b(pkcs11.CKA_PRIVATE, true)},
		c.Template(OpImport, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_AES))
	assert.Equal(t, []Attribute{b(pkcs11.CKA_TOKEN, true), l, b(pkcs11.CKA_PRIVATE, false), b(pkcs11.CKA_SENSITIVE, true)},
		c.Template(OpGenerate, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_GENERIC_SECRET))
	assert.Equal(t, []Attribute{b(pkcs11.CKA_TOKEN, true), b(pkcs11.CKA_PRIVATE, true), l},
		c.Template(OpGenerate, pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_RSA))
	// a query with a wildcard only matches wildcard rules, as in the JDK
	assert.Equal(t, []Attribute{b(pkcs11.CKA_TOKEN, true), b(pkcs11.CKA_PRIVATE, true), l}, c.Template(OpAny, Any, Any))

	// Apply: the caller's attributes win, null removes
	got := c.Apply(OpGenerate, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_AES, []Attribute{
		b(pkcs11.CKA_SENSITIVE, false), {Type: pkcs11.CKA_LABEL, Kind: Null}, b(pkcs11.CKA_DERIVE, true),
	})
	assert.Equal(t, []Attribute{vl, b(pkcs11.CKA_PRIVATE, true), b(pkcs11.CKA_SENSITIVE, false), b(pkcs11.CKA_DERIVE, true)}, got)
}

func TestTemplateCompatibility(t *testing.T) {
	c := parse(t, base+"attributes = compatibility\nattributes(generate, CKO_SECRET_KEY, CKK_GENERIC_SECRET) = { CKA_TOKEN = true }\n")
	assert.Equal(t, []Attribute{
		b(pkcs11.CKA_SENSITIVE, false), b(pkcs11.CKA_EXTRACTABLE, true),
		b(pkcs11.CKA_SIGN, true), b(pkcs11.CKA_VERIFY, true), b(pkcs11.CKA_DERIVE, true),
		b(pkcs11.CKA_TOKEN, true),
	}, c.Template(OpGenerate, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_GENERIC_SECRET))
	assert.Equal(t, []Attribute{
		b(pkcs11.CKA_TOKEN, false), b(pkcs11.CKA_SENSITIVE, false), b(pkcs11.CKA_EXTRACTABLE, true),
		b(pkcs11.CKA_ENCRYPT, true), b(pkcs11.CKA_DECRYPT, true), b(pkcs11.CKA_WRAP, true), b(pkcs11.CKA_UNWRAP, true),
	}, c.Template(OpImport, pkcs11.CKO_SECRET_KEY, pkcs11.CKK_AES))
	assert.Equal(t, []Attribute{
		b(pkcs11.CKA_TOKEN, false), b(pkcs11.CKA_SENSITIVE, false), b(pkcs11.CKA_EXTRACTABLE, true),
		b(pkcs11.CKA_SIGN, true), b(pkcs11.CKA_DERIVE, true),
	}, c.Template(OpImport, pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_EC))
	assert.Nil(t, c.Template(OpImport, pkcs11.CKO_CERTIFICATE, 0))
}

func TestTemplateDuplicateInRule(t *testing.T) {
	c := parse(t, base+"attributes(*, *, *) = { CKA_TOKEN = true CKA_TOKEN = false }\n")
	require.Len(t, c.Warnings, 1)
	assert.ErrorIs(t, c.Warnings[0], ErrDuplicate)
	// like the JDK, both reach the token
	assert.Equal(t, []Attribute{b(pkcs11.CKA_TOKEN, true), b(pkcs11.CKA_TOKEN, false)}, c.Template(OpImport, 1, 2))
	c = parse(t, base+"attributes(*, *, *) = { CKA_TOKEN = true CKA_TOKEN = false }\nattributes(*, *, *) = { CKA_TOKEN = true }\n")
	assert.Equal(t, []Attribute{b(pkcs11.CKA_TOKEN, true)}, c.Template(OpImport, 1, 2))
}

func TestAttributeValues(t *testing.T) {
	c := parse(t, base+"attributes(*, *, *) = {\n"+strings.Join([]string{
		"CKA_TOKEN = true", "CKA_PRIVATE = false", "CKA_VALUE_LEN = 0x20", "CKA_MODULUS_BITS = 2048",
		"CKA_ID = 0h0102", "CKA_LABEL = 0h00", "CKA_SUBJECT = 0hff", "CKA_ISSUER = 0h-1", "CKA_SERIAL_NUMBER = 0h+7f",
		"CKA_VALUE = 0h-80", "CKA_URL = 0h-81", "0x100 = 16", "CKA_START_DATE = null",
	}, "\n")+"\n}\n")
	attrs := c.Attributes[0].Attributes
	want := []Attribute{
		b(pkcs11.CKA_TOKEN, true), b(pkcs11.CKA_PRIVATE, false),
		{Type: pkcs11.CKA_VALUE_LEN, Kind: Int, Int: 32}, {Type: pkcs11.CKA_MODULUS_BITS, Kind: Int, Int: 2048},
		{Type: pkcs11.CKA_ID, Kind: Bytes, Bytes: []byte{1, 2}}, {Type: pkcs11.CKA_LABEL, Kind: Bytes, Bytes: []byte{0}},
		{Type: pkcs11.CKA_SUBJECT, Kind: Bytes, Bytes: []byte{0, 0xff}}, {Type: pkcs11.CKA_ISSUER, Kind: Bytes, Bytes: []byte{0xff}},
		{Type: pkcs11.CKA_SERIAL_NUMBER, Kind: Bytes, Bytes: []byte{0x7f}}, {Type: pkcs11.CKA_VALUE, Kind: Bytes, Bytes: []byte{0x80}},
		{Type: pkcs11.CKA_URL, Kind: Bytes, Bytes: []byte{0xff, 0x7f}},
	}
	require.Len(t, attrs, len(want)+2)
	assert.Equal(t, want, attrs[:len(want)])
	assert.Equal(t, Attribute{Type: pkcs11.CKA_KEY_TYPE, Kind: Int, Int: 16}, attrs[len(want)])
	assert.Equal(t, Attribute{Type: pkcs11.CKA_START_DATE, Kind: Null}, attrs[len(attrs)-1])
	assert.Equal(t, "CKA_START_DATE = null", attrs[len(attrs)-1].String())
	assert.Equal(t, "CKA_ID = 0h0102", attrs[4].String())
}
