// Package hsmstore is a secrets.Store over a PKCS#11 token (an HSM, SoftHSM) that reads and
// writes the token exactly as Java's keytool and the SunPKCS11 provider do, so a Go service
// and PingIDM/ForgeRock IDM find the same keys by the same aliases.
//
// # Opening
//
// Open takes a Config (module path; token by label, serial, slot ID, slot list index or RFC
// 7512 pkcs11: URI; PIN from the config, an environment variable or a file). OpenSunPKCS11
// takes the SunPKCS11 configuration file given to keytool, and NewOpener is the
// secrets.Opener for IDM's HsmBasedStore (providerName looked up in java.security,
// storePassword as the PIN).
//
// Every Store on one (library, token) in a process shares one crypto11 context and one
// login, reference-counted: IDM's mainKeyStore and mainTrustStore on one token make one
// connection. The last Close closes it. A second Open with another PIN fails with
// secrets.ErrWrongPIN without calling C_Login; a wrong PIN on the first Open costs exactly one
// C_Login and fails with an error wrapping secrets.ErrWrongPIN.
//
// # keytool's layout
//
//	entry                       object            CKA_LABEL  CKA_ID
//	secret key (HmacSHA256/AES) CKO_SECRET_KEY    alias      (empty)
//	private key entry: key      CKO_PRIVATE_KEY   (empty)    alias
//	private key entry: cert     CKO_CERTIFICATE   alias      alias
//	trusted certificate         CKO_CERTIFICATE   alias
//
// keytool -genseckey -keyalg HmacSHA256 stores CKK_GENERIC_SECRET; it is KindSecret here.
// Store.Entry documents the lookup, including other tools' layouts (label and ID, label only,
// ID only); two objects for one alias are an error, never a guess.
//
// # Operations
//
// Every operation runs inside the token, one call at a time: a session is taken from the
// connection's pool for the call and returned at once, never held between calls. Entries
// resolve their object handles once, so the hot path makes no object search:
//
//   - HMAC-SHA256/384/512 (C_SignInit + C_Sign; VerifyMAC with C_Verify) on generic-secret
//     and HMAC keys. SoftHSM needs a key at least as long as the hash (48 bytes for
//     SHA-384): a shorter key is an error wrapping errors.ErrUnsupported.
//   - AES-GCM Seal/Open with a random 12-byte nonce prepended, interoperable with
//     crypto/cipher; Seal on a generic secret is secrets.ErrWrongKind.
//   - RSA PKCS#1 v1.5 and PSS signing, PKCS#1 v1.5 and OAEP decryption (OAEP with SHA-2 on a
//     token that only does SHA-1, SoftHSM 2.6, is an error wrapping errors.ErrUnsupported
//     naming CKM_RSA_PKCS_OAEP), ECDSA signing returning ASN.1 like crypto/ecdsa.
//   - Export reads CKA_VALUE of a secret key that is extractable and not sensitive; otherwise
//     an error wraps secrets.ErrNotExtractable and names the attributes to set.
//
// Generate, Import and Delete write keytool's layout, applying the SunPKCS11 attribute
// templates of the configuration over safe defaults.
//
// # Errors and concurrency
//
// Stores and entries are safe for concurrent use. Operations take a context: a done context
// returns ctx.Err() before the token is touched. Errors wrap the sentinels of package
// secrets (ErrNotFound, ErrWrongKind, ErrNotExtractable, ErrWrongPIN, ErrClosed, ErrExists,
// ErrVerification) and, for what the token lacks, errors.ErrUnsupported; lookups and key
// management return *secrets.KeyError naming store and alias. No error, log line or panic
// carries a PIN or key bytes.
//
// Built without cgo, Open returns an error wrapping errors.ErrUnsupported.
//
// Handle invalidation after a token restart (re-resolve on CKR_OBJECT_HANDLE_INVALID,
// re-login, reconnect) is not handled yet: a conn owns the sessions and the login, and
// entries go through Store.do, which is where it will go.
package hsmstore
