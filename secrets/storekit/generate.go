package storekit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"github.com/secretstores/secretstores/secrets"
	"math/big"
	"time"
)

// GenerateKeyMaterial makes a key in process memory as spec describes: random bytes for
// secrets.KindSecret and secrets.KindAES; a key pair with a self-signed certificate (SelfSignedCertificate)
// for secrets.KindRSA and secrets.KindEC. Software stores use it for Generate.
func GenerateKeyMaterial(spec secrets.KeySpec) (secrets.KeyMaterial, error) {
	km := secrets.KeyMaterial{Kind: spec.Kind, Algorithm: spec.Algorithm, Extractable: true}
	switch spec.Kind {
	case secrets.KindSecret, secrets.KindAES:
		bits := spec.Bits
		if bits == 0 {
			bits = 256
		}
		if spec.Kind == secrets.KindAES && bits != 128 && bits != 192 && bits != 256 {
			return secrets.KeyMaterial{}, fmt.Errorf("secrets: AES key of %d bits: want 128, 192 or 256", bits)
		}
		if spec.Kind == secrets.KindSecret && (bits < 256 || bits%8 != 0 || bits > 8192) {
			return secrets.KeyMaterial{}, fmt.Errorf("secrets: HMAC key of %d bits: want a multiple of 8 from 256 (IDM's JWT session needs 256)", bits)
		}
		km.Secret = make([]byte, bits/8)
		if _, err := rand.Read(km.Secret); err != nil {
			return secrets.KeyMaterial{}, err
		}
		if km.Algorithm == "" {
			km.Algorithm = defaultAlgorithm(spec.Kind)
		}
		return km, nil
	case secrets.KindRSA:
		bits := spec.Bits
		if bits == 0 {
			bits = 2048
		}
		if bits < 2048 || bits > 8192 {
			return secrets.KeyMaterial{}, fmt.Errorf("secrets: RSA key of %d bits: want 2048 to 8192", bits)
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return secrets.KeyMaterial{}, err
		}
		km.Private = k
	case secrets.KindEC:
		c, err := curveForBits(spec.Bits)
		if err != nil {
			return secrets.KeyMaterial{}, err
		}
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			return secrets.KeyMaterial{}, err
		}
		km.Private = k
	default:
		return secrets.KeyMaterial{}, fmt.Errorf("secrets: cannot generate a key of kind %v", spec.Kind)
	}
	cert, err := SelfSignedCertificate(km.Private.(crypto.Signer), spec)
	if err != nil {
		return secrets.KeyMaterial{}, err
	}
	km.Chain = []*x509.Certificate{cert}
	return km, nil
}

// curveForBits returns P-256, P-384 or P-521 for 256 (or 0), 384 and 521.
func curveForBits(bits int) (elliptic.Curve, error) {
	switch bits {
	case 0, 256:
		return elliptic.P256(), nil
	case 384:
		return elliptic.P384(), nil
	case 521:
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("secrets: EC key of %d bits: want 256, 384 or 521", bits)
}

// SelfSignedCertificate makes the self-signed certificate keytool -genkeypair and IDM's
// populateDefaults make for a key pair: subject = issuer = spec.Subject, serial = the epoch
// milliseconds of its making, validity spec.NotBefore (default now) to spec.NotAfter (default
// ten years later), signed SHA512withRSA for RSA keys and SHA256/384/512withECDSA by curve.
func SelfSignedCertificate(key crypto.Signer, spec secrets.KeySpec) (*x509.Certificate, error) {
	now := time.Now()
	nb, na := spec.NotBefore, spec.NotAfter
	if nb.IsZero() {
		nb = now
	}
	if na.IsZero() {
		na = nb.AddDate(10, 0, 0)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixMilli()),
		Subject:               spec.Subject,
		Issuer:                spec.Subject,
		NotBefore:             nb,
		NotAfter:              na,
		BasicConstraintsValid: false,
	}
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		tmpl.SignatureAlgorithm = x509.SHA512WithRSA
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			tmpl.SignatureAlgorithm = x509.ECDSAWithSHA384
		case elliptic.P521():
			tmpl.SignatureAlgorithm = x509.ECDSAWithSHA512
		default:
			tmpl.SignatureAlgorithm = x509.ECDSAWithSHA256
		}
	default:
		return nil, fmt.Errorf("secrets: self-signed certificate for a %T key: want RSA or ECDSA", k)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("secrets: making a self-signed certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}
