package filestore

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/secretstores/secretstores/secrets"
)

// Certificates and keys Go's crypto/x509 cannot use (curves such as secp256k1 or sect193r1,
// DSA keys) do not stop a keystore from opening, as they do not in Java: the entry holding
// them is listed, its Entry and KeyMaterial return an error wrapping errors.ErrUnsupported
// that names the algorithm or curve, and the certificate's DER is kept and written back.

var (
	oidPublicKeyRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidPublicKeyDSA   = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}
	oidPublicKeyEC    = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidPublicKeyEd25  = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidPublicKeyX25   = asn1.ObjectIdentifier{1, 3, 101, 110}
	oidPublicKeyRSAPS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
)

var curveNames = map[string]string{
	"1.3.132.0.10":          "secp256k1",
	"1.3.132.0.24":          "sect193r1",
	"1.3.132.0.25":          "sect193r2",
	"1.3.132.0.26":          "sect233k1",
	"1.3.132.0.27":          "sect233r1",
	"1.3.132.0.16":          "sect283k1",
	"1.3.132.0.17":          "sect283r1",
	"1.3.132.0.36":          "sect409k1",
	"1.3.132.0.37":          "sect409r1",
	"1.3.132.0.38":          "sect571k1",
	"1.3.132.0.39":          "sect571r1",
	"1.3.132.0.31":          "secp192k1",
	"1.2.840.10045.3.1.1":   "secp192r1",
	"1.3.132.0.33":          "secp224r1",
	"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
	"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
	"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
}

// algorithmName names a public-key algorithm and, for EC, its curve, from the algorithm
// identifier of a SubjectPublicKeyInfo or PKCS#8 key.
func algorithmName(alg pkix.AlgorithmIdentifier) string {
	switch {
	case alg.Algorithm.Equal(oidPublicKeyDSA):
		return "DSA"
	case alg.Algorithm.Equal(oidPublicKeyRSA):
		return "RSA"
	case alg.Algorithm.Equal(oidPublicKeyRSAPS):
		return "RSASSA-PSS"
	case alg.Algorithm.Equal(oidPublicKeyEd25):
		return "Ed25519"
	case alg.Algorithm.Equal(oidPublicKeyX25):
		return "X25519"
	case alg.Algorithm.Equal(oidPublicKeyEC):
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &curve); err != nil {
			return "EC with explicit curve parameters"
		}
		if n, ok := curveNames[curve.String()]; ok {
			return "EC curve " + n + " (" + curve.String() + ")"
		}
		return "EC curve " + curve.String()
	}
	return "algorithm " + alg.Algorithm.String()
}

type tbsShape struct {
	Raw       asn1.RawContent
	Version   int `asn1:"optional,explicit,default:0,tag:0"`
	Serial    asn1.RawValue
	SigAlg    asn1.RawValue
	Issuer    asn1.RawValue
	Validity  asn1.RawValue
	Subject   asn1.RawValue
	PublicKey struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
}

type certShape struct {
	TBS    tbsShape
	SigAlg asn1.RawValue
	Sig    asn1.BitString
}

// parseCertificateKeepDER parses der; a certificate crypto/x509 refuses but whose structure
// is sound comes back as a *x509.Certificate holding only Raw, RawTBSCertificate,
// RawSubject and RawIssuer (enough to build chains and to write it back), with an error
// wrapping errors.ErrUnsupported that names its key algorithm. A malformed certificate is a
// plain error and a nil certificate.
func parseCertificateKeepDER(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil {
		return c, nil
	}
	var s certShape
	if rest, err2 := asn1.Unmarshal(der, &s); err2 != nil || len(rest) != 0 {
		return nil, err
	}
	return &x509.Certificate{
			Raw: der, RawTBSCertificate: s.TBS.Raw, RawSubject: s.TBS.Subject.FullBytes, RawIssuer: s.TBS.Issuer.FullBytes,
		}, fmt.Errorf("a certificate Go's crypto/x509 cannot parse (its key: %s): %v: %w",
			algorithmName(s.TBS.PublicKey.Algorithm), err, errors.ErrUnsupported)
}

type pkcs8Shape struct {
	Version   int
	Algorithm pkix.AlgorithmIdentifier
	Key       []byte
}

// unsupportedKeyError explains why x509.ParsePKCS8PrivateKey refused pkcs8: a key of an
// algorithm or curve it does not serve (wrapping errors.ErrUnsupported), or, when the bytes
// are not PKCS#8 at all, a key that did not decrypt to a key (wrapping secrets.ErrWrongPIN).
func unsupportedKeyError(pkcs8 []byte, parseErr error) error {
	var s pkcs8Shape
	if rest, err := asn1.Unmarshal(pkcs8, &s); err == nil && len(rest) == 0 {
		if s.Algorithm.Algorithm.Equal(oidPublicKeyDSA) {
			return fmt.Errorf("%w: its certificate and public key are served, but it cannot sign here: %w", errDSAKey, errors.ErrUnsupported)
		}
		return fmt.Errorf("private key of %s: %w (only RSA and EC P-224/P-256/P-384/P-521 keys are served)",
			algorithmName(s.Algorithm), errors.ErrUnsupported)
	}
	return fmt.Errorf("the key did not decrypt to a private key (%v), so the key password is wrong: %w", parseErr, secrets.ErrWrongPIN)
}
