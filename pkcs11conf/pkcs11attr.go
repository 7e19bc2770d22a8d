//go:build cgo

package pkcs11conf

import "github.com/miekg/pkcs11"

// PKCS11 converts the attribute for github.com/miekg/pkcs11: a Bool becomes CK_BBOOL, an Int
// a CK_ULONG, Bytes the bytes. A Null attribute has a nil value (Template and Apply never
// return one). Only with cgo, like miekg/pkcs11's Attribute type.
func (a Attribute) PKCS11() *pkcs11.Attribute {
	switch a.Kind {
	case Bool:
		return pkcs11.NewAttribute(a.Type, a.Bool)
	case Int:
		return pkcs11.NewAttribute(a.Type, a.Int)
	case Bytes:
		return pkcs11.NewAttribute(a.Type, append([]byte{}, a.Bytes...))
	default:
		return pkcs11.NewAttribute(a.Type, nil)
	}
}

// PKCS11Attributes converts a Template (or Apply) result for miekg/pkcs11 and crypto11,
// e.g. pkcs11conf.PKCS11Attributes(cfg.Template(pkcs11conf.OpGenerate, pkcs11.CKO_SECRET_KEY,
// pkcs11.CKK_GENERIC_SECRET)). Null attributes are left out. Only with cgo.
func PKCS11Attributes(attrs []Attribute) []*pkcs11.Attribute {
	out := make([]*pkcs11.Attribute, 0, len(attrs))
	for _, a := range attrs {
		if a.Kind != Null {
			out = append(out, a.PKCS11())
		}
	}
	return out
}
