// Package jsoncrypto reads and writes IDM's "$crypto" JSON values with the keys of a
// [secrets.Provider]: the encrypted configuration values and properties of PingIDM/ForgeRock
// IDM (x-simple-encryption), its salted hashes, a modern AES-GCM scheme whose key can stay
// inside an HSM, helpers that rewrite whole JSON documents (IDM's conf/*.json), detached
// signatures, and the key rotation workflow.
//
// # x-simple-encryption
//
// [Encrypt] writes, and [Decrypt] reads, ForgeRock commons json-crypto's 2016 scheme
// (SimpleEncryptor/SimpleDecryptor/HKDFKeyGenerator):
//
//	{"$crypto": {"type": "x-simple-encryption", "value": {
//	    "cipher": "AES/CBC/PKCS5Padding", "stableId": "openidm-sym-default",
//	    "purpose": "idm.password.encryption", "keySize": 16,
//	    "salt": b64(16), "iv": b64(16), "data": b64(AES-CBC), "mac": b64(16)}}}
//
// The AES and MAC keys are derived by HKDF-SHA256 from the exported key and the random salt
// (info "AES" and "HmacSHA256"), data is the AES/CBC/PKCS5Padding encryption of the value's
// JSON text, and mac is HMAC-SHA256 truncated to 16 bytes over every field but mac, sorted
// by name, each as its name then its text. The MAC is checked, in constant time, before
// anything is decrypted. The key is exported ([secrets.Secret.Export]), as IDM does: for an
// HSM it must be extractable (CKA_EXTRACTABLE=true, CKA_SENSITIVE=false).
//
// The caller states which secret ids the values it reads may name (Decrypt's secretID,
// Options.SecretIDs): a value naming another is refused with ErrNotAllowed before any key is
// looked up. The key is then found by the alias the value names ("stableId", or "key") among
// the valid DECRYPT keys of its secret id ("purpose", or DefaultSecretID when absent), with
// [secrets.Provider.Named]: data made under an older alias decrypts as long as that alias is
// still mapped, and new data uses the active (first) alias. Members other than the ones IDM
// documents are refused (the MAC input has no separators).
//
// Two older forms authenticate nothing and are read only when asked: the legacy (pre-2016)
// form {cipher, key, iv, data}, encrypted directly with the key (Options.AllowLegacy; read
// without a padding oracle), and json-crypto's 2016 asymmetric form, whose "key" object holds
// an RSA-wrapped session key that anyone with the public key can make
// (Options.AllowAsymmetric).
//
// IDM 7/8 interoperability is unverified. The algorithm above is from the open 2016 sources
// and is checked byte for byte against an independent Java (JCE) implementation in this
// package's tests, but IDM 6.5 and later are closed: which fields their MAC covers
// (Options.MACFields) and the HKDF info of a non-AES key (Options.AESInfo) are
// unconfirmed, and the defaults follow the 2016 decryptor. The derived key size is the
// value's "keySize" (bytes or bits), else the key's own length (see Options.KeySize). Treat interoperability with IDM 7/8 as unverified until a value made
// by a real IDM 7/8 has been decrypted with the options you use.
//
// # AES-GCM
//
// With [Options].Scheme = [SchemeGCM], Encrypt writes [TypeGCM] values: AES-GCM by
// secrets.Secret.Seal under an AES key, with the type, cipher, alias and purpose as
// additional data. The key never leaves its store (an HSM key may be non-extractable). IDM
// does not read these values; its own per-property AES/GCM layout is undocumented.
//
// # Salted hashes
//
// [VerifyHash] checks IDM's salted-hash values (MD5, SHA-1, SHA-256, SHA-384, SHA-512 over
// plaintext ‖ 16-byte salt), with the OpenIDM 5.x truncation of non-ASCII passwords behind
// [VerifyHashOptions].Allow5xTruncation. [Hash] makes new values with bcrypt by default
// (HashOptions), or SHA-256/384/512 salted hashes that IDM 5.x and 6.x verify too.
//
// # Documents and rotation
//
// [Codec.EncryptDocument], [Codec.DecryptDocument] and [Codec.Reencrypt] rewrite the $crypto values of a JSON
// document and leave every other byte as it was; each reports the Changes it made. Scan lists
// the values and the aliases they name. Rotation: put the new alias first in the secret id's
// mapping (in secrets.json, or a secrets.Mapping at run time) and keep the old aliases after
// it; Reencrypt every document; CheckRetire refuses to let an alias go while any document it
// is shown still names it ([CheckRetire]).
//
// # Signatures
//
// [Sign] and [Verify] make and check detached signatures carrying the alias and secret id:
// HS256 for secret keys, RS256 for RSA, ES256/384/512 for EC. Verify is told the secret id
// it expects; the secret id, alias and algorithm are signed with the message.
//
// # Errors and limits
//
// Errors wrap [ErrMalformed], [ErrTooLarge], [ErrNotAllowed], errors.ErrUnsupported or the secrets
// sentinels (ErrVerification, ErrWrongKind, ErrNotFound, ErrNoMapping, ErrNotExtractable),
// name fields and JSON pointers, and never contain key bytes or plaintext. Input is bounded by
// MaxValueSize, MaxPlaintextSize, MaxDocumentSize and MaxDepth; no input makes the package
// panic.
package jsoncrypto
