package filestore

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/secretstores/secretstores/secrets"
)

// Readers for Sun's JCEKS (magic 0xCECECECE) and JKS (0xFEEDFEED) keystore files, as JDK 17
// keytool writes them (shared/reference/keystores.md §2–3). Both are read-only here.
//
// Limits, so that a hostile file costs neither a minute of CPU nor a large allocation: the file
// is at most maxJavaKeyStoreSize; at most maxJavaEntries entries and maxJavaChain certificates
// per chain; every length must fit in what remains of the file (lengths only slice the input,
// they never allocate); a PBE iteration count is at most maxPBEIterations per entry (Java's
// own KeyProtector limit) and, for decodeJavaKeyStore, maxPBETotalIterations over the file;
// the Java serialization of a secret key obeys the limits in javaser.go.

const (
	maxJavaKeyStoreSize   = 16 << 20
	maxJavaEntries        = 10000
	maxJavaChain          = 32
	maxPBEIterations      = 5_000_000  // com.sun.crypto.provider.KeyProtector.MAX_ITERATION_COUNT
	maxPBETotalIterations = 20_000_000 // about 4 s of MD5 at 90 ns per block
	maxSealedContent      = 64 << 10
	javaMagicJCEKS        = 0xCECECECE
	javaMagicJKS          = 0xFEEDFEED
	javaTagPrivateKey     = 1
	javaTagTrustedCert    = 2
	javaTagSecretKey      = 3
	sunJCEPBEAlg          = "PBEWithMD5AndTripleDES"
	sealedObjectClass     = "javax.crypto.SealedObject"
	sealedForKPClass      = "com.sun.crypto.provider.SealedObjectForKeyProtector"
	secretKeySpecClass    = "javax.crypto.spec.SecretKeySpec"
	keyRepClass           = "java.security.KeyRep"
)

var (
	oidSunJCEKeyProtector = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 42, 2, 19, 1}    // PBEWithMD5AndTripleDES
	oidSunJDKKeyProtector = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 42, 2, 17, 1, 1} // JKS
)

// errJavaKeyPass is the cause when an entry of a keystore whose store password verified does
// not decrypt under that password.
var errJavaKeyPass = errors.New("the key password differs from the store password")

// javaKeyStore is a parsed JCEKS or JKS file whose integrity trailer verified. Certificates
// are parsed; keys stay encrypted until javaEntry.decrypt.
type javaKeyStore struct {
	format  Format
	entries []javaEntry
}

// javaEntry is one entry; exactly one of epki (tag 1), sealed (tag 3) or the chain alone
// (tag 2) describes it.
type javaEntry struct {
	format  Format
	alias   string
	created time.Time
	tag     uint32
	epki    []byte // tag 1: DER EncryptedPrivateKeyInfo
	sealed  *sealedKey
	chain   []*x509.Certificate
	iters   int   // PBE iteration count, 0 when none
	certErr error // a certificate of chain Go cannot parse (kept as DER)
}

// sealedKey is the content of a SealedObjectForKeyProtector.
type sealedKey struct {
	salt       []byte
	iterations int
	content    []byte
}

// decodeJavaKeyStore reads a JCEKS or JKS keystore whose store password and key passwords are
// both password (what IDM requires). It verifies the keyed SHA-1 integrity trailer before
// using anything, then decrypts every entry.
//
// Errors: the integrity check failing (wrong password, or a modified file) wraps
// secrets.ErrWrongPIN; a JCEKS/JKS entry that does not decrypt under the store password wraps
// secrets.ErrWrongPIN and says that IDM requires the key password to equal the store
// password; a key algorithm this module cannot serve (DSA, say) wraps errors.ErrUnsupported;
// anything malformed is a plain error. No error carries the password or key bytes.
func decodeJavaKeyStore(data []byte, password string) (Format, []decoded, error) {
	return decodeJavaKeyStoreKeyPass(data, password, password)
}

// decodeJavaKeyStoreKeyPass is decodeJavaKeyStore with a key password that may differ from the
// store password (Java allows it for JCEKS and JKS; IDM does not).
func decodeJavaKeyStoreKeyPass(data []byte, storePassword, keyPassword string) (Format, []decoded, error) {
	ks, err := parseJavaKeyStore(data, storePassword)
	if err != nil {
		return "", nil, err
	}
	total := 0
	for _, e := range ks.entries {
		total += e.iters
		if total > maxPBETotalIterations {
			return "", nil, fmt.Errorf("filestore: %s: the entries' PBE iteration counts add up to more than %d", ks.format, maxPBETotalIterations)
		}
	}
	out := make([]decoded, 0, len(ks.entries))
	for i := range ks.entries {
		// An entry that does not decode fails alone, as in Java: the integrity check passed.
		d, err := ks.entries[i].decrypt(keyPassword)
		if err != nil {
			if errors.Is(err, errJavaKeyPass) && keyPassword != storePassword {
				// The caller gave a separate key password: it is simply wrong.
				err = fmt.Errorf("filestore: %s: alias %q: wrong key password: %w", ks.format, ks.entries[i].alias, secrets.ErrWrongPIN)
			}
			d = decoded{Alias: ks.entries[i].alias, Created: ks.entries[i].created, err: err,
				Material: secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: ks.entries[i].chain}}
		} else if ce := ks.entries[i].certErr; ce != nil {
			d.err = fmt.Errorf("filestore: %s: alias %q: %w", ks.format, ks.entries[i].alias, ce)
		}
		out = append(out, d)
	}
	return ks.format, out, nil
}

// isJavaKeyStore reports whether data starts with the JCEKS or JKS magic number.
func isJavaKeyStore(data []byte) bool {
	if len(data) < 4 {
		return false
	}
	m := binary.BigEndian.Uint32(data)
	return m == javaMagicJCEKS || m == javaMagicJKS
}

// javaPasswordBytes is how JavaKeyStore and JceKeyStore feed a password to SHA-1: each UTF-16
// code unit big-endian, no terminator.
func javaPasswordBytes(password string) []byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.BigEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// parseJavaKeyStore verifies the integrity trailer under storePassword and parses the
// entries, leaving keys encrypted.
func parseJavaKeyStore(data []byte, storePassword string) (*javaKeyStore, error) {
	if len(data) > maxJavaKeyStoreSize {
		return nil, fmt.Errorf("filestore: keystore of %d bytes exceeds the limit of %d", len(data), maxJavaKeyStoreSize)
	}
	if len(data) < 12+sha1.Size {
		return nil, errors.New("filestore: Java keystore truncated")
	}
	var format Format
	switch binary.BigEndian.Uint32(data) {
	case javaMagicJCEKS:
		format = JCEKS
	case javaMagicJKS:
		format = JKS
	default:
		return nil, errors.New("filestore: not a JCEKS or JKS keystore (bad magic)")
	}
	body, trailer := data[:len(data)-sha1.Size], data[len(data)-sha1.Size:]
	pw := javaPasswordBytes(storePassword)
	h := sha1.New()
	h.Write(pw)
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(body)
	clear(pw)
	if subtle.ConstantTimeCompare(h.Sum(nil), trailer) != 1 {
		return nil, fmt.Errorf("filestore: %s keystore integrity check failed: the store password is wrong or the file was modified: %w", format, secrets.ErrWrongPIN)
	}

	r := &ksReader{b: body, off: 4, format: format}
	version, err := r.u32()
	if err != nil {
		return nil, err
	}
	if version != 1 && version != 2 {
		return nil, fmt.Errorf("filestore: %s: unsupported version %d", format, version)
	}
	count, err := r.u32()
	if err != nil {
		return nil, err
	}
	// Every entry takes at least a tag, an alias length and a date: 14 bytes.
	if count > maxJavaEntries || int64(count)*14 > int64(len(body)-r.off) {
		return nil, fmt.Errorf("filestore: %s: entry count %d is too large", format, count)
	}
	ks := &javaKeyStore{format: format, entries: make([]javaEntry, 0, count)}
	// A duplicated alias: the later entry wins, in the place of the first, as Java's
	// Hashtable.put keeps it.
	seen := make(map[string]int, count)
	for range count {
		e, err := r.entry(version)
		if err != nil {
			return nil, err
		}
		e.certErr = r.certErr
		if i, ok := seen[e.alias]; ok {
			ks.entries[i] = e
			continue
		}
		seen[e.alias] = len(ks.entries)
		ks.entries = append(ks.entries, e)
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("filestore: %s: %d bytes after the last entry", format, len(body)-r.off)
	}
	return ks, nil
}

type ksReader struct {
	b      []byte
	off    int
	format Format
	// certErr is the first certificate of the current entry Go cannot parse.
	certErr error
}

func (r *ksReader) fail(what string) error {
	return fmt.Errorf("filestore: %s: %s at offset %d", r.format, what, r.off)
}

func (r *ksReader) take(n uint32) ([]byte, error) {
	if uint64(n) > uint64(len(r.b)-r.off) {
		return nil, r.fail("truncated")
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

func (r *ksReader) u32() (uint32, error) {
	s, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(s), nil
}

func (r *ksReader) utf() (string, error) {
	s, err := r.take(2)
	if err != nil {
		return "", err
	}
	s, err = r.take(uint32(binary.BigEndian.Uint16(s)))
	if err != nil {
		return "", err
	}
	str, ok := decodeModifiedUTF8(s)
	if !ok {
		return "", r.fail("bad modified UTF-8")
	}
	return str, nil
}

func (r *ksReader) cert(version uint32) (*x509.Certificate, error) {
	if version == 2 {
		typ, err := r.utf()
		if err != nil {
			return nil, err
		}
		if typ != "X.509" {
			return nil, r.fail(fmt.Sprintf("certificate type %q (want X.509)", typ))
		}
	}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	der, err := r.take(n)
	if err != nil {
		return nil, err
	}
	c, err := parseCertificateKeepDER(der)
	if c == nil {
		return nil, r.fail("bad certificate: " + err.Error())
	}
	if err != nil && r.certErr == nil {
		r.certErr = err
	}
	return c, nil
}

func (r *ksReader) entry(version uint32) (javaEntry, error) {
	e := javaEntry{format: r.format}
	r.certErr = nil
	var err error
	if e.tag, err = r.u32(); err != nil {
		return e, err
	}
	if e.alias, err = r.utf(); err != nil {
		return e, err
	}
	ts, err := r.take(8)
	if err != nil {
		return e, err
	}
	e.created = time.UnixMilli(int64(binary.BigEndian.Uint64(ts)))
	switch e.tag {
	case javaTagPrivateKey:
		n, err := r.u32()
		if err != nil {
			return e, err
		}
		if e.epki, err = r.take(n); err != nil {
			return e, err
		}
		if e.iters, err = javaEPKIIterations(e.epki); err != nil {
			return e, fmt.Errorf("filestore: %s: alias %q: %w", r.format, e.alias, err)
		}
		nc, err := r.u32()
		if err != nil {
			return e, err
		}
		if nc > maxJavaChain {
			return e, r.fail(fmt.Sprintf("certificate chain of %d", nc))
		}
		for range nc {
			c, err := r.cert(version)
			if err != nil {
				return e, err
			}
			e.chain = append(e.chain, c)
		}
	case javaTagTrustedCert:
		c, err := r.cert(version)
		if err != nil {
			return e, err
		}
		e.chain = []*x509.Certificate{c}
	case javaTagSecretKey:
		if r.format != JCEKS {
			return e, r.fail("secret-key entry in a JKS keystore")
		}
		v, n, err := parseJavaSerial(r.b[r.off:])
		if err != nil {
			return e, fmt.Errorf("filestore: %s: alias %q: secret key: %w", r.format, e.alias, err)
		}
		r.off += n
		if e.sealed, err = sealedKeyFrom(v); err != nil {
			return e, fmt.Errorf("filestore: %s: alias %q: secret key: %w", r.format, e.alias, err)
		}
		e.iters = e.sealed.iterations
	default:
		return e, r.fail(fmt.Sprintf("unknown entry tag %d", e.tag))
	}
	return e, nil
}

// sunPBEParams is the DER of PBEParameterSpec: SEQUENCE { OCTET STRING salt, INTEGER count }.
type sunPBEParams struct {
	Salt       []byte
	Iterations int64
}

func parseSunPBEParams(der []byte) ([]byte, int, error) {
	var p sunPBEParams
	rest, err := asn1.Unmarshal(der, &p)
	if err != nil || len(rest) != 0 {
		return nil, 0, errors.New("malformed PBE parameters")
	}
	if len(p.Salt) != 8 {
		return nil, 0, fmt.Errorf("PBE salt of %d bytes (want 8)", len(p.Salt))
	}
	if p.Iterations <= 0 || p.Iterations > maxPBEIterations {
		return nil, 0, fmt.Errorf("PBE iteration count %d outside 1..%d", p.Iterations, maxPBEIterations)
	}
	return p.Salt, int(p.Iterations), nil
}

type javaEPKI struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

func parseJavaEPKI(der []byte) (*javaEPKI, error) {
	var epki javaEPKI
	rest, err := asn1.Unmarshal(der, &epki)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("malformed EncryptedPrivateKeyInfo")
	}
	return &epki, nil
}

// javaEPKIIterations checks the protection algorithm of a private key and returns its PBE
// iteration count (0 for the JKS protector, which has none).
func javaEPKIIterations(der []byte) (int, error) {
	epki, err := parseJavaEPKI(der)
	if err != nil {
		return 0, err
	}
	switch {
	case epki.Algorithm.Algorithm.Equal(oidSunJCEKeyProtector):
		_, n, err := parseSunPBEParams(epki.Algorithm.Parameters.FullBytes)
		return n, err
	case epki.Algorithm.Algorithm.Equal(oidSunJDKKeyProtector):
		return 0, nil
	}
	return 0, fmt.Errorf("private key protected with unsupported algorithm %v: %w", epki.Algorithm.Algorithm, errors.ErrUnsupported)
}

func sealedKeyFrom(v any) (*sealedKey, error) {
	o, ok := v.(*jObject)
	if !ok || o.class.name != sealedForKPClass {
		return nil, errors.New("not a " + sealedForKPClass)
	}
	params, _ := o.field(sealedObjectClass, "encodedParams").([]byte)
	content, _ := o.field(sealedObjectClass, "encryptedContent").([]byte)
	sealAlg, _ := o.field(sealedObjectClass, "sealAlg").(string)
	paramsAlg, _ := o.field(sealedObjectClass, "paramsAlg").(string)
	if sealAlg != sunJCEPBEAlg || paramsAlg != sunJCEPBEAlg {
		return nil, fmt.Errorf("sealed with %q (want %s): %w", sealAlg, sunJCEPBEAlg, errors.ErrUnsupported)
	}
	salt, n, err := parseSunPBEParams(params)
	if err != nil {
		return nil, err
	}
	if len(content) == 0 || len(content)%des.BlockSize != 0 || len(content) > maxSealedContent {
		return nil, fmt.Errorf("sealed content of %d bytes", len(content))
	}
	return &sealedKey{salt: salt, iterations: n, content: content}, nil
}

// decrypt recovers the entry's key under keyPassword. A key that does not decrypt (bad padding,
// bad structure after decryption, a failed JKS digest) gives an error wrapping both
// secrets.ErrWrongPIN and errJavaKeyPass: the integrity trailer already proved the store
// password and the content, so the key password must differ.
func (e *javaEntry) decrypt(keyPassword string) (decoded, error) {
	d := decoded{Alias: e.alias, Created: e.created}
	switch e.tag {
	case javaTagTrustedCert:
		d.Material = secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: e.chain}
		return d, nil
	case javaTagSecretKey:
		plain, err := sunPBEDecrypt(keyPassword, e.sealed.salt, e.sealed.iterations, e.sealed.content)
		if err != nil {
			return d, e.keyPassError(err)
		}
		alg, key, err := secretKeyFromSerial(plain)
		clear(plain)
		if errors.Is(err, errJSer) {
			// Padding passed by chance, but the plaintext is not Java serialization.
			return d, e.keyPassError(err)
		} else if err != nil {
			return d, fmt.Errorf("filestore: %s: alias %q: secret key: %w", e.format, e.alias, err)
		}
		d.Material = secrets.KeyMaterial{Kind: secretKind(alg), Secret: key, Algorithm: alg, Extractable: true}
		if d.Material.Kind == secrets.KindAES && len(key) != 16 && len(key) != 24 && len(key) != 32 {
			clear(key)
			return d, fmt.Errorf("filestore: %s: alias %q: AES key of %d bytes", e.format, e.alias, len(key))
		}
		return d, nil
	}
	pkcs8, err := e.privateKeyPKCS8(keyPassword)
	if err != nil {
		return d, err
	}
	defer clear(pkcs8)
	key, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		var shape javaPKCS8Shape
		if rest, err2 := asn1.Unmarshal(pkcs8, &shape); err2 == nil && len(rest) == 0 {
			return d, fmt.Errorf("filestore: %s: alias %q: %w", e.format, e.alias, unsupportedKeyError(pkcs8, err))
		}
		return d, e.keyPassError(errors.New("decrypted private key is not PKCS#8"))
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		d.Material = secrets.KeyMaterial{Kind: secrets.KindRSA, Private: k, Chain: e.chain, Extractable: true}
	case *ecdsa.PrivateKey:
		d.Material = secrets.KeyMaterial{Kind: secrets.KindEC, Private: k, Chain: e.chain, Extractable: true}
	default:
		return d, fmt.Errorf("filestore: %s: alias %q: private key of type %T: %w", e.format, e.alias, key, errors.ErrUnsupported)
	}
	return d, nil
}

// privateKeyPKCS8 decrypts a private-key entry (tag 1) to its PKCS#8 bytes, which the caller
// should clear.
func (e *javaEntry) privateKeyPKCS8(keyPassword string) ([]byte, error) {
	if e.tag != javaTagPrivateKey {
		return nil, fmt.Errorf("filestore: %s: alias %q is not a private-key entry", e.format, e.alias)
	}
	epki, err := parseJavaEPKI(e.epki)
	if err != nil {
		return nil, fmt.Errorf("filestore: %s: alias %q: %w", e.format, e.alias, err)
	}
	var pkcs8 []byte
	if epki.Algorithm.Algorithm.Equal(oidSunJDKKeyProtector) {
		pkcs8, err = jdkKeyProtectorRecover(keyPassword, epki.Data)
	} else {
		var salt []byte
		var n int
		if salt, n, err = parseSunPBEParams(epki.Algorithm.Parameters.FullBytes); err != nil {
			return nil, fmt.Errorf("filestore: %s: alias %q: %w", e.format, e.alias, err)
		}
		pkcs8, err = sunPBEDecrypt(keyPassword, salt, n, epki.Data)
	}
	if err != nil {
		return nil, e.keyPassError(err)
	}
	return pkcs8, nil
}

func (e *javaEntry) keyPassError(cause error) error {
	hint := ""
	if e.format == JCEKS || e.format == JKS {
		hint = "; IDM requires the key password to equal the store password (set it with keytool -keypasswd, or convert with keytool -importkeystore ... -deststoretype PKCS12)"
	}
	return fmt.Errorf("filestore: %s: alias %q: the key does not decrypt with the store password (%v), so %w%s: %w",
		e.format, e.alias, cause, errJavaKeyPass, hint, secrets.ErrWrongPIN)
}

// secretKind maps a Java secret-key algorithm name to a Kind: AES is KindAES, everything else
// (HmacSHA*, a generic or password key) is KindSecret.
func secretKind(alg string) secrets.Kind {
	if strings.EqualFold(alg, "AES") {
		return secrets.KindAES
	}
	return secrets.KindSecret
}

// secretKeyFromSerial reads the sealed plaintext: a serialized SecretKeySpec {algorithm, key},
// or a KeyRep {type SECRET, algorithm, format RAW, encoded}. The key is copied.
func secretKeyFromSerial(plain []byte) (string, []byte, error) {
	v, n, err := parseJavaSerial(plain)
	if err != nil {
		return "", nil, err
	}
	if n != len(plain) {
		return "", nil, errors.New("trailing bytes after the sealed key")
	}
	o, ok := v.(*jObject)
	if !ok {
		return "", nil, errors.New("sealed content is not an object")
	}
	var alg string
	var key []byte
	switch o.class.name {
	case secretKeySpecClass:
		alg, _ = o.field(secretKeySpecClass, "algorithm").(string)
		key, _ = o.field(secretKeySpecClass, "key").([]byte)
	case keyRepClass:
		alg, _ = o.field(keyRepClass, "algorithm").(string)
		key, _ = o.field(keyRepClass, "encoded").([]byte)
		format, _ := o.field(keyRepClass, "format").(string)
		typ, _ := o.field(keyRepClass, "type").(*jEnum)
		if typ == nil || typ.constant != "SECRET" || format != "RAW" {
			return "", nil, fmt.Errorf("sealed KeyRep is not a RAW secret key: %w", errors.ErrUnsupported)
		}
	default:
		return "", nil, fmt.Errorf("sealed object of class %q: %w", o.class.name, errors.ErrUnsupported)
	}
	if alg == "" || len(key) == 0 {
		return "", nil, errors.New("sealed key without algorithm or key bytes")
	}
	return alg, bytes.Clone(key), nil
}

// sunPBEKey derives the DESede key and IV of Sun's PBEWithMD5AndTripleDES (PBES1Core): the
// password as ASCII, the 8-byte salt in two halves (the first reversed when both are equal),
// each hashed iterations times as x = MD5(x ‖ password).
func sunPBEKey(password string, salt []byte, iterations int) (key, iv []byte, err error) {
	if len(salt) != 8 || iterations <= 0 || iterations > maxPBEIterations {
		return nil, nil, errors.New("bad PBE parameters")
	}
	buf := make([]byte, 16+len(password))
	for i := 0; i < len(password); i++ {
		c := password[i]
		if c < 0x20 || c > 0x7e {
			return nil, nil, errors.New("the password is not printable ASCII, which Java's PBEWithMD5AndTripleDES requires")
		}
		buf[16+i] = c
	}
	defer clear(buf)
	s := bytes.Clone(salt)
	if bytes.Equal(s[:4], s[4:]) {
		s[0], s[3] = s[3], s[0]
		s[1], s[2] = s[2], s[1]
	}
	r := make([]byte, 32)
	for half := range 2 {
		x := buf[12:] // 4-byte salt half, then the password
		copy(x, s[4*half:4*half+4])
		sum := md5.Sum(x)
		for i := 1; i < iterations; i++ {
			copy(buf, sum[:])
			sum = md5.Sum(buf)
		}
		copy(r[16*half:], sum[:])
	}
	return r[:24], r[24:], nil
}

// sunPBEDecrypt decrypts PBEWithMD5AndTripleDES ciphertext (DESede-CBC, PKCS#5 padding).
func sunPBEDecrypt(password string, salt []byte, iterations int, ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%des.BlockSize != 0 {
		return nil, errors.New("ciphertext is not whole blocks")
	}
	key, iv, err := sunPBEKey(password, salt, iterations)
	if err != nil {
		return nil, err
	}
	block, err := des.NewTripleDESCipher(key)
	clear(key)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	p := int(pt[len(pt)-1])
	bad := 0
	if p == 0 || p > des.BlockSize {
		bad = 1
	} else {
		for _, c := range pt[len(pt)-p:] {
			if int(c) != p {
				bad = 1
			}
		}
	}
	if bad != 0 {
		clear(pt)
		return nil, errors.New("bad padding")
	}
	return pt[:len(pt)-p], nil
}

// jdkKeyProtectorRecover undoes sun.security.provider.KeyProtector (JKS): protected =
// salt(20) ‖ (key XOR stream) ‖ SHA-1(pw ‖ key), stream d_1 = SHA-1(pw ‖ salt),
// d_i = SHA-1(pw ‖ d_{i-1}), pw the password as UTF-16BE.
func jdkKeyProtectorRecover(password string, protected []byte) ([]byte, error) {
	const saltLen, digestLen = 20, sha1.Size
	if len(protected) <= saltLen+digestLen {
		return nil, errors.New("protected key too short")
	}
	pw := javaPasswordBytes(password)
	defer clear(pw)
	enc := protected[saltLen : len(protected)-digestLen]
	out := make([]byte, len(enc))
	d := protected[:saltLen]
	h := sha1.New()
	for off := 0; off < len(enc); off += digestLen {
		h.Reset()
		h.Write(pw)
		h.Write(d)
		d = h.Sum(nil)
		subtle.XORBytes(out[off:], enc[off:], d)
	}
	h.Reset()
	h.Write(pw)
	h.Write(out)
	if subtle.ConstantTimeCompare(h.Sum(nil), protected[len(protected)-digestLen:]) != 1 {
		clear(out)
		return nil, errors.New("key digest mismatch")
	}
	return out, nil
}

func utf16String(units []uint16) string { return string(utf16.Decode(units)) }

// javaPKCS8Shape is enough of PKCS#8 to tell a key of an unsupported algorithm from garbage.
type javaPKCS8Shape struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}
