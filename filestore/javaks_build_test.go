package filestore

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"testing"
)

// A test-only writer of JCEKS and JKS files, byte-compatible with JDK 17's JceKeyStore and
// JavaKeyStore (checked by TestJavaKeyStoreRebuildExact against the keytool fixtures). It makes
// hostile and cheap (low iteration count) inputs for the reader's tests and fuzz seeds.

type ksBuilder struct {
	buf bytes.Buffer
}

func newKSBuilder(magic uint32, count int) *ksBuilder {
	b := &ksBuilder{}
	b.u32(magic)
	b.u32(2)
	b.u32(uint32(count))
	return b
}

func (b *ksBuilder) u32(v uint32) { b.buf.Write(binary.BigEndian.AppendUint32(nil, v)) }

func (b *ksBuilder) utf(s string) {
	b.buf.Write(binary.BigEndian.AppendUint16(nil, uint16(len(s))))
	b.buf.WriteString(s)
}

func (b *ksBuilder) header(tag uint32, alias string, created int64) {
	b.u32(tag)
	b.utf(alias)
	b.buf.Write(binary.BigEndian.AppendUint64(nil, uint64(created)))
}

func (b *ksBuilder) cert(der []byte) {
	b.utf("X.509")
	b.u32(uint32(len(der)))
	b.buf.Write(der)
}

func (b *ksBuilder) privateKey(alias string, created int64, epki []byte, chain [][]byte) {
	b.header(javaTagPrivateKey, alias, created)
	b.u32(uint32(len(epki)))
	b.buf.Write(epki)
	b.u32(uint32(len(chain)))
	for _, c := range chain {
		b.cert(c)
	}
}

func (b *ksBuilder) trusted(alias string, created int64, der []byte) {
	b.header(javaTagTrustedCert, alias, created)
	b.cert(der)
}

func (b *ksBuilder) secret(alias string, created int64, serial []byte) {
	b.header(javaTagSecretKey, alias, created)
	b.buf.Write(serial)
}

func (b *ksBuilder) raw(p []byte) { b.buf.Write(p) }

// finish appends the "Mighty Aphrodite" trailer under password.
func (b *ksBuilder) finish(password string) []byte {
	return resignJavaKeyStore(b.buf.Bytes(), password)
}

// resignJavaKeyStore returns body followed by its integrity trailer under password.
func resignJavaKeyStore(body []byte, password string) []byte {
	h := sha1.New()
	h.Write(javaPasswordBytes(password))
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(body)
	return h.Sum(bytes.Clone(body))
}

// sunPBEEncrypt is the inverse of sunPBEDecrypt.
func sunPBEEncrypt(t testing.TB, password string, salt []byte, iterations int, pt []byte) []byte {
	t.Helper()
	key, iv, err := sunPBEKey(password, salt, iterations)
	if err != nil {
		t.Fatal(err)
	}
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	p := des.BlockSize - len(pt)%des.BlockSize
	buf := append(bytes.Clone(pt), bytes.Repeat([]byte{byte(p)}, p)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return buf
}

func sunPBEParamsDER(t testing.TB, salt []byte, iterations int) []byte {
	t.Helper()
	der, err := asn1.Marshal(sunPBEParams{Salt: salt, Iterations: int64(iterations)})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// jceEPKI protects pkcs8 as JCEKS does (Sun JCE KeyProtector).
func jceEPKI(t testing.TB, password string, salt []byte, iterations int, pkcs8 []byte) []byte {
	t.Helper()
	der, err := asn1.Marshal(javaEPKI{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSunJCEKeyProtector, Parameters: asn1.RawValue{FullBytes: sunPBEParamsDER(t, salt, iterations)}},
		Data:      sunPBEEncrypt(t, password, salt, iterations, pkcs8),
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// jksEPKI protects pkcs8 as JKS does (Sun JDK KeyProtector).
func jksEPKI(t testing.TB, password string, salt20, pkcs8 []byte) []byte {
	t.Helper()
	pw := javaPasswordBytes(password)
	out := bytes.Clone(salt20)
	d := salt20
	for off := 0; off < len(pkcs8); off += sha1.Size {
		s := sha1.Sum(append(bytes.Clone(pw), d...))
		d = s[:]
		n := min(sha1.Size, len(pkcs8)-off)
		for i := range n {
			out = append(out, pkcs8[off+i]^d[i])
		}
	}
	s := sha1.Sum(append(pw, pkcs8...))
	out = append(out, s[:]...)
	der, err := asn1.Marshal(javaEPKI{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSunJDKKeyProtector, Parameters: asn1.NullRawValue},
		Data:      out,
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// serWriter writes Java serialization the way ObjectOutputStream does for the classes below.
type serWriter struct{ bytes.Buffer }

func (w *serWriter) utf(s string) {
	w.Write(binary.BigEndian.AppendUint16(nil, uint16(len(s))))
	w.WriteString(s)
}
func (w *serWriter) u32(v uint32) { w.Write(binary.BigEndian.AppendUint32(nil, v)) }
func (w *serWriter) hex(s string) {
	for i := 0; i+1 < len(s); i += 2 {
		var v byte
		for _, c := range s[i : i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		w.WriteByte(v)
	}
}

const (
	suidByteArray     = "acf317f8060854e0"
	suidSecretKeySpec = "5b470b66e230614d"
	suidSealedObject  = "3e363da6c3b75470"
	suidSealedForKP   = "cd57ca59e730bb53"
)

// serialSecretKeySpec is ObjectOutputStream's encoding of new SecretKeySpec(key, alg).
func serialSecretKeySpec(alg string, key []byte) []byte {
	var w serWriter
	w.hex("aced0005")
	w.WriteString("\x73\x72")
	w.utf(secretKeySpecClass)
	w.hex(suidSecretKeySpec + "02" + "0002")
	w.WriteByte('L')
	w.utf("algorithm")
	w.WriteByte(tcString)
	w.utf("Ljava/lang/String;")
	w.WriteByte('[')
	w.utf("key")
	w.WriteByte(tcString)
	w.utf("[B")
	w.hex("7870")
	w.WriteByte(tcString)
	w.utf(alg)
	w.hex("7572")
	w.utf("[B")
	w.hex(suidByteArray + "02" + "0000" + "7870")
	w.u32(uint32(len(key)))
	w.Write(key)
	return w.Bytes()
}

// serialSealed is ObjectOutputStream's encoding of a SealedObjectForKeyProtector.
func serialSealed(params, content []byte, alg string) []byte {
	var w serWriter
	w.hex("aced0005")
	w.hex("7372")
	w.utf(sealedForKPClass)
	w.hex(suidSealedForKP + "02" + "0000" + "78")
	w.hex("72")
	w.utf(sealedObjectClass)
	w.hex(suidSealedObject + "02" + "0004")
	w.WriteByte('[')
	w.utf("encodedParams")
	w.WriteByte(tcString)
	w.utf("[B")
	w.WriteByte('[')
	w.utf("encryptedContent")
	w.hex("71007e0002")
	w.WriteByte('L')
	w.utf("paramsAlg")
	w.WriteByte(tcString)
	w.utf("Ljava/lang/String;")
	w.WriteByte('L')
	w.utf("sealAlg")
	w.hex("71007e0003")
	w.hex("7870")
	w.hex("7572")
	w.utf("[B")
	w.hex(suidByteArray + "02" + "0000" + "7870")
	w.u32(uint32(len(params)))
	w.Write(params)
	w.hex("7571007e0005")
	w.u32(uint32(len(content)))
	w.Write(content)
	w.WriteByte(tcString)
	w.utf(alg)
	w.WriteByte(tcString)
	w.utf(alg)
	return w.Bytes()
}

// jceSealedKey seals a SecretKeySpec as JceKeyStore does.
func jceSealedKey(t testing.TB, password string, salt []byte, iterations int, alg string, key []byte) []byte {
	t.Helper()
	ct := sunPBEEncrypt(t, password, salt, iterations, serialSecretKeySpec(alg, key))
	return serialSealed(sunPBEParamsDER(t, salt, iterations), ct, sunJCEPBEAlg)
}
