package filestore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/secretstores/secretstores/secrets"
)

// PKCS#12 (RFC 7292) as JDK 17's PKCS12KeyStore reads and writes it, secret keys included.
// See shared/reference/keystores.md §1.

var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidSecretBag           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 5}
	oidSafeContentsBag     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 6}
	oidX509Certificate     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidFriendlyName        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidLocalKeyID          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	oidTrustedKeyUsage     = asn1.ObjectIdentifier{2, 16, 840, 1, 113894, 746875, 1, 1}
	oidAnyExtendedKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37, 0}
	oidKeyAES              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1}
	oidKeyDESede           = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidKeyPBEWithMD5AndDES = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 3}
	oidPBMAC1              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
)

// secretKeyAlgs maps Java secret-key algorithm names to the OIDs PKCS12KeyStore writes.
var secretKeyAlgs = []struct {
	name string
	oid  asn1.ObjectIdentifier
	kind secrets.Kind
}{
	{"AES", oidKeyAES, secrets.KindAES},
	{"HmacSHA256", oidHmacWithSHA256, secrets.KindSecret},
	{"HmacSHA1", oidHmacWithSHA1, secrets.KindSecret},
	{"HmacSHA224", oidHmacWithSHA224, secrets.KindSecret},
	{"HmacSHA384", oidHmacWithSHA384, secrets.KindSecret},
	{"HmacSHA512", oidHmacWithSHA512, secrets.KindSecret},
	{"DESede", oidKeyDESede, secrets.KindSecret},
	{"PBEWithMD5AndDES", oidKeyPBEWithMD5AndDES, secrets.KindSecret},
}

type pfxPDU struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type encryptedData struct {
	Version              int
	EncryptedContentInfo encryptedContentInfo
}

type encryptedContentInfo struct {
	ContentType                asn1.ObjectIdentifier
	ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedContent           asn1.RawValue `asn1:"tag:0,optional"`
}

type digestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

type macData struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue     `asn1:"tag:0,explicit"`
	Attributes []pkcs12Attribute `asn1:"set,optional"`
}

type pkcs12Attribute struct {
	ID     asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type certBag struct {
	ID   asn1.ObjectIdentifier
	Data []byte `asn1:"tag:0,explicit"`
}

type secretBag struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"tag:0,explicit"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

// secretKeyInfo is the PKCS#8-shaped plaintext of a Java secret key.
type secretKeyInfo struct {
	Version   int
	Algorithm pkix.AlgorithmIdentifier
	Key       []byte
}

// p12Key is a key entry's bag as read from the file, kept encrypted until first use.
type p12Key struct {
	bagID asn1.ObjectIdentifier // keyBag, pkcs8ShroudedKeyBag or secretBag
	value []byte                // the bag's value, inside [0] EXPLICIT
	raw   []byte                // the whole SafeBag, written back unchanged
}

// p12File is a decoded PKCS#12 keystore.
type p12File struct {
	entries []decoded
	// extra are bags that are not entries (CRL bags, unknown bag types, certificates no
	// entry uses), kept verbatim and written back inside the encrypted content.
	extra [][]byte
}

// p12Error is an error about a PKCS#12 file; it never carries a password or key bytes.
func p12Error(format string, args ...any) error {
	return fmt.Errorf("filestore: PKCS#12: "+format, args...)
}

// isPKCS12 reports whether data starts like a DER PFX (a SEQUENCE holding INTEGER 3).
func looksLikePKCS12(data []byte) bool {
	return len(data) > 4 && data[0] == 0x30
}

// decodePKCS12 verifies the MAC of a PKCS#12 file and returns its entries, their keys still
// encrypted. A MAC that does not verify gives an error wrapping secrets.ErrWrongPIN.
func decodePKCS12(data []byte, password string) (*p12File, error) {
	return decodePKCS12Opts(data, password, false)
}

// decodePKCS12Opts is decodePKCS12; allowNoMAC accepts a file without a MAC (Config.AllowNoMAC).
func decodePKCS12Opts(data []byte, password string, allowNoMAC bool) (*p12File, error) {
	if len(data) > MaxFileSize {
		return nil, p12Error("file of %d bytes exceeds the limit of %d", len(data), MaxFileSize)
	}
	var pfx pfxPDU
	if err := unmarshalBER(data, &pfx); err != nil {
		return nil, p12Error("not a PKCS#12 file (%v); is the file truncated?", err)
	}
	if pfx.Version != 3 {
		return nil, p12Error("version %d, want 3", pfx.Version)
	}
	if !pfx.AuthSafe.ContentType.Equal(oidData) {
		return nil, p12Error("authenticated safe of type %v: only password integrity (pkcs7-data) is supported, not public-key integrity", pfx.AuthSafe.ContentType)
	}
	var authSafe []byte
	if err := unmarshalBER(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return nil, p12Error("malformed authenticated safe: %v", err)
	}
	budget := &iterationBudget{left: openIterationBudget}
	if len(pfx.MacData.Mac.Digest) == 0 && pfx.MacData.Mac.Algorithm.Algorithm == nil {
		if !allowNoMAC {
			return nil, p12Error("the file has no integrity MAC, so nothing proves it was not altered (Java opens it under any password); set Config.AllowNoMAC to accept it, or rewrite it with a MAC: keytool -importkeystore -srckeystore FILE -srcstoretype PKCS12 -destkeystore keystore.p12 -deststoretype PKCS12")
		}
	} else if err := verifyMAC(&pfx.MacData, authSafe, password, budget); err != nil {
		return nil, err
	}
	var cis []contentInfo
	if err := unmarshalBER(authSafe, &cis); err != nil {
		return nil, p12Error("malformed authenticated safe: %v", err)
	}
	d := &bagDecoder{password: password, budget: budget}
	for i, ci := range cis {
		var contents []byte
		switch {
		case ci.ContentType.Equal(oidData):
			if err := unmarshalBER(ci.Content.Bytes, &contents); err != nil {
				return nil, p12Error("content %d: malformed data: %v", i, err)
			}
		case ci.ContentType.Equal(oidEncryptedData):
			var ed encryptedData
			if err := unmarshalBER(ci.Content.Bytes, &ed); err != nil {
				return nil, p12Error("content %d: malformed encryptedData: %v", i, err)
			}
			ct, err := octets(ed.EncryptedContentInfo.EncryptedContent)
			if err != nil {
				return nil, p12Error("content %d: %v", i, err)
			}
			contents, err = pbeDecrypt(ed.EncryptedContentInfo.ContentEncryptionAlgorithm, password, ct, budget)
			if err != nil {
				if errors.Is(err, errPadding) {
					return nil, p12Error("content %d does not decrypt with the store password although the MAC verified: %w", i, secrets.ErrWrongPIN)
				}
				return nil, p12Error("content %d: %v", i, err)
			}
		default:
			return nil, p12Error("content %d of type %v: only data and encryptedData are supported (public-key encrypted PKCS#12 files are not)", i, ci.ContentType)
		}
		if err := d.safeContents(contents, 0); err != nil {
			return nil, err
		}
	}
	return d.assemble()
}

// octets returns the bytes of an [0] IMPLICIT OCTET STRING, primitive or (BER-style)
// constructed of primitive OCTET STRINGs.
func octets(rv asn1.RawValue) ([]byte, error) {
	if !rv.IsCompound {
		return rv.Bytes, nil
	}
	var out []byte
	rest := rv.Bytes
	for len(rest) > 0 {
		var part []byte
		var err error
		if rest, err = asn1.Unmarshal(rest, &part); err != nil {
			return nil, fmt.Errorf("malformed encrypted content: %v", err)
		}
		out = append(out, part...)
	}
	return out, nil
}

func macHash(oid asn1.ObjectIdentifier) (kdfHash, string, bool) {
	switch {
	case oid.Equal(oidSHA1):
		return kdfSHA1, "SHA-1", true
	case oid.Equal(oidSHA224):
		return kdfSHA224, "SHA-224", true
	case oid.Equal(oidSHA256):
		return kdfSHA256, "SHA-256", true
	case oid.Equal(oidSHA384):
		return kdfSHA384, "SHA-384", true
	case oid.Equal(oidSHA512):
		return kdfSHA512, "SHA-512", true
	}
	return kdfHash{}, "", false
}

func verifyMAC(md *macData, authSafe []byte, password string, budget *iterationBudget) error {
	h, _, ok := macHash(md.Mac.Algorithm.Algorithm)
	if md.Mac.Algorithm.Algorithm.Equal(oidPBMAC1) {
		return verifyPBMAC1(md, authSafe, password, budget)
	}
	if !ok {
		return p12Error("MAC digest %v is not supported (want SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512)", md.Mac.Algorithm.Algorithm)
	}
	if len(md.MacSalt) > maxSaltLen {
		return p12Error("MAC salt of %d bytes exceeds the limit of %d", len(md.MacSalt), maxSaltLen)
	}
	if err := budget.spend(md.Iterations); err != nil {
		return p12Error("MAC: %v", err)
	}
	candidates := [][]byte{bmpPassword(password)}
	if password == "" {
		// Some writers encode the empty password as no bytes at all, without the terminator.
		candidates = append(candidates, nil)
	}
	for _, pw := range candidates {
		key := pkcs12KDF(h, pw, md.MacSalt, kdfMAC, md.Iterations, h.u)
		m := hmac.New(h.new, key)
		m.Write(authSafe)
		if subtle.ConstantTimeCompare(m.Sum(nil), md.Mac.Digest) == 1 {
			return nil
		}
	}
	return p12Error("the integrity MAC does not verify: %w (or the file was modified)", secrets.ErrWrongPIN)
}

type pbmac1Params struct {
	KDF pkix.AlgorithmIdentifier
	MAC pkix.AlgorithmIdentifier
}

// verifyPBMAC1 checks a PBMAC1 MAC (RFC 9579): HMAC-SHA-1/2 keyed by PBKDF2 over the password's
// UTF-8 bytes with the parameters inside the algorithm identifier (MacData's own salt and
// iteration count are not used). The PBKDF2 key length must be present and at least the
// HMAC's output size: a short key would let a file be forged without the password.
func verifyPBMAC1(md *macData, authSafe []byte, password string, budget *iterationBudget) error {
	var p pbmac1Params
	if err := strictUnmarshal(md.Mac.Algorithm.Parameters.FullBytes, &p); err != nil {
		return p12Error("malformed PBMAC1 parameters: %v", err)
	}
	if !p.KDF.Algorithm.Equal(oidPBKDF2) {
		return p12Error("PBMAC1 key derivation %v: %w (only PBKDF2)", p.KDF.Algorithm, errors.ErrUnsupported)
	}
	var kp pbkdf2Params
	if err := strictUnmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil {
		return p12Error("malformed PBMAC1 PBKDF2 parameters: %v", err)
	}
	prf, ok := hmacPRF(kp.PRF.Algorithm)
	if !ok {
		return p12Error("PBMAC1 PBKDF2 PRF %v: %w", kp.PRF.Algorithm, errors.ErrUnsupported)
	}
	mac, ok := hmacPRF(p.MAC.Algorithm)
	if !ok || len(p.MAC.Algorithm) == 0 {
		return p12Error("PBMAC1 MAC %v: %w (HMAC-SHA-1, -224, -256, -384, -512)", p.MAC.Algorithm, errors.ErrUnsupported)
	}
	if len(kp.Salt) > maxSaltLen {
		return p12Error("PBMAC1 salt of %d bytes exceeds the limit of %d", len(kp.Salt), maxSaltLen)
	}
	if size := mac().Size(); kp.KeyLength < size || kp.KeyLength > 1024 {
		return p12Error("PBMAC1 PBKDF2 key length %d: RFC 9579 requires it, and at least the %d bytes of the HMAC, or the MAC could be forged without the password", kp.KeyLength, size)
	}
	if err := budget.spend(kp.Iterations); err != nil {
		return p12Error("MAC: %v", err)
	}
	key, err := pbkdf2.Key(prf, password, kp.Salt, kp.Iterations, kp.KeyLength)
	if err != nil {
		return p12Error("PBMAC1: %v", err)
	}
	m := hmac.New(mac, key)
	m.Write(authSafe)
	if subtle.ConstantTimeCompare(m.Sum(nil), md.Mac.Digest) != 1 {
		return p12Error("the integrity MAC (PBMAC1) does not verify: %w (or the file was modified)", secrets.ErrWrongPIN)
	}
	return nil
}

type bagDecoder struct {
	password string
	budget   *iterationBudget
	nbags    int
	keys     []bagAttrs // key, shrouded key and secret bags, in file order
	certs    []bagAttrs // cert bags
	extra    [][]byte
}

type bagAttrs struct {
	raw          []byte
	id           asn1.ObjectIdentifier
	value        []byte
	friendlyName string
	hasName      bool
	localKeyID   []byte
	trusted      bool
	cert         *x509.Certificate
	certErr      error // the certificate is kept as DER only: Go cannot parse it
	used         bool
	inChain      bool
}

func (d *bagDecoder) safeContents(der []byte, depth int) error {
	if depth > maxNesting {
		return p12Error("safe contents nested more than %d deep", maxNesting)
	}
	var bags []asn1.RawValue
	if err := unmarshalBER(der, &bags); err != nil {
		return p12Error("malformed safe contents: %v", err)
	}
	for _, rb := range bags {
		d.nbags++
		if d.nbags > maxBags {
			return p12Error("more than %d bags", maxBags)
		}
		var b safeBag
		if err := unmarshalBER(rb.FullBytes, &b); err != nil {
			return p12Error("malformed bag: %v", err)
		}
		a := bagAttrs{raw: rb.FullBytes, id: b.ID, value: b.Value.Bytes}
		if err := a.parseAttributes(b.Attributes); err != nil {
			return err
		}
		switch {
		case b.ID.Equal(oidKeyBag), b.ID.Equal(oidShroudedKeyBag), b.ID.Equal(oidSecretBag):
			d.keys = append(d.keys, a)
		case b.ID.Equal(oidCertBag):
			var cb certBag
			if err := unmarshalBER(b.Value.Bytes, &cb); err != nil {
				return p12Error("malformed certificate bag: %v", err)
			}
			if !cb.ID.Equal(oidX509Certificate) {
				d.extra = append(d.extra, rb.FullBytes) // an SDSI certificate, say: kept, unused
				continue
			}
			c, err := parseCertificateKeepDER(cb.Data)
			if c == nil {
				return p12Error("certificate %q: %v", a.friendlyName, err)
			}
			a.cert, a.certErr = c, err
			d.certs = append(d.certs, a)
		case b.ID.Equal(oidSafeContentsBag):
			if err := d.safeContents(b.Value.Bytes, depth+1); err != nil {
				return err
			}
		default:
			// CRL bags and bag types this reader does not know: Java ignores them too.
			d.extra = append(d.extra, rb.FullBytes)
		}
	}
	return nil
}

func (a *bagAttrs) parseAttributes(attrs []pkcs12Attribute) error {
	for _, at := range attrs {
		var vals []asn1.RawValue
		if _, err := asn1.UnmarshalWithParams(at.Values.FullBytes, &vals, "set"); err != nil {
			return p12Error("malformed bag attribute %v: %v", at.ID, err)
		}
		switch {
		case at.ID.Equal(oidFriendlyName):
			if len(vals) != 1 {
				return p12Error("friendlyName with %d values", len(vals))
			}
			name, err := decodeName(vals[0])
			if err != nil {
				return err
			}
			a.friendlyName, a.hasName = name, true
		case at.ID.Equal(oidLocalKeyID):
			if len(vals) != 1 || vals[0].Tag != asn1.TagOctetString || vals[0].Class != asn1.ClassUniversal {
				return p12Error("malformed localKeyID")
			}
			a.localKeyID = vals[0].Bytes
		case at.ID.Equal(oidTrustedKeyUsage):
			a.trusted = true
		}
	}
	return nil
}

func decodeName(v asn1.RawValue) (string, error) {
	if v.Class != asn1.ClassUniversal {
		return "", p12Error("friendlyName of class %d", v.Class)
	}
	switch v.Tag {
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", p12Error("friendlyName BMPString of odd length")
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), nil
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String:
		return string(v.Bytes), nil
	}
	return "", p12Error("friendlyName of ASN.1 tag %d", v.Tag)
}

// createdFromLocalKeyID returns the creation time Java encodes in its localKeyID
// ("Time <epoch-millis>"), or the zero time.
func createdFromLocalKeyID(id []byte) time.Time {
	s, ok := strings.CutPrefix(string(id), "Time ")
	if !ok {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < 0 || ms > 1<<53 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// assemble links key bags to their certificate chains and names entries as Java 17 does:
// the alias is the friendlyName in lower case (Java's PKCS12KeyStore folds it), or "1", "2",
// ... for bags without one; a key's leaf certificate carries the key's localKeyID; the rest
// of the chain is found by issuer name and key identifiers; certificate bags with Oracle's
// trustedKeyUsage are trusted-certificate entries. A later entry with the same alias
// replaces an earlier one, in the position of the first (Java's LinkedHashMap put).
func (d *bagDecoder) assemble() (*p12File, error) {
	f := &p12File{extra: d.extra}
	var out []decoded
	unnamed := 0
	name := func(a *bagAttrs) string {
		if !a.hasName || a.friendlyName == "" {
			unnamed++
			return strconv.Itoa(unnamed)
		}
		return strings.ToLower(a.friendlyName)
	}
	for i := range d.keys {
		k := &d.keys[i]
		e := decoded{Alias: name(k), Created: createdFromLocalKeyID(k.localKeyID), localKeyID: k.localKeyID,
			key: &p12Key{bagID: k.id, value: k.value, raw: k.raw}}
		if !k.id.Equal(oidSecretBag) && len(k.localKeyID) > 0 {
			for i := range d.certs {
				c := &d.certs[i]
				if len(c.localKeyID) > 0 && bytes.Equal(c.localKeyID, k.localKeyID) {
					c.used = true
					e.Material.Chain, e.err = d.chain(c)
					break
				}
			}
		}
		out = append(out, e)
	}
	for i := range d.certs {
		c := &d.certs[i]
		if c.used || !c.trusted {
			continue
		}
		c.used = true
		out = append(out, decoded{Alias: name(c), Created: createdFromLocalKeyID(c.localKeyID), err: c.certErr,
			Material: secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{c.cert}}})
	}
	// Chain members and stray certificates are not entries; keep the stray ones verbatim.
	for i := range d.certs {
		c := &d.certs[i]
		if !c.used && !c.inChain {
			f.extra = append(f.extra, c.raw)
		}
	}
	index := map[string]int{}
	for _, e := range out {
		k := strings.ToLower(e.Alias)
		if i, ok := index[k]; ok {
			f.entries[i] = e
			continue
		}
		index[k] = len(f.entries)
		f.entries = append(f.entries, e)
	}
	return f, nil
}

// chain returns leaf followed by its issuers found among the file's certificates, as Java
// builds it: each next certificate's subject is the current one's issuer (preferring one
// whose subject key identifier matches the authority key identifier, then one whose
// signature verifies); it stops at a self-issued certificate, at a certificate already in
// the chain (a loop of n certificates gives n), or at maxChainLen. The error is that of
// the first certificate Go cannot parse, if any.
func (d *bagDecoder) chain(leaf *bagAttrs) ([]*x509.Certificate, error) {
	chain := []*x509.Certificate{leaf.cert}
	err := leaf.certErr
	cur := leaf.cert
	for len(chain) < maxChainLen {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) {
			break
		}
		var next *bagAttrs
		score := -1
		for i := range d.certs {
			c := &d.certs[i]
			if !bytes.Equal(c.cert.RawSubject, cur.RawIssuer) || slices.ContainsFunc(chain, c.cert.Equal) {
				continue
			}
			s := 0
			if len(cur.AuthorityKeyId) > 0 && bytes.Equal(cur.AuthorityKeyId, c.cert.SubjectKeyId) {
				s += 2
			}
			if c.certErr == nil && cur.PublicKey != nil && cur.CheckSignatureFrom(c.cert) == nil {
				s++
			}
			if s > score {
				next, score = c, s
			}
		}
		if next == nil {
			break
		}
		next.inChain = true
		if err == nil {
			err = next.certErr
		}
		chain = append(chain, next.cert)
		cur = next.cert
	}
	return chain, err
}

// decryptKey decrypts a key bag with password and returns its material (without the chain).
// A padding failure, the sign of a wrong password, wraps secrets.ErrWrongPIN.
func (k *p12Key) decrypt(password string) (secrets.KeyMaterial, error) {
	var km secrets.KeyMaterial
	switch {
	case k.bagID.Equal(oidKeyBag):
		return privateKeyMaterial(k.value)
	case k.bagID.Equal(oidShroudedKeyBag):
		pt, err := decryptEPKI(k.value, password)
		if err != nil {
			return km, err
		}
		return privateKeyMaterial(pt)
	case k.bagID.Equal(oidSecretBag):
		var sb secretBag
		if err := unmarshalBER(k.value, &sb); err != nil {
			return km, p12Error("malformed secret bag: %v", err)
		}
		var epki []byte
		switch {
		case sb.ID.Equal(oidShroudedKeyBag):
			// keytool wraps the EncryptedPrivateKeyInfo in an extra OCTET STRING.
			if err := unmarshalBER(sb.Value.Bytes, &epki); err != nil {
				return km, p12Error("malformed secret bag value: %v", err)
			}
		default:
			return km, p12Error("secret bag of type %v: only pkcs8ShroudedKeyBag secrets (as Java writes them) are supported", sb.ID)
		}
		pt, err := decryptEPKI(epki, password)
		if err != nil {
			return km, err
		}
		return secretKeyMaterial(pt)
	}
	return km, p12Error("bag type %v is not a key", k.bagID)
}

func decryptEPKI(der []byte, password string) ([]byte, error) {
	var epki encryptedPrivateKeyInfo
	if err := unmarshalBER(der, &epki); err != nil {
		return nil, p12Error("malformed EncryptedPrivateKeyInfo: %v", err)
	}
	pt, err := pbeDecrypt(epki.Algorithm, password, epki.Data, nil)
	if errors.Is(err, errPadding) {
		return nil, p12Error("the key does not decrypt with this password: %w (if the entry has its own key password, set Config.KeyPassword)", secrets.ErrWrongPIN)
	}
	if err != nil {
		return nil, p12Error("key: %v", err)
	}
	return pt, nil
}

func privateKeyMaterial(pkcs8 []byte) (secrets.KeyMaterial, error) {
	var km secrets.KeyMaterial
	key, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return km, p12Error("%w", unsupportedKeyError(pkcs8, err))
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		km.Kind, km.Private = secrets.KindRSA, k
	case *ecdsa.PrivateKey:
		km.Kind, km.Private = secrets.KindEC, k
	default:
		return km, p12Error("private key of type %T: %w (only RSA and EC keys)", key, errors.ErrUnsupported)
	}
	km.Extractable = true
	return km, nil
}

func secretKeyMaterial(pt []byte) (secrets.KeyMaterial, error) {
	var km secrets.KeyMaterial
	var ski secretKeyInfo
	if _, err := asn1.Unmarshal(pt, &ski); err != nil {
		return km, p12Error("the secret key did not decrypt to a key: the key password is wrong: %w", secrets.ErrWrongPIN)
	}
	if len(ski.Key) == 0 {
		return km, p12Error("empty secret key")
	}
	km.Kind, km.Algorithm = secrets.KindSecret, ski.Algorithm.Algorithm.String()
	for _, a := range secretKeyAlgs {
		if a.oid.Equal(ski.Algorithm.Algorithm) {
			km.Kind, km.Algorithm = a.kind, a.name
		}
	}
	if km.Kind == secrets.KindAES && len(ski.Key) != 16 && len(ski.Key) != 24 && len(ski.Key) != 32 {
		return km, p12Error("AES key of %d bytes", len(ski.Key))
	}
	km.Secret = ski.Key
	km.Extractable = true
	return km, nil
}

// ---- writing ----

// p12Writer encodes entries as JDK 17 keytool does by default.
type p12Writer struct {
	password   string // store password: MAC and certificate encryption
	keyPass    string // key bags
	iterations int
}

// p12Out is one entry to write: either its original bag (raw) or its material.
type p12Out struct {
	alias      string
	localKeyID []byte
	km         secrets.KeyMaterial
	raw        []byte // original key bag, written back unchanged
}

func secretKeyOID(km secrets.KeyMaterial) (asn1.ObjectIdentifier, error) {
	name := km.Algorithm
	if name == "" {
		switch km.Kind {
		case secrets.KindAES:
			name = "AES"
		default:
			name = "HmacSHA256"
		}
	}
	for _, a := range secretKeyAlgs {
		if strings.EqualFold(a.name, name) {
			if a.kind != km.Kind && !(km.Kind == secrets.KindSecret && a.kind == secrets.KindAES) {
				return nil, p12Error("algorithm %s for a key of kind %v", name, km.Kind)
			}
			return a.oid, nil
		}
	}
	// An OID read from another file round-trips.
	var oid asn1.ObjectIdentifier
	for _, part := range strings.Split(name, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, p12Error("secret-key algorithm %q has no PKCS#12 OID: use AES, HmacSHA1, HmacSHA224, HmacSHA256, HmacSHA384 or HmacSHA512", name)
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, p12Error("secret-key algorithm %q has no PKCS#12 OID", name)
	}
	return oid, nil
}

func attrFriendlyName(alias string) pkcs12Attribute {
	u := utf16.Encode([]rune(alias))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	v, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagBMPString, Bytes: b})
	return pkcs12Attribute{ID: oidFriendlyName, Values: setOf(v)}
}

func attrLocalKeyID(id []byte) pkcs12Attribute {
	v, _ := asn1.Marshal(id)
	return pkcs12Attribute{ID: oidLocalKeyID, Values: setOf(v)}
}

func attrTrustedKeyUsage() pkcs12Attribute {
	v, _ := asn1.Marshal(oidAnyExtendedKeyUsage)
	return pkcs12Attribute{ID: oidTrustedKeyUsage, Values: setOf(v)}
}

func setOf(elems ...[]byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(elems, nil)}
}

func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

func (w *p12Writer) epki(pt []byte) ([]byte, error) {
	alg, ct, err := pbes2Encrypt(w.keyPass, w.iterations, pt)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(encryptedPrivateKeyInfo{Algorithm: alg, Data: ct})
}

// keyBag returns the SafeBag of an entry's key: a secretBag for secret keys, a
// pkcs8ShroudedKeyBag for private keys.
func (w *p12Writer) keyBag(o *p12Out) ([]byte, error) {
	attrs := []pkcs12Attribute{attrFriendlyName(o.alias), attrLocalKeyID(o.localKeyID)}
	km := o.km
	switch {
	case km.Kind.Symmetric():
		oid, err := secretKeyOID(km)
		if err != nil {
			return nil, err
		}
		pt, err := asn1.Marshal(secretKeyInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1NULL}, Key: km.Secret})
		if err != nil {
			return nil, err
		}
		epki, err := w.epki(pt)
		if err != nil {
			return nil, err
		}
		inner, err := asn1.Marshal(epki)
		if err != nil {
			return nil, err
		}
		sb, err := asn1.Marshal(secretBag{ID: oidShroudedKeyBag, Value: explicit0(inner)})
		if err != nil {
			return nil, err
		}
		// localKeyID before friendlyName, as Java orders them.
		return asn1.Marshal(safeBag{ID: oidSecretBag, Value: explicit0(sb), Attributes: []pkcs12Attribute{attrs[1], attrs[0]}})
	case km.Kind.Private():
		pt, err := x509.MarshalPKCS8PrivateKey(km.Private)
		if err != nil {
			return nil, p12Error("alias %s: %v", o.alias, err)
		}
		epki, err := w.epki(pt)
		if err != nil {
			return nil, err
		}
		return asn1.Marshal(safeBag{ID: oidShroudedKeyBag, Value: explicit0(epki), Attributes: []pkcs12Attribute{attrs[1], attrs[0]}})
	}
	return nil, p12Error("alias %s: no key bag for kind %v", o.alias, km.Kind)
}

func certBagDER(c *x509.Certificate, attrs []pkcs12Attribute) ([]byte, error) {
	cb, err := asn1.Marshal(certBag{ID: oidX509Certificate, Data: c.Raw})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(safeBag{ID: oidCertBag, Value: explicit0(cb), Attributes: attrs})
}

// encode returns the PKCS#12 file holding entries (in order) and the extra bags: key bags
// in a plain data content, certificate bags in a PBES2-encrypted content, an HMAC-SHA256
// MAC over the whole. A truststore is a single encrypted content.
func (w *p12Writer) encode(entries []p12Out, extra [][]byte) ([]byte, error) {
	var keyBags, certBags [][]byte
	seen := map[string]bool{}
	for i := range entries {
		o := &entries[i]
		if o.km.Kind == secrets.KindCertificate {
			if len(o.km.Chain) == 0 {
				return nil, p12Error("alias %s: certificate entry without certificate", o.alias)
			}
			b, err := certBagDER(o.km.Chain[0], []pkcs12Attribute{attrFriendlyName(o.alias), attrTrustedKeyUsage()})
			if err != nil {
				return nil, err
			}
			certBags = append(certBags, b)
			continue
		}
		kb := o.raw
		if kb == nil {
			var err error
			if kb, err = w.keyBag(o); err != nil {
				return nil, err
			}
		}
		keyBags = append(keyBags, kb)
		for j, c := range o.km.Chain {
			var attrs []pkcs12Attribute
			if j == 0 {
				attrs = []pkcs12Attribute{attrFriendlyName(o.alias), attrLocalKeyID(o.localKeyID)}
			} else if seen[string(c.Raw)] {
				continue // one copy of a shared CA certificate is enough
			}
			seen[string(c.Raw)] = true
			b, err := certBagDER(c, attrs)
			if err != nil {
				return nil, err
			}
			certBags = append(certBags, b)
		}
	}
	certBags = append(certBags, extra...)
	var cis []contentInfo
	if len(keyBags) > 0 {
		sc, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(keyBags, nil)})
		if err != nil {
			return nil, err
		}
		os, err := asn1.Marshal(sc)
		if err != nil {
			return nil, err
		}
		cis = append(cis, contentInfo{ContentType: oidData, Content: explicit0(os)})
	}
	if len(certBags) > 0 {
		sc, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(certBags, nil)})
		if err != nil {
			return nil, err
		}
		alg, ct, err := pbes2Encrypt(w.password, w.iterations, sc)
		if err != nil {
			return nil, err
		}
		ed, err := asn1.Marshal(encryptedData{Version: 0, EncryptedContentInfo: encryptedContentInfo{
			ContentType: oidData, ContentEncryptionAlgorithm: alg,
			EncryptedContent: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct},
		}})
		if err != nil {
			return nil, err
		}
		cis = append(cis, contentInfo{ContentType: oidEncryptedData, Content: explicit0(ed)})
	}
	if cis == nil {
		cis = []contentInfo{}
	}
	authSafe, err := asn1.Marshal(cis)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 20)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	key := pkcs12KDF(kdfSHA256, bmpPassword(w.password), salt, kdfMAC, w.iterations, 32)
	m := hmac.New(kdfSHA256.new, key)
	m.Write(authSafe)
	asOS, err := asn1.Marshal(authSafe)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pfxPDU{
		Version:  3,
		AuthSafe: contentInfo{ContentType: oidData, Content: explicit0(asOS)},
		MacData: macData{
			Mac:        digestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1NULL}, Digest: m.Sum(nil)},
			MacSalt:    salt,
			Iterations: w.iterations,
		},
	})
}

// newLocalKeyID returns a localKeyID as Java makes them: "Time <epoch-millis>".
func newLocalKeyID(t time.Time) []byte {
	return []byte("Time " + strconv.FormatInt(t.UnixMilli(), 10))
}
