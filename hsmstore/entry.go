//go:build cgo

package hsmstore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"

	"github.com/miekg/pkcs11"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// base is what every entry has. Entries keep their object handles (objRef): no object
// search per operation, and a search by alias again after a recovery or a stale handle.
type base struct {
	st    *Store
	alias string
	kind  secrets.Kind
	chain []*x509.Certificate
	pub   crypto.PublicKey
}

func (b *base) Alias() string              { return b.alias }
func (b *base) Kind() secrets.Kind         { return b.kind }
func (b *base) Chain() []*x509.Certificate { return b.chain }
func (b *base) Public() crypto.PublicKey   { return b.pub }

type certEntry struct{ base }

// keyObj is a secret-key object: Export.
type keyObj struct {
	base
	ref         *objRef
	keyType     uint
	extractable bool
	sensitive   bool
}

// secretKey is a CKK_GENERIC_SECRET or HMAC key: MAC, VerifyMAC, Export.
type secretKey struct{ keyObj }

// aesKey is a CKK_AES key: Seal, Open, Export (no HMAC: tokens refuse an AES key for
// CKM_SHA256_HMAC, so MAC is secrets.ErrWrongKind).
type aesKey struct{ keyObj }

var (
	_ secrets.EntryMAC         = (*secretKey)(nil)
	_ secrets.EntryMACVerifier = (*secretKey)(nil)
	_ secrets.EntryExporter    = (*secretKey)(nil)
	_ secrets.EntryExporter    = (*aesKey)(nil)
	_ secrets.EntryAEAD        = (*aesKey)(nil)
	_ secrets.EntrySigner      = (*rsaKey)(nil)
	_ secrets.EntryDecrypter   = (*rsaKey)(nil)
	_ secrets.EntrySigner      = (*ecKey)(nil)
)

// hmacCap is the Capability of HMAC mechanism m.
var hmacCap = map[uint]Capability{pkcs11.CKM_SHA256_HMAC: CapHMACSHA256, pkcs11.CKM_SHA384_HMAC: CapHMACSHA384, pkcs11.CKM_SHA512_HMAC: CapHMACSHA512}

func hmacMech(h crypto.Hash) (uint, error) {
	switch h {
	case crypto.SHA256:
		return pkcs11.CKM_SHA256_HMAC, nil
	case crypto.SHA384:
		return pkcs11.CKM_SHA384_HMAC, nil
	case crypto.SHA512:
		return pkcs11.CKM_SHA512_HMAC, nil
	}
	return 0, storekit.CheckMACHash(h)
}

// Pre-built mechanisms: no allocation per call for the parameterless ones.
var (
	mechHMAC = map[uint][]*pkcs11.Mechanism{
		pkcs11.CKM_SHA256_HMAC: {pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)},
		pkcs11.CKM_SHA384_HMAC: {pkcs11.NewMechanism(pkcs11.CKM_SHA384_HMAC, nil)},
		pkcs11.CKM_SHA512_HMAC: {pkcs11.NewMechanism(pkcs11.CKM_SHA512_HMAC, nil)},
	}
	mechRSAPKCS = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}
	mechECDSA   = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
)

// MAC computes the HMAC of msg inside the token (C_SignInit + C_Sign) with h = SHA-256, -384
// or -512. Safe for concurrent use; holds a session only for the call.
func (k *secretKey) MAC(ctx context.Context, h crypto.Hash, msg []byte) ([]byte, error) {
	m, err := hmacMech(h)
	if err != nil {
		return nil, err
	}
	if err := k.st.c.usable(ctx, hmacCap[m]); err != nil {
		return nil, err
	}
	var tag []byte
	err = k.st.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		p := k.st.c.p11
		kh, err := k.ref.get(sh)
		if err != nil {
			return false, err
		}
		if err := p.SignInit(sh, mechHMAC[m], kh); err != nil {
			k.ref.drop(kh, err)
			return false, hmacInitErr("C_SignInit", m, h, err)
		}
		t, err := p.Sign(sh, msg)
		if err != nil {
			k.st.c.endOp(sh, opSign)
			return false, fmt.Errorf("hsmstore: C_Sign %s: %w", mechName(m), err)
		}
		tag = t
		return false, nil
	})
	return tag, err
}

// VerifyMAC checks tag inside the token (C_VerifyInit + C_Verify). A mismatch wraps
// secrets.ErrVerification.
func (k *secretKey) VerifyMAC(ctx context.Context, h crypto.Hash, msg, tag []byte) error {
	m, err := hmacMech(h)
	if err != nil {
		return err
	}
	if err := k.st.c.usable(ctx, hmacCap[m]); err != nil {
		return err
	}
	if len(tag) != h.Size() {
		return fmt.Errorf("hsmstore: HMAC tag of %d bytes, want %d: %w", len(tag), h.Size(), secrets.ErrVerification)
	}
	return k.st.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		p := k.st.c.p11
		kh, err := k.ref.get(sh)
		if err != nil {
			return false, err
		}
		if err := p.VerifyInit(sh, mechHMAC[m], kh); err != nil {
			k.ref.drop(kh, err)
			return false, hmacInitErr("C_VerifyInit", m, h, err)
		}
		if err := p.Verify(sh, msg, tag); err != nil {
			k.st.c.endOp(sh, opVerify)
			if isCKR(err, pkcs11.CKR_SIGNATURE_INVALID) || isCKR(err, pkcs11.CKR_SIGNATURE_LEN_RANGE) {
				return false, secrets.ErrVerification
			}
			// A wrong tag is not a fault, whatever the code (NSS: CKR_DEVICE_ERROR): only a
			// failed probe makes it one.
			if ferr := k.st.c.faultOrNil(sh, err); ferr != nil {
				return true, fmt.Errorf("hsmstore: C_Verify %s: %w", mechName(m), ferr)
			}
			return true, fmt.Errorf("hsmstore: C_Verify %s: %v: %w", mechName(m), err, secrets.ErrVerification)
		}
		return false, nil
	})
}

func hmacInitErr(call string, m uint, h crypto.Hash, err error) error {
	if isCKR(err, pkcs11.CKR_KEY_SIZE_RANGE) {
		return fmt.Errorf("hsmstore: %s %s: %w: the token needs an HMAC key of at least %d bytes for %v (%w)", call, mechName(m), errors.ErrUnsupported, h.Size(), h, err)
	}
	if isCKR(err, pkcs11.CKR_MECHANISM_INVALID) {
		// The token lists the mechanism but refuses it for this key: tpm2-pkcs11 binds an
		// HMAC key to the one hash it was made with.
		return fmt.Errorf("hsmstore: %s %s: %w: the token refuses HMAC with %v for this key (%w)", call, mechName(m), errors.ErrUnsupported, h, err)
	}
	return fmt.Errorf("hsmstore: %s %s: %w", call, mechName(m), err)
}

// Export returns CKA_VALUE when the key is extractable and not sensitive, else an error
// wrapping secrets.ErrNotExtractable naming the attributes to set.
func (k *keyObj) Export(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !k.extractable || k.sensitive {
		return nil, notExtractable(k.extractable, k.sensitive)
	}
	var v []byte
	err := k.st.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		kh, err := k.ref.get(sh)
		if err != nil {
			return false, err
		}
		res, err := k.st.c.p11.GetAttributeValue(sh, kh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil {
			k.ref.drop(kh, err)
			if isCKR(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
				return false, notExtractable(false, true)
			}
			return false, fmt.Errorf("hsmstore: read CKA_VALUE: %w", err)
		}
		if len(res) != 1 || len(res[0].Value) == 0 {
			return false, errors.New("hsmstore: the token returned no CKA_VALUE")
		}
		v = res[0].Value
		return false, nil
	})
	return v, err
}

func notExtractable(extractable, sensitive bool) error {
	return fmt.Errorf("hsmstore: %w: the key has CKA_EXTRACTABLE=%v, CKA_SENSITIVE=%v; it must be created with CKA_EXTRACTABLE = true and CKA_SENSITIVE = false (SunPKCS11: attributes(*, CKO_SECRET_KEY, *) = { CKA_EXTRACTABLE = true CKA_SENSITIVE = false })",
		secrets.ErrNotExtractable, extractable, sensitive)
}

const (
	gcmNonceSize = 12
	gcmTagSize   = 16
)

// Seal encrypts with CKM_AES_GCM inside the token: a random 12-byte nonce (from crypto/rand)
// and a 16-byte tag; the output nonce ‖ ciphertext ‖ tag opens with crypto/cipher's GCM.
func (k *aesKey) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	if err := k.st.c.usable(ctx, CapAESGCM); err != nil {
		return nil, err
	}
	nonce := make([]byte, gcmNonceSize, gcmNonceSize+len(plaintext)+gcmTagSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	var out []byte
	err := k.st.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		params := pkcs11.NewGCMParams(nonce, aad, gcmTagSize*8)
		defer params.Free()
		p := k.st.c.p11
		kh, err := k.ref.get(sh)
		if err != nil {
			return false, err
		}
		if err := p.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, kh); err != nil {
			k.ref.drop(kh, err)
			return false, fmt.Errorf("hsmstore: C_EncryptInit CKM_AES_GCM: %w", err)
		}
		ct, err := k.st.c.encryptSized(sh, plaintext, len(plaintext)+gcmTagSize)
		if err != nil {
			k.st.c.endOp(sh, opEncrypt)
			return false, fmt.Errorf("hsmstore: C_Encrypt CKM_AES_GCM: %w", err)
		}
		out = append(nonce, ct...)
		return false, nil
	})
	return out, err
}

// Open decrypts what Seal (or crypto/cipher's GCM with a 12-byte nonce prepended) made. A
// wrong key, tag or aad wraps secrets.ErrVerification.
func (k *aesKey) Open(ctx context.Context, sealed, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := k.st.c.usable(ctx, CapAESGCM); err != nil {
		return nil, err
	}
	if len(sealed) < gcmNonceSize+gcmTagSize {
		return nil, fmt.Errorf("hsmstore: sealed data of %d bytes is too short: %w", len(sealed), secrets.ErrVerification)
	}
	var out []byte
	err := k.st.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		params := pkcs11.NewGCMParams(sealed[:gcmNonceSize], aad, gcmTagSize*8)
		defer params.Free()
		p := k.st.c.p11
		kh, err := k.ref.get(sh)
		if err != nil {
			return false, err
		}
		if err := p.DecryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, kh); err != nil {
			k.ref.drop(kh, err)
			return false, fmt.Errorf("hsmstore: C_DecryptInit CKM_AES_GCM: %w", err)
		}
		pt, err := p.Decrypt(sh, sealed[gcmNonceSize:])
		if err != nil {
			k.st.c.endOp(sh, opDecrypt)
			if err := k.st.c.faultOrNil(sh, err); err != nil {
				// An outage is not a bad tag.
				return true, fmt.Errorf("hsmstore: C_Decrypt CKM_AES_GCM: %w", err)
			}
			// SoftHSM says CKR_GENERAL_ERROR for a bad tag; others CKR_ENCRYPTED_DATA_INVALID.
			return false, secrets.ErrVerification
		}
		out = pt
		return false, nil
	})
	return out, err
}

// privKey is a private key object with its certificate chain.
type privKey struct {
	base
	ref *objRef
	// alwaysAuth: the key has CKA_ALWAYS_AUTHENTICATE=true (made by another tool; hsmstore
	// never makes one): each use needs a context-specific login, which hsmstore does not do.
	alwaysAuth bool
}

// errAlwaysAuth is the error of every use of a key with CKA_ALWAYS_AUTHENTICATE=true, made
// before any PKCS#11 call: the token would answer CKR_USER_NOT_LOGGED_IN, which must not be
// taken for a lost login (that would re-login and fail again, for every use).
var errAlwaysAuth = fmt.Errorf("the private key has CKA_ALWAYS_AUTHENTICATE=true: each use needs a context-specific login (C_Login with CKU_CONTEXT_SPECIFIC), which hsmstore does not do; use a key made without it: %w", errors.ErrUnsupported)

type rsaKey struct {
	privKey
	canDecrypt bool        // CKA_DECRYPT is true
	noRaw      atomic.Bool // the token refused CKM_RSA_X_509 for the key
}

type ecKey struct {
	privKey
	size int // bytes of the curve order
}

// DigestInfo prefixes for CKM_RSA_PKCS signatures (RFC 8017 §9.2 note 1).
var digestInfo = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

func hashMechs(h crypto.Hash) (hashMech, mgf uint, ok bool) {
	switch h {
	case crypto.SHA1:
		return pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, true
	case crypto.SHA224:
		return pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224, true
	case crypto.SHA256:
		return pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, true
	case crypto.SHA384:
		return pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384, true
	case crypto.SHA512:
		return pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512, true
	}
	return 0, 0, false
}

// Sign signs digest inside the token: RSA PKCS#1 v1.5 (CKM_RSA_PKCS over the DigestInfo)
// when opts is a crypto.Hash, RSA-PSS (CKM_RSA_PKCS_PSS) when opts is *rsa.PSSOptions. A PSS
// salt length of rsa.PSSSaltLengthAuto or rsa.PSSSaltLengthEqualsHash means the hash length
// (what JWS PS256 and Java use, and what rsa.VerifyPSS with either accepts).
func (k *rsaKey) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := storekit.CheckDigest(digest, opts); err != nil {
		return nil, err
	}
	h := opts.HashFunc()
	var mech []*pkcs11.Mechanism
	var input []byte
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		hm, mgf, _ := hashMechs(h)
		salt := pss.SaltLength
		switch salt {
		case rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash:
			salt = h.Size()
		}
		if salt < 0 {
			return nil, fmt.Errorf("hsmstore: PSS salt length %d", pss.SaltLength)
		}
		if err := k.st.c.usable(ctx, CapRSASignPSS); err != nil {
			return nil, err
		}
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hm, mgf, uint(salt)))}
		input = digest
	} else {
		if err := k.st.c.usable(ctx, CapRSASignPKCS1); err != nil {
			return nil, err
		}
		mech = mechRSAPKCS
		input = make([]byte, 0, len(digestInfo[h])+len(digest))
		input = append(append(input, digestInfo[h]...), digest...)
	}
	return k.sign(ctx, mech, input)
}

func (k *privKey) sign(ctx context.Context, mech []*pkcs11.Mechanism, input []byte) ([]byte, error) {
	if k.alwaysAuth {
		return nil, errAlwaysAuth
	}
	var sig []byte
	err := k.st.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		p := k.st.c.p11
		kh, err := k.ref.get(sh)
		if err != nil {
			return false, err
		}
		if err := p.SignInit(sh, mech, kh); err != nil {
			k.ref.drop(kh, err)
			return false, fmt.Errorf("hsmstore: C_SignInit %s: %w", mechName(mech[0].Mechanism), err)
		}
		s, err := p.Sign(sh, input)
		if err != nil {
			k.st.c.endOp(sh, opSign)
			return false, fmt.Errorf("hsmstore: C_Sign %s: %w", mechName(mech[0].Mechanism), err)
		}
		sig = s
		return false, nil
	})
	return sig, err
}

// Decrypt decrypts inside the token: PKCS#1 v1.5 when opts is nil or
// *rsa.PKCS1v15DecryptOptions, OAEP (CKM_RSA_PKCS_OAEP) when *rsa.OAEPOptions. OAEP with a
// hash other than SHA-1 on a token that only does SHA-1 (SoftHSM 2.6) is an error wrapping
// errors.ErrUnsupported. A failed decryption wraps secrets.ErrVerification and says nothing
// more: every failure is the same error.
//
// PKCS#1 v1.5 decryption must not tell a caller whether the padding was right (Bleichenbacher's
// attack needs only that bit, from an error or from timing). Where the token offers
// CKM_RSA_X_509 and the key has CKA_DECRYPT, the raw RSA operation runs inside the token (the
// private key never leaves it) and the padding is removed here in constant time, as crypto/rsa
// does; rsa.PKCS1v15DecryptOptions.SessionKeyLen then behaves as in crypto/rsa (a random key
// of that length, and no error, for bad padding). Elsewhere CKM_RSA_PKCS removes the padding
// inside the token, and a failed decryption makes the same PKCS#11 calls as a successful one
// (the session is probed after both, and kept): what remains is the token's own timing,
// which hsmstore cannot control (SoftHSM, for one, logs the failure); SessionKeyLen then
// returns the random key for every failure of the token.
func (k *rsaKey) Decrypt(ctx context.Context, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if k.alwaysAuth {
		return nil, errAlwaysAuth
	}
	mech := mechRSAPKCS
	oaepSHA2 := false
	sessionKeyLen := 0
	switch o := opts.(type) {
	case nil:
	case *rsa.PKCS1v15DecryptOptions:
		sessionKeyLen = o.SessionKeyLen
	case *rsa.OAEPOptions:
		h := o.Hash
		mgfHash := o.MGFHash
		if mgfHash == 0 {
			mgfHash = h
		}
		hm, _, ok := hashMechs(h)
		_, mgf, ok2 := hashMechs(mgfHash)
		if !ok || !ok2 {
			return nil, fmt.Errorf("hsmstore: CKM_RSA_PKCS_OAEP with %v: %w", h, errors.ErrUnsupported)
		}
		if err := k.st.c.usable(ctx, CapRSADecryptOAEP); err != nil {
			return nil, err
		}
		if h != crypto.SHA1 || mgfHash != crypto.SHA1 {
			if k.st.c.oaepSHA1Only() {
				return nil, fmt.Errorf("hsmstore: CKM_RSA_PKCS_OAEP with %v: %w: the token (%s %s) does OAEP with SHA-1 only", h, errors.ErrUnsupported, k.st.c.tok.ManufacturerID, k.st.c.tok.Model)
			}
			oaepSHA2 = true
		}
		// CKZ_DATA_SPECIFIED is the only source PKCS#11 defines, with an empty label too
		// (NSS refuses any other).
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.NewOAEPParams(hm, mgf, pkcs11.CKZ_DATA_SPECIFIED, o.Label))}
	default:
		return nil, fmt.Errorf("hsmstore: decrypt options %T: %w", opts, errors.ErrUnsupported)
	}
	if mech[0].Mechanism == pkcs11.CKM_RSA_PKCS {
		if err := k.st.c.usable(ctx, CapRSADecryptPKCS1); err != nil {
			return nil, err
		}
	}
	pub, _ := k.pub.(*rsa.PublicKey)
	size := 0
	if pub != nil {
		size = pub.Size()
	}
	var key []byte
	if sessionKeyLen > 0 {
		// As crypto/rsa: the random key is drawn before decrypting, and returned instead of
		// an error when the padding is bad.
		if size-(sessionKeyLen+11) < 0 {
			return nil, errDecrypt
		}
		key = make([]byte, sessionKeyLen)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	if mech[0].Mechanism == pkcs11.CKM_RSA_PKCS && k.rawOK() && size >= 11 {
		pt, err := k.decryptRaw(ctx, pub, ciphertext, key)
		if err != errNoRaw {
			return pt, err
		}
	}
	pt, err := k.decryptToken(ctx, mech, oaepSHA2, ciphertext)
	if key != nil {
		if err == errDecrypt {
			return key, nil
		}
		if err == nil && len(pt) == len(key) {
			return pt, nil
		}
		if err == nil {
			return key, nil
		}
	}
	return pt, err
}

var mechRSAX509 = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_X_509, nil)}

// errNoRaw: the token refused CKM_RSA_X_509 for the key; CKM_RSA_PKCS is used instead.
var errNoRaw = errors.New("hsmstore: CKM_RSA_X_509 refused")

// rawOK reports whether PKCS#1 v1.5 decryption may use CKM_RSA_X_509 with this key.
func (k *rsaKey) rawOK() bool {
	return k.canDecrypt && !k.noRaw.Load() && k.st.c.hasMech(pkcs11.CKM_RSA_X_509)
}

// decryptRaw decrypts with CKM_RSA_X_509 inside the token and removes the PKCS#1 v1.5
// padding in constant time. With key (SessionKeyLen), key is returned, holding the message
// when it is valid and of key's length, else still random. What is checked before the token
// is called (ciphertext length, below the modulus) is public.
func (k *rsaKey) decryptRaw(ctx context.Context, pub *rsa.PublicKey, ciphertext, key []byte) ([]byte, error) {
	size := pub.Size()
	if len(ciphertext) > size {
		return nil, errDecrypt
	}
	c := ciphertext
	if len(c) < size {
		c = make([]byte, size)
		copy(c[size-len(ciphertext):], ciphertext)
	}
	if new(big.Int).SetBytes(c).Cmp(pub.N) >= 0 {
		return nil, errDecrypt
	}
	var em []byte
	err := k.st.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		p := k.st.c.p11
		kh, err := k.ref.get(sh)
		if err != nil {
			return false, err
		}
		if err := p.DecryptInit(sh, mechRSAX509, kh); err != nil {
			k.ref.drop(kh, err)
			if !isFault(err) && (isCKR(err, pkcs11.CKR_MECHANISM_INVALID) || isCKR(err, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED) ||
				isCKR(err, pkcs11.CKR_KEY_TYPE_INCONSISTENT) || isCKR(err, pkcs11.CKR_MECHANISM_PARAM_INVALID)) {
				k.noRaw.Store(true)
				return false, errNoRaw
			}
			return false, fmt.Errorf("hsmstore: C_DecryptInit CKM_RSA_X_509: %w", err)
		}
		// The raw operation has no padding to fail on: an error here is the token's, for
		// any ciphertext.
		out, err := p.Decrypt(sh, c)
		if err != nil {
			k.st.c.endOp(sh, opDecrypt)
			return false, fmt.Errorf("hsmstore: C_Decrypt CKM_RSA_X_509: %w", err)
		}
		em = out
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if len(em) > size {
		return nil, fmt.Errorf("hsmstore: CKM_RSA_X_509 gave %d bytes for a %d-byte modulus", len(em), size)
	}
	if len(em) < size {
		// A token that strips leading zero bytes (SoftHSM does not).
		full := make([]byte, size)
		copy(full[size-len(em):], em)
		clear(em)
		em = full
	}
	if key != nil {
		sessionKeyPKCS1v15(em, key)
		clear(em)
		return key, nil
	}
	valid, index := unpadPKCS1v15(em)
	if valid == 0 {
		clear(em)
		return nil, errDecrypt
	}
	return em[index:], nil
}

// decryptToken decrypts with mech (CKM_RSA_PKCS or CKM_RSA_PKCS_OAEP), the padding checked
// inside the token. Tokens answer CKR_GENERAL_ERROR both for bad padding and for a login
// lost during the call, so the session is probed after every decryption, failed or not: a
// failure makes the same calls as a success (no extra probe, no closed session) and costs
// the same here.
func (k *rsaKey) decryptToken(ctx context.Context, mech []*pkcs11.Mechanism, oaepSHA2 bool, ciphertext []byte) ([]byte, error) {
	var pt []byte
	err := k.st.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		p := k.st.c.p11
		kh, err := k.ref.get(sh)
		if err != nil {
			return false, err
		}
		if err := p.DecryptInit(sh, mech, kh); err != nil {
			k.ref.drop(kh, err)
			if oaepSHA2 && (isCKR(err, pkcs11.CKR_ARGUMENTS_BAD) || isCKR(err, pkcs11.CKR_MECHANISM_PARAM_INVALID)) {
				return false, fmt.Errorf("hsmstore: CKM_RSA_PKCS_OAEP with a SHA-2 hash: %w (%w)", errors.ErrUnsupported, err)
			}
			return false, fmt.Errorf("hsmstore: C_DecryptInit %s: %w", mechName(mech[0].Mechanism), err)
		}
		out, err := p.Decrypt(sh, ciphertext)
		// After a success too, so that a failure makes the same calls: modules that keep a
		// failed operation active (tpm2-pkcs11) leave it ended here.
		k.st.c.endOp(sh, opDecrypt)
		probe := k.st.c.checkLive(sh)
		switch {
		case err == nil:
			pt = out
			return false, nil
		case isFault(probe):
			if unexpected(err) {
				k.st.c.st.probeDown.Add(1)
			}
			return true, &faultError{level: faultLevel(probe), err: fmt.Errorf("hsmstore: C_Decrypt %s: %w (after %v)", mechName(mech[0].Mechanism), probe, err)}
		case isFault(err) && !unexpected(err):
			// The session or the handle is gone: not the data's failure.
			return true, fmt.Errorf("hsmstore: C_Decrypt %s: %w", mechName(mech[0].Mechanism), err)
		}
		if unexpected(err) {
			k.st.c.st.probeAlive.Add(1)
		}
		// The data's failure, whatever the code (tpm2-pkcs11: CKR_GENERAL_ERROR); the token
		// answers. The session goes back to the pool, as after a success.
		return false, errDecrypt
	})
	return pt, err
}

// oaepSHA1Only reports whether the token is known to do RSA-OAEP with SHA-1 only: SoftHSM
// before 2.7 (its mechanism list shows CKM_RSA_PKCS_OAEP without saying which hashes).
func (c *conn) oaepSHA1Only() bool {
	return c.tok.ManufacturerID == "SoftHSM project" && (c.tok.FirmwareVersion.Major < 2 || (c.tok.FirmwareVersion.Major == 2 && c.tok.FirmwareVersion.Minor < 7))
}

// Sign signs digest with CKM_ECDSA inside the token and returns the ASN.1 DER signature
// crypto/ecdsa makes (ecdsa.VerifyASN1 checks it).
func (k *ecKey) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := storekit.CheckDigest(digest, opts); err != nil {
		return nil, err
	}
	if err := k.st.c.usable(ctx, CapECDSASign); err != nil {
		return nil, err
	}
	raw, err := k.sign(ctx, mechECDSA, digest)
	if err != nil {
		return nil, err
	}
	if len(raw) != 2*k.size {
		return nil, fmt.Errorf("hsmstore: CKM_ECDSA gave %d bytes, want %d", len(raw), 2*k.size)
	}
	r := new(big.Int).SetBytes(raw[:k.size])
	s := new(big.Int).SetBytes(raw[k.size:])
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.Bytes()
}

var mechNames = map[uint]string{
	pkcs11.CKM_SHA256_HMAC:   "CKM_SHA256_HMAC",
	pkcs11.CKM_SHA384_HMAC:   "CKM_SHA384_HMAC",
	pkcs11.CKM_SHA512_HMAC:   "CKM_SHA512_HMAC",
	pkcs11.CKM_RSA_PKCS:      "CKM_RSA_PKCS",
	pkcs11.CKM_RSA_X_509:     "CKM_RSA_X_509",
	pkcs11.CKM_RSA_PKCS_PSS:  "CKM_RSA_PKCS_PSS",
	pkcs11.CKM_RSA_PKCS_OAEP: "CKM_RSA_PKCS_OAEP",
	pkcs11.CKM_ECDSA:         "CKM_ECDSA",
	pkcs11.CKM_AES_GCM:       "CKM_AES_GCM",

	pkcs11.CKM_GENERIC_SECRET_KEY_GEN: "CKM_GENERIC_SECRET_KEY_GEN",
	pkcs11.CKM_AES_KEY_GEN:            "CKM_AES_KEY_GEN",
	pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN:  "CKM_RSA_PKCS_KEY_PAIR_GEN",
	pkcs11.CKM_EC_KEY_PAIR_GEN:        "CKM_EC_KEY_PAIR_GEN",
}

func mechName(m uint) string {
	if n, ok := mechNames[m]; ok {
		return n
	}
	return fmt.Sprintf("mechanism 0x%x", m)
}

// An objRef is an entry's object handle. It is resolved again, by alias, when the module's
// generation moves (a recovery: handles may be gone after a re-initialisation) or when the
// token calls it invalid; the object found must be the same key (key type and, where the
// token gives it, CKA_CHECK_VALUE, CKA_MODULUS or CKA_EC_PARAMS), else the entry fails
// with secrets.ErrNotFound rather than use another key under the same alias.
type objRef struct {
	c       *conn
	cls     uint
	alias   string
	keyType uint
	idAttr  uint
	idVal   []byte
	cur     atomic.Pointer[refState]
}

type refState struct {
	h   pkcs11.ObjectHandle
	gen uint64
}

// newRef is called inside Store.do, so the module's generation is that of h.
func (s *Store) newRef(cls uint, alias string, h pkcs11.ObjectHandle, kt, idAttr uint, idVal []byte) *objRef {
	r := &objRef{c: s.c, cls: cls, alias: alias, keyType: kt, idAttr: idAttr, idVal: append([]byte(nil), idVal...)}
	r.cur.Store(&refState{h: h, gen: s.c.mod.gen.Load()})
	return r
}

// get returns the handle to use on sh (called inside Store.do).
func (r *objRef) get(sh pkcs11.SessionHandle) (pkcs11.ObjectHandle, error) {
	g := r.c.mod.gen.Load()
	if st := r.cur.Load(); st != nil && st.gen == g {
		return st.h, nil
	}
	h, err := r.resolve(sh)
	if err != nil {
		return 0, err
	}
	r.cur.Store(&refState{h: h, gen: g})
	return h, nil
}

// drop forgets h when err says the token no longer knows it.
func (r *objRef) drop(h pkcs11.ObjectHandle, err error) {
	if faultLevel(err) != faultHandle {
		return
	}
	if st := r.cur.Load(); st != nil && st.h == h {
		r.cur.CompareAndSwap(st, nil)
	}
}

func (r *objRef) resolve(sh pkcs11.SessionHandle) (pkcs11.ObjectHandle, error) {
	p := r.c.p11
	a := []byte(r.alias)
	var hs []pkcs11.ObjectHandle
	var err error
	if r.cls == pkcs11.CKO_SECRET_KEY {
		hs, err = findObjects(p, sh, []*pkcs11.Attribute{class(r.cls), pkcs11.NewAttribute(pkcs11.CKA_LABEL, a)})
		if err == nil && len(hs) == 0 {
			hs, err = findObjects(p, sh, []*pkcs11.Attribute{class(r.cls), pkcs11.NewAttribute(pkcs11.CKA_ID, a)})
		}
	} else {
		hs, err = findObjects(p, sh, []*pkcs11.Attribute{class(r.cls), pkcs11.NewAttribute(pkcs11.CKA_ID, a)})
		if err == nil {
			var hl []pkcs11.ObjectHandle
			hl, err = findObjects(p, sh, []*pkcs11.Attribute{class(r.cls), pkcs11.NewAttribute(pkcs11.CKA_LABEL, a)})
			hs = union(hs, hl)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("hsmstore: find the key of %q again: %w", r.alias, err)
	}
	switch len(hs) {
	case 0:
		if err := r.c.checkLive(sh); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("hsmstore: the key of %q is no longer on the token: %w", r.alias, secrets.ErrNotFound)
	case 1:
	default:
		return 0, fmt.Errorf("hsmstore: %d keys are named %q now: delete or relabel all but one", len(hs), r.alias)
	}
	at, err := attrs(p, sh, hs[0], pkcs11.CKA_KEY_TYPE, r.idAttr)
	if err != nil {
		return 0, err
	}
	kt, ok := ulongOf(at[pkcs11.CKA_KEY_TYPE])
	if !ok || kt != r.keyType || (len(r.idVal) > 0 && !bytes.Equal(at[r.idAttr], r.idVal)) {
		return 0, fmt.Errorf("hsmstore: %q names another key now: look the alias up again: %w", r.alias, secrets.ErrNotFound)
	}
	return hs[0], nil
}
