// Package hsmstore is a [secrets.Store] over a PKCS#11 token (an HSM, SoftHSM) that reads and
// writes the token exactly as Java's keytool and the SunPKCS11 provider do, so a Go service
// and PingIDM/ForgeRock IDM find the same keys by the same aliases.
//
// # Opening
//
// [Open] takes a [Config] (module path; token by label, serial, slot ID, slot list index or RFC
// 7512 pkcs11: URI; PIN from the config, an environment variable or a file). [OpenSunPKCS11]
// takes the SunPKCS11 configuration file given to keytool, and [NewOpener] is the
// [secrets.Opener] for IDM's HsmBasedStore (providerName looked up in java.security,
// storePassword as the PIN).
//
// Every Store on one (library, token) in a process shares one connection and one login,
// reference-counted: IDM's mainKeyStore and mainTrustStore on one token make one connection.
// The last Close closes it. A second Open with another PIN fails with [secrets.ErrWrongPIN]
// without calling C_Login; a wrong PIN on the first Open costs exactly one C_Login and fails
// with an error wrapping secrets.ErrWrongPIN.
//
// # Which token
//
// A token is what was opened: its slot ID, label, serial, model and manufacturer. Several
// modules give every token the same serial (tpm2-pkcs11: 0000000000000000; NSS softokn's two
// slots share one), so no single field identifies a token. A selector that matches several
// tokens is an error listing them (slot, label, serial, model); select by label, slot ID or a
// pkcs11: URI naming more attributes. Recovery finds the token again by the same identity
// and fails, without a C_Login, when it is gone or cannot be told apart from another.
//
// # Who initialises the module
//
// hsmstore calls C_Initialize itself, passing [Config].InitArgs (SunPKCS11's nssArgs) as
// CK_C_INITIALIZE_ARGS.pReserved, and calls C_Finalize when the last Store on the library
// closes, and in recovery, only if its own C_Initialize initialised the library. Other code
// of the process that uses the same library through crypto11 v1.6.2:
//
//   - crypto11 configured first: Open succeeds (CKR_CRYPTOKI_ALREADY_INITIALIZED is expected)
//     and leaves finalisation to crypto11. The PIN cannot then be checked if crypto11 has
//     logged in already (PKCS#11 logins are per process).
//   - hsmstore first: crypto11.Configure fails with its own error wrapping
//     CKR_CRYPTOKI_ALREADY_INITIALIZED (crypto11 insists on initialising the library).
//   - crypto11 closed (its last Close finalises the library) while a Store is open: the
//     Store's next call sees CKR_CRYPTOKI_NOT_INITIALIZED, recovers by initialising the
//     library itself and owns it from then on.
//
// hsmstore itself does not use crypto11.
//
// # keytool's layout
//
//	entry                       object            CKA_LABEL  CKA_ID
//	secret key (HmacSHA256/AES) CKO_SECRET_KEY    alias      (empty)
//	private key entry: key      CKO_PRIVATE_KEY   (empty)    alias
//	private key entry: cert     CKO_CERTIFICATE   alias      alias
//	trusted certificate         CKO_CERTIFICATE   alias
//
// keytool -genseckey -keyalg HmacSHA256 stores CKK_GENERIC_SECRET; it is [secrets.KindSecret] here.
// [Store.Entry] documents the lookup, including other tools' layouts (label and ID, label only,
// ID only); two objects for one alias are an error, never a guess. The layout and the
// template rules are written from what keytool and SunPKCS11 do (the objects they create and
// find, checked by tests that run keytool and Java against the same token), not from the
// JDK's source.
//
// # Operations
//
// Every operation runs inside the token, one call at a time: a session is taken from the
// connection's pool for the call and returned at once, never held between calls. Entries
// resolve their object handles once, so the hot path makes no object search:
//
//   - HMAC-SHA256/384/512 (C_SignInit + C_Sign; VerifyMAC with C_Verify) on generic-secret
//     and HMAC keys. SoftHSM needs a key at least as long as the hash (48 bytes for
//     SHA-384): a shorter key is an error wrapping errors.ErrUnsupported, as is a hash the
//     token refuses for the key (tpm2-pkcs11 binds an HMAC key to one hash).
//   - AES-GCM Seal/Open with a random 12-byte nonce prepended, interoperable with
//     crypto/cipher; Seal on a generic secret is secrets.ErrWrongKind.
//   - RSA PKCS#1 v1.5 and PSS signing, PKCS#1 v1.5 and OAEP decryption (OAEP with SHA-2 on a
//     token that only does SHA-1, SoftHSM 2.6, is an error wrapping errors.ErrUnsupported
//     naming CKM_RSA_PKCS_OAEP), ECDSA signing returning ASN.1 like crypto/ecdsa. PKCS#1
//     v1.5 decryption gives no padding oracle: with CKM_RSA_X_509 the raw RSA operation runs
//     in the token and the padding is checked in constant time in Go (SessionKeyLen as in
//     crypto/rsa); without it, a failure makes the same token calls as a success and one
//     error, leaving only the token's own timing (see rsaKey.Decrypt). A private key with
//     CKA_ALWAYS_AUTHENTICATE=true (another tool's; hsmstore never makes one) needs a
//     context-specific login before each use, which hsmstore does not do: its Sign and
//     Decrypt are errors wrapping errors.ErrUnsupported naming the attribute, made before
//     any call, and never a recovery.
//   - Export reads CKA_VALUE of a secret key that is extractable and not sensitive; otherwise
//     an error wraps secrets.ErrNotExtractable and names the attributes to set.
//
// [Store.Generate], [Store.Import] and [Store.Delete] write keytool's layout, applying the
// SunPKCS11 attribute templates of the configuration ([Config].Templates, pkcs11conf's
// model) over safe defaults; the attributes hsmstore's code sets win over the
// configuration's, as in SunPKCS11. A secret key the templates make extractable without
// setting CKA_SENSITIVE is not sensitive (as keytool leaves it), so that it can be exported.
//
// # Errors and concurrency
//
// Stores and entries are safe for concurrent use. Operations take a context: a done context
// returns ctx.Err() before the token is touched. Errors wrap the sentinels of package
// secrets (ErrNotFound, ErrWrongKind, ErrNotExtractable, ErrWrongPIN, ErrClosed, ErrExists,
// ErrVerification) and, for what the token lacks, errors.ErrUnsupported; lookups and key
// management return [*secrets.KeyError] naming store and alias. No error, log line or panic
// carries a PIN or key bytes.
//
// Built without cgo, Open returns an error wrapping errors.ErrUnsupported.
//
// # Faults and recovery
//
// HSMs lose logins, sessions and connections: another component calls C_Logout or
// C_CloseAllSessions, an HSM restarts or fails over, the network to it drops. (crypto11
// keeps broken sessions, never logs in again, and after a lost login its searches return
// no keys and no error.) hsmstore recovers, in one place (the connection's do):
//
//   - A lost login or dead session (CKR_USER_NOT_LOGGED_IN, CKR_SESSION_HANDLE_INVALID,
//     CKR_SESSION_CLOSED), and an empty search on a session that turns out not to be
//     logged in: the idle sessions are closed, a new one is opened and C_Login is called
//     again. A session found closed is never closed again, and from then until that
//     recovery no session is opened or handed out: tokens give the numbers of closed
//     sessions to new ones, so a stale handle could name another caller's session.
//   - A dead device or connection (CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED,
//     CKR_TOKEN_NOT_PRESENT, CKR_CRYPTOKI_NOT_INITIALIZED, or C_GetTokenInfo failing after
//     an empty search), or a re-login that fails that way: the module is finalised and
//     initialised again (when hsmstore initialised it), once for every Store on every token
//     of that library (that is what C_Finalize means), the token is found again by what was
//     opened (label, serial, model, manufacturer; its old slot first) and logged in.
//   - A stale object handle (CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID) and every
//     recovery make entries look their keys up again by alias, checking it is the same key
//     (key type; CKA_CHECK_VALUE, CKA_MODULUS or CKA_EC_PARAMS): a Secret obtained before
//     the fault keeps working after it, and never uses another key that took its alias.
//
// The failed call is then run once more, except a key-management write (C_CreateObject,
// C_GenerateKey(Pair), C_DestroyObject, C_SetAttributeValue) that was already sent: its
// reply may be what was lost, and a blind second try could leave a duplicate or an orphan.
// Generate and Import then remove what they wrote, found by name, and fail with an error
// wrapping ErrUnavailable (nothing stored); Delete fails saying it may or may not have
// happened. An overwrite writes the new entry under a temporary name and replaces the old
// one only when it is complete. Concurrent callers that meet the same fault share
// one recovery: they wait for it (bounded by their context) and retry. While the token stays
// away, reconnect attempts follow a bounded exponential backoff ([Config.ReconnectBackoff],
// ReconnectBackoffMax) and calls in between fail at once with an error wrapping
// [ErrUnavailable]: no call waits for a dead HSM, and no caller's retry loop hammers it. A
// call that fails because of the token always wraps ErrUnavailable; it never returns a
// wrong result, a verification failure or "not found" for a key that is there. Each token
// has its own backoff: one that stays away does not keep the other tokens of its library
// down, though each of its reconnect attempts re-initialises the library for all of them
// (their calls pause for it, then go on).
//
// A rejected PIN (CKR_PIN_INCORRECT, CKR_PIN_LOCKED, ...) on a re-login is never retried:
// the connection fails every later call at once with an error wrapping
// secrets.ErrWrongPIN and ErrUnavailable, without another C_Login that could lock the
// token. Close and reopen the stores with the right PIN.
//
// Close is idempotent; the last Close of a token waits for the calls in flight (and a
// running recovery), and later calls fail with secrets.ErrClosed.
//
// # Health
//
// [Store.Ping] is a readiness probe: it asks the token whether the session is logged in,
// recovering (or failing fast) as any call does. [Store.Stats] returns counters to export
// (operations, errors, faults, recoveries, re-logins, re-initialisations, calls failed
// fast, pool waits and timeouts) and the current state (sessions, up, down since). Events
// go to [Config.Logger] (log/slog): "logged in", "token fault, recovering", "recovered",
// "recovery failed" (with the next attempt), "the token rejected the PIN"; never a PIN.
//
// # Network HSMs
//
// A network HSM is used through its vendor's PKCS#11 module, loaded like any other:
// Thales Luna (libCryptoki2_64.so, the Luna client with NTLS to the appliance), AWS CloudHSM
// (libcloudhsm_pkcs11.so, the CloudHSM client), Entrust nShield (libcknfast.so via the
// hardserver), Utimaco (libcs_pkcs11_R3.so), Azure Managed HSM or Google Cloud KMS through
// their PKCS#11 libraries. The module owns the network: it keeps its connections, and
// reports their loss as PKCS#11 errors, typically CKR_DEVICE_ERROR, CKR_TOKEN_NOT_PRESENT
// or CKR_SESSION_HANDLE_INVALID after a reconnect, which is what hsmstore recovers from. The
// tests use p11-kit's RPC as that network path: p11-kit server exports a SoftHSM token on a
// socket, p11-kit-client.so is the module (P11_KIT_SERVER_ADDRESS names the socket), and
// killing the server's process group is the appliance going away. Things to know:
//
//   - Select the token by label (or a pkcs11: URI) rather than slot: slot IDs may change
//     when the client reconnects. hsmstore finds the token again by its label, serial, model
//     and manufacturer after a re-initialisation.
//   - Set the vendor client's own timeouts and retry counts low (Luna's ReceiveTimeout,
//     CloudHSM's reconnect settings): a call that hangs on a dead link is not a fault yet,
//     and hsmstore cannot interrupt a PKCS#11 call. The context bounds only waiting for a
//     session or a recovery.
//   - High-availability groups (Luna HA, CloudHSM clusters) fail over inside the module;
//     hsmstore then sees at most a lost session or login, and logs in again.
//   - Some modules give every C_GetFunctionList its own instance with its own connection
//     (p11-kit-client.so does): hsmstore then logs that instance in itself, which costs one
//     more C_Login at open and after a re-initialisation.
//   - hsmstore makes one call at a time into p11-kit-client.so (p11-kit 0.24): when its
//     connection breaks while several threads wait for their replies, the one whose reply
//     was cut short fails and the others wait in pthread_cond_wait forever, a hang nothing
//     can end. The p11-kit server runs one connection's calls one at a time anyway; the
//     cost is the round trips no longer overlapping (see BenchmarkNetwork).
//   - Over the network each call is a round trip: measured with p11-kit on a unix socket,
//     see BenchmarkNetwork. Use the Provider's cache (no lookup per call) and enough
//     MaxSessions for the concurrency the HSM allows.
package hsmstore
