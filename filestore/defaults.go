package filestore

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// IDM's default aliases, created by populateDefaults when missing.
const (
	AliasSymDefault      = "openidm-sym-default"        // AES secret key: $crypto, config and password encryption
	AliasSelfServiceKey  = "openidm-selfservice-key"    // AES secret key: self-service signing
	AliasJWTSessionHMAC  = "openidm-jwtsessionhmac-key" // HmacSHA256, 256 bits: JWT session signing
	AliasLocalhost       = "openidm-localhost"          // RSA 2048 key pair: JWT session encryption, TLS
	AliasSelfServiceCert = "selfservice"                // RSA 2048 key pair: self-service encryption
)

// DefaultAliases lists IDM's five default aliases in the order PopulateDefaults creates them.
var DefaultAliases = []string{AliasSymDefault, AliasSelfServiceKey, AliasJWTSessionHMAC, AliasLocalhost, AliasSelfServiceCert}

// DefaultsOptions tunes PopulateDefaults. The zero value makes 256-bit AES keys.
type DefaultsOptions struct {
	// AESBits is the size of the two AES keys: 256 (0 means 256, IDM on JDK 19+) or 128
	// (IDM on JDK 17 and ForgeOps). Reading accepts either.
	AESBits int
	// Now is the clock for certificate validity and serial numbers; nil means time.Now.
	Now func() time.Time
}

// PopulateDefaults creates, as IDM's populateDefaults does, those of IDM's five default
// aliases (DefaultAliases) that the store lacks, in one save: openidm-sym-default and
// openidm-selfservice-key as AES keys, openidm-jwtsessionhmac-key as a 256-bit HmacSHA256
// key, openidm-localhost and selfservice as RSA 2048 key pairs with self-signed
// SHA512withRSA certificates (subjects "CN=localhost, O=OpenIDM Self-Signed Certificate"
// and "CN=selfservice, O=OpenIDM Self Service Certificate", OU, L, ST and C "None"; serial
// = epoch milliseconds; valid from 30 days ago to ten years from now). Existing aliases are
// never touched. It returns the aliases created.
//
// Errors: nothing to create is not an error, even on a read-only store; creating on a JCEKS
// or JKS file wraps secrets.ErrReadOnly and names the fix; ctx.Err(); secrets.ErrClosed.
func (s *Store) PopulateDefaults(ctx context.Context, opts DefaultsOptions) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	aesBits := opts.AESBits
	if aesBits == 0 {
		aesBits = 256
	}
	if aesBits != 128 && aesBits != 256 {
		return nil, fmt.Errorf("filestore: populateDefaults: AES keys of %d bits: want 128 or 256", aesBits)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	missing := func(st *state) []string {
		var m []string
		for _, a := range DefaultAliases {
			if _, fe := st.lookup(a); fe == nil {
				m = append(m, a)
			}
		}
		return m
	}
	st, err := s.current()
	if err != nil {
		return nil, err
	}
	todo := missing(st)
	if len(todo) == 0 {
		return nil, nil
	}
	if err := s.readOnly(st, "populateDefaults", strings.Join(todo, ",")); err != nil {
		return nil, err
	}
	made := map[string]secrets.KeyMaterial{}
	for _, alias := range todo {
		km, err := defaultMaterial(alias, aesBits, now())
		if err != nil {
			return nil, err
		}
		made[alias] = km
	}
	return s.modify(ctx, "populateDefaults", "", func(st *state) ([]string, error) {
		var created []string
		for _, alias := range missing(st) { // another process may have made some meanwhile
			st.entries = append(st.entries, &fileEntry{d: decoded{Alias: alias, Created: now(), Material: made[alias]}})
			created = append(created, alias)
		}
		return created, nil
	})
}

func defaultMaterial(alias string, aesBits int, now time.Time) (secrets.KeyMaterial, error) {
	switch alias {
	case AliasSymDefault, AliasSelfServiceKey:
		return storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindAES, Bits: aesBits, Algorithm: "AES", Extractable: true})
	case AliasJWTSessionHMAC:
		return storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Algorithm: "HmacSHA256", Extractable: true})
	}
	cn, o := "localhost", "OpenIDM Self-Signed Certificate"
	if alias == AliasSelfServiceCert {
		cn, o = "selfservice", "OpenIDM Self Service Certificate"
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return secrets.KeyMaterial{}, err
	}
	cert, err := idmCertificate(key, cn, o, now)
	if err != nil {
		return secrets.KeyMaterial{}, err
	}
	return secrets.KeyMaterial{Kind: secrets.KindRSA, Private: key, Chain: []*x509.Certificate{cert}, Extractable: true}, nil
}

// idmSubject encodes IDM's default certificate subject: RDNs in the order C, ST, L, OU, O,
// CN (as BouncyCastle's X500NameBuilder adds them), C as PrintableString and the rest as
// UTF8String.
func idmSubject(cn, o string) ([]byte, error) {
	atv := func(oid asn1.ObjectIdentifier, tag int, v string) pkix.RelativeDistinguishedNameSET {
		return pkix.RelativeDistinguishedNameSET{{Type: oid, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: []byte(v)}}}
	}
	rdns := pkix.RDNSequence{
		atv(asn1.ObjectIdentifier{2, 5, 4, 6}, asn1.TagPrintableString, "None"),
		atv(asn1.ObjectIdentifier{2, 5, 4, 8}, asn1.TagUTF8String, "None"),
		atv(asn1.ObjectIdentifier{2, 5, 4, 7}, asn1.TagUTF8String, "None"),
		atv(asn1.ObjectIdentifier{2, 5, 4, 11}, asn1.TagUTF8String, "None"),
		atv(asn1.ObjectIdentifier{2, 5, 4, 10}, asn1.TagUTF8String, o),
		atv(asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.TagUTF8String, cn),
	}
	return asn1.Marshal(rdns)
}

func idmCertificate(key crypto.Signer, cn, o string, now time.Time) (*x509.Certificate, error) {
	subject, err := idmSubject(cn, o)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(now.UnixMilli()),
		RawSubject:         subject,
		NotBefore:          now.Add(-30 * 24 * time.Hour),
		NotAfter:           now.AddDate(10, 0, 0),
		SignatureAlgorithm: x509.SHA512WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
