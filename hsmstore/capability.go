package hsmstore

// A Capability is a kind of operation a Store runs on its token. Store.Capabilities lists
// those the token can do, from the mechanism list it reports when the store is opened;
// Store.Supports says why one cannot be done. An operation the token cannot do fails
// before any PKCS#11 call with an error wrapping errors.ErrUnsupported that names the
// mechanism it lacks. jwtsession, jsoncrypto and users can choose algorithms by it.
type Capability string

// Capabilities and the PKCS#11 mechanisms they need.
const (
	CapHMACSHA256      Capability = "HMAC-SHA256"       // MAC, VerifyMAC: CKM_SHA256_HMAC
	CapHMACSHA384      Capability = "HMAC-SHA384"       // CKM_SHA384_HMAC
	CapHMACSHA512      Capability = "HMAC-SHA512"       // CKM_SHA512_HMAC
	CapAESGCM          Capability = "AES-GCM"           // Seal, Open: CKM_AES_GCM
	CapRSASignPKCS1    Capability = "RSA-PKCS1-SIGN"    // Sign with a crypto.Hash: CKM_RSA_PKCS
	CapRSASignPSS      Capability = "RSA-PSS-SIGN"      // Sign with *rsa.PSSOptions: CKM_RSA_PKCS_PSS
	CapRSADecryptPKCS1 Capability = "RSA-PKCS1-DECRYPT" // Decrypt, PKCS#1 v1.5: CKM_RSA_X_509 or CKM_RSA_PKCS
	CapRSADecryptOAEP  Capability = "RSA-OAEP-DECRYPT"  // Decrypt with *rsa.OAEPOptions: CKM_RSA_PKCS_OAEP
	CapECDSASign       Capability = "ECDSA-SIGN"        // Sign with an EC key, Import of an EC key: CKM_ECDSA
	CapGenerateSecret  Capability = "GENERATE-SECRET"   // Generate KindSecret: CKM_GENERIC_SECRET_KEY_GEN
	CapGenerateAES     Capability = "GENERATE-AES"      // Generate KindAES: CKM_AES_KEY_GEN
	CapGenerateRSA     Capability = "GENERATE-RSA"      // Generate KindRSA: CKM_RSA_PKCS_KEY_PAIR_GEN
	CapGenerateEC      Capability = "GENERATE-EC"       // Generate KindEC: CKM_EC_KEY_PAIR_GEN
)

// AllCapabilities lists every Capability, in a fixed order.
var AllCapabilities = []Capability{
	CapHMACSHA256, CapHMACSHA384, CapHMACSHA512, CapAESGCM,
	CapRSASignPKCS1, CapRSASignPSS, CapRSADecryptPKCS1, CapRSADecryptOAEP, CapECDSASign,
	CapGenerateSecret, CapGenerateAES, CapGenerateRSA, CapGenerateEC,
}
