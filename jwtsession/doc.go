// Package jwtsession keeps a login session in a cookie exactly as PingIDM/ForgeRock IDM's
// JWT session module does, with keys served by a [secrets.Provider]: an HSM (hsmstore), a
// keystore file (filestore) or anything else behind the mappings
// idm.jwt.session.module.signing and idm.jwt.session.module.encryption.
//
// # Token format
//
// The IDM profile (the default) makes the session-jwt cookie IDM makes and reads:
//
//	JWS  {"typ":"JWT","alg":"HS256","cty":"JWT"}     HMAC-SHA-256 with the raw bytes of
//	 └─ payload: compact JWE                          the signing key (at least 32 bytes)
//	     {"alg":"RSA1_5","enc":"A128CBC-HS256"}       CEK wrapped for the encryption key
//	      └─ claims: jti, iat, nbf, exp, tokenIdleTimeSeconds, prn, sessionId,
//	                 org.forgerock.authentication.context, custom claims
//
// go-jose's ParseSignedAndEncrypted expects the other nesting, so [Manager.Validate] verifies the
// outer JWS, then parses and decrypts the inner JWE. The Modern profile adds kid = alias
// on both layers, wraps with RSA-OAEP-256 (RSA-OAEP where the store lacks SHA-2 OAEP)
// and encrypts with A256GCM, and can sign with HS256, HS512, RS256 or ES256; JWKS
// publishes the RS256/ES256 verification keys.
//
// # Keys
//
// The HMAC key is exported from its store once per Provider lease (for each of SIGN and
// VERIFY) and used in process, as IDM does: on an HSM it must be extractable and not
// sensitive (CKA_EXTRACTABLE=true, CKA_SENSITIVE=false), else [New] fails with an error wrapping
// [secrets.ErrNotExtractable] that says so. [Config].MACInStore keeps it inside instead (Secret.MAC and
// Secret.VerifyMAC behind go-jose's opaque signer and verifier), at the cost of a store
// call per token. The RSA decryption of the content key always runs where the key
// lives (Secret.Decrypt behind go-jose's OpaqueKeyDecrypter); for RSA1_5 a padding
// failure yields a random key in constant time (RFC 7516 §11.5), so it cannot be told
// from a tag mismatch. go-jose v4.1.9 still implements RSA1_5 in both directions, so no
// JOSE primitive is hand-written here.
//
// Rotation follows the mappings: [Manager.Issue] uses the active alias (first); Validate tries
// every valid alias in mapping order, or only the one a kid names.
//
// # Validation
//
// Validate refuses a token over Config.MaxTokenSize before parsing, then checks, in
// order: structure and headers (exact algorithm allowlists per profile; no crit, jwk,
// jku, zip; duplicate names refused), the signature, the decryption, and the claims:
// now < exp, now < tokenIdleTimeSeconds, nbf and iat not in the future, all with
// Config.Leeway (5 s by default in the IDM profile, none in Modern) and the clock
// Config.Now; in the Modern profile (or with Config.LimitLifetime) also exp and the
// idle deadline no further ahead than MaxLife and IdleTimeout; last the Config.Revoked
// hook. The IDM profile thus accepts what IDM accepts: IDM checks only now < exp and
// now < tokenIdleTimeSeconds. Each failure wraps one
// sentinel ([ErrMalformed], [ErrSignature], [ErrExpired], ...); errors never carry key bytes,
// and quote from the token only header values, claim names and times (truncated). Validated and issued tokens are cached by their SHA-256 (a bounded
// LRU, [Config].CacheSize) so a resent cookie costs no RSA decryption.
//
// # Concurrency
//
// A [Manager] is safe for concurrent use by any number of goroutines. Sessions returned by
// Validate share their maps with the cache: treat them as read-only.
package jwtsession
