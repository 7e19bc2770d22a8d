package filestore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// Limits on what a keystore file may ask of the reader: no KDF may take more than about a
// second of CPU, no allocation may follow a length field the file chose.
const (
	// MaxFileSize is the largest keystore file Open reads.
	MaxFileSize = 32 << 20
	// MaxIterations is the largest iteration count accepted in a PBE, PBKDF2 or MAC
	// parameter. Java 17 writes 10000; its legacy mode 50000 (keys) and 2048 (MAC) or so.
	MaxIterations = 2_000_000
	// openIterationBudget bounds the sum of iterations spent while opening (the MAC and the
	// encrypted certificate contents); keys are decrypted lazily, one at a time.
	openIterationBudget = 4 * MaxIterations
	maxSaltLen          = 1024
	maxBags             = 100_000
	maxNesting          = 3
	maxChainLen         = 16
)

// iterationLimit is MaxIterations; the fuzz target lowers it to spend its time on parsing.
var iterationLimit = MaxIterations

// errIterations and errPadding are internal causes; the caller wraps them with context.
var (
	errPadding = errors.New("bad padding after decryption")
)

var (
	oidPBES2                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHmacWithSHA1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHmacWithSHA224        = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHmacWithSHA256        = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHmacWithSHA384        = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHmacWithSHA512        = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC            = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidPBEWithSHAAnd128RC4   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 1}
	oidPBEWithSHAAnd40RC4    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 2}
	oidPBEWithSHAAnd3DES     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBEWithSHAAnd2DES     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 4}
	oidPBEWithSHAAnd128RC2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 5}
	oidPBEWithSHAAnd40RC2    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}
	oidSHA1                  = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224                = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256                = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384                = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512                = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	asn1NULL                 = asn1.RawValue{Tag: asn1.TagNull}
	errUnsupportedPBE        = errors.New("unsupported encryption algorithm")
	errBadPBEParams          = errors.New("malformed encryption parameters")
	errIterationsExceedLimit = fmt.Errorf("iteration count above the limit of %d", MaxIterations)
)

type pbeParams struct {
	Salt       []byte
	Iterations int
}

type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// iterationBudget counts the KDF iterations a decode may still spend.
type iterationBudget struct{ left int }

func (b *iterationBudget) spend(n int) error {
	if n < 1 {
		return fmt.Errorf("iteration count %d: %w", n, errBadPBEParams)
	}
	if n > iterationLimit {
		return fmt.Errorf("iteration count %d: %w", n, errIterationsExceedLimit)
	}
	if b != nil {
		if n > b.left {
			return fmt.Errorf("iteration counts add up to more than %d: refusing to spend that much CPU", openIterationBudget)
		}
		b.left -= n
	}
	return nil
}

func hmacPRF(oid asn1.ObjectIdentifier) (func() hash.Hash, bool) {
	switch {
	case len(oid) == 0, oid.Equal(oidHmacWithSHA1):
		return sha1.New, true
	case oid.Equal(oidHmacWithSHA224):
		return sha256.New224, true
	case oid.Equal(oidHmacWithSHA256):
		return sha256.New, true
	case oid.Equal(oidHmacWithSHA384):
		return sha512.New384, true
	case oid.Equal(oidHmacWithSHA512):
		return sha512.New, true
	}
	return nil, false
}

func strictUnmarshal(b []byte, v any) error {
	rest, err := asn1.Unmarshal(b, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data after ASN.1 value")
	}
	return nil
}

// pbeDecrypt decrypts ct encrypted with the PBE algorithm alg under password: PBES2 (PBKDF2
// with HMAC-SHA-1/2, AES-CBC or 3DES-CBC) or the PKCS#12 PBE algorithms (SHA-1 with 3DES,
// 2-key 3DES, RC2-128, RC2-40, RC4). A wrong password shows as errPadding (CBC) or as garbage
// the caller fails to parse (RC4).
func pbeDecrypt(alg pkix.AlgorithmIdentifier, password string, ct []byte, budget *iterationBudget) ([]byte, error) {
	if alg.Algorithm.Equal(oidPBES2) {
		return pbes2Decrypt(alg.Parameters.FullBytes, password, ct, budget)
	}
	var (
		keyLen, ivLen int
		mk            func(key []byte) (cipher.Block, error)
		stream        bool
	)
	switch {
	case alg.Algorithm.Equal(oidPBEWithSHAAnd3DES):
		keyLen, ivLen, mk = 24, 8, des.NewTripleDESCipher
	case alg.Algorithm.Equal(oidPBEWithSHAAnd2DES):
		keyLen, ivLen = 16, 8
		mk = func(k []byte) (cipher.Block, error) { return des.NewTripleDESCipher(append(k[:16:16], k[:8]...)) }
	case alg.Algorithm.Equal(oidPBEWithSHAAnd128RC2):
		keyLen, ivLen = 16, 8
		mk = func(k []byte) (cipher.Block, error) { return newRC2(k, 128) }
	case alg.Algorithm.Equal(oidPBEWithSHAAnd40RC2):
		keyLen, ivLen = 5, 8
		mk = func(k []byte) (cipher.Block, error) { return newRC2(k, 40) }
	case alg.Algorithm.Equal(oidPBEWithSHAAnd128RC4):
		keyLen, stream = 16, true
	case alg.Algorithm.Equal(oidPBEWithSHAAnd40RC4):
		keyLen, stream = 5, true
	default:
		return nil, fmt.Errorf("%w %v", errUnsupportedPBE, alg.Algorithm)
	}
	var p pbeParams
	if err := strictUnmarshal(alg.Parameters.FullBytes, &p); err != nil {
		return nil, errBadPBEParams
	}
	if len(p.Salt) > maxSaltLen {
		return nil, fmt.Errorf("salt of %d bytes: %w", len(p.Salt), errBadPBEParams)
	}
	if err := budget.spend(p.Iterations); err != nil {
		return nil, err
	}
	pw := bmpPassword(password)
	key := pkcs12KDF(kdfSHA1, pw, p.Salt, kdfKey, p.Iterations, keyLen)
	if stream {
		c, err := rc4.NewCipher(key)
		if err != nil {
			return nil, err
		}
		out := make([]byte, len(ct))
		c.XORKeyStream(out, ct)
		return out, nil
	}
	iv := pkcs12KDF(kdfSHA1, pw, p.Salt, kdfIV, p.Iterations, ivLen)
	block, err := mk(key)
	if err != nil {
		return nil, err
	}
	pt, err := cbcDecrypt(block, iv, ct)
	if errors.Is(err, errPadding) && password == "" {
		// Some writers (Windows, old NSS) encode the empty password as no bytes at all,
		// without the BMPString terminator: try that form too. Padding decides, as Java's
		// and OpenSSL's readers do; the MAC was verified before.
		if err := budget.spend(p.Iterations); err != nil {
			return nil, err
		}
		key = pkcs12KDF(kdfSHA1, nil, p.Salt, kdfKey, p.Iterations, keyLen)
		iv = pkcs12KDF(kdfSHA1, nil, p.Salt, kdfIV, p.Iterations, ivLen)
		if block, err = mk(key); err != nil {
			return nil, err
		}
		return cbcDecrypt(block, iv, ct)
	}
	return pt, err
}

func pbes2Decrypt(params []byte, password string, ct []byte, budget *iterationBudget) ([]byte, error) {
	var p pbes2Params
	if err := strictUnmarshal(params, &p); err != nil {
		return nil, errBadPBEParams
	}
	if !p.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("%w: PBES2 key derivation %v (only PBKDF2)", errUnsupportedPBE, p.KDF.Algorithm)
	}
	var kp pbkdf2Params
	if err := strictUnmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil {
		return nil, errBadPBEParams
	}
	if len(kp.Salt) > maxSaltLen {
		return nil, fmt.Errorf("salt of %d bytes: %w", len(kp.Salt), errBadPBEParams)
	}
	prf, ok := hmacPRF(kp.PRF.Algorithm)
	if !ok {
		return nil, fmt.Errorf("%w: PBKDF2 PRF %v", errUnsupportedPBE, kp.PRF.Algorithm)
	}
	var (
		keyLen int
		mk     func([]byte) (cipher.Block, error)
	)
	switch s := p.Scheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		keyLen, mk = 16, aes.NewCipher
	case s.Equal(oidAES192CBC):
		keyLen, mk = 24, aes.NewCipher
	case s.Equal(oidAES256CBC):
		keyLen, mk = 32, aes.NewCipher
	case s.Equal(oidDESEDE3CBC):
		keyLen, mk = 24, des.NewTripleDESCipher
	default:
		return nil, fmt.Errorf("%w: PBES2 cipher %v", errUnsupportedPBE, s)
	}
	if kp.KeyLength != 0 && kp.KeyLength != keyLen {
		return nil, fmt.Errorf("PBKDF2 key length %d for a %d-byte key: %w", kp.KeyLength, keyLen, errBadPBEParams)
	}
	var iv []byte
	if err := strictUnmarshal(p.Scheme.Parameters.FullBytes, &iv); err != nil {
		return nil, errBadPBEParams
	}
	block, err := mk(make([]byte, keyLen))
	if err != nil {
		return nil, err
	}
	if len(iv) != block.BlockSize() {
		return nil, fmt.Errorf("IV of %d bytes: %w", len(iv), errBadPBEParams)
	}
	if err := budget.spend(kp.Iterations); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(prf, password, kp.Salt, kp.Iterations, keyLen)
	if err != nil {
		return nil, err
	}
	if block, err = mk(key); err != nil {
		return nil, err
	}
	return cbcDecrypt(block, iv, ct)
}

func cbcDecrypt(block cipher.Block, iv, ct []byte) ([]byte, error) {
	bs := block.BlockSize()
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, fmt.Errorf("ciphertext of %d bytes is not a multiple of the %d-byte block", len(ct), bs)
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	n := int(out[len(out)-1])
	if n == 0 || n > bs || n > len(out) {
		return nil, errPadding
	}
	if !bytes.Equal(out[len(out)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, errPadding
	}
	return out[:len(out)-n], nil
}

// pbes2Encrypt encrypts pt as Java 17 does by default (PBEWithHmacSHA256AndAES_256): PBKDF2
// with HMAC-SHA256, a 20-byte salt, the given iterations and an explicit 32-byte key length;
// AES-256-CBC with a random IV and PKCS#7 padding.
func pbes2Encrypt(password string, iterations int, pt []byte) (pkix.AlgorithmIdentifier, []byte, error) {
	salt := make([]byte, 20)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	kdfParams, err := asn1.Marshal(pbkdf2Params{Salt: salt, Iterations: iterations, KeyLength: 32,
		PRF: pkix.AlgorithmIdentifier{Algorithm: oidHmacWithSHA256, Parameters: asn1NULL}})
	if err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	params, err := asn1.Marshal(pbes2Params{
		KDF:    pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdfParams}},
		Scheme: pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	n := aes.BlockSize - len(pt)%aes.BlockSize
	padded := make([]byte, len(pt)+n)
	copy(padded, pt)
	for i := len(pt); i < len(padded); i++ {
		padded[i] = byte(n)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(padded, padded)
	return pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}}, padded, nil
}
