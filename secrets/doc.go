// Package secrets is the secret-store model of PingIDM / ForgeRock IDM for Go services: named
// stores of keys, mappings from a secret id and a purpose to the aliases of those keys, and a
// [Provider] that resolves them, with rotation, the way IDM's secrets.json does.
//
// # Stores and entries
//
// A [Store] is a named source of key entries: a PKCS#11 token (package hsmstore), a Java
// keystore file or a directory of key files (package filestore), or memory
// (secretstest.MemoryStore). [Store.Entry] returns the [Entry] under an alias; an Entry
// implements the operations its key allows ([EntrySigner], [EntryMAC], [EntryAEAD],
// [EntryDecrypter], [EntryExporter], ...), and runs them where the key lives: inside the token
// for an HSM store. Stores may also generate ([Generator]), import ([Importer]) and delete
// ([Deleter]) entries, and tell a Provider when entries change ([Notifier]).
// Package secrets/storekit holds what only store implementations need: the Entry of a key held
// in process memory, key generation, notification bookkeeping.
//
// # The Provider
//
// A [Mapping] gives the aliases of one secret id, for some purposes ([Purpose]: [Encrypt],
// [Decrypt], [Sign], [Verify], [Generic]), in one store or in every store. [NewProvider] takes
// the stores and mappings; [Provider.Active] returns the key to encrypt or sign with: the first
// alias of the first mapping, in store order. [Provider.Valid] returns every key that may
// decrypt or verify, active first. Both return a [*Secret], which carries the entry, its store
// and alias, and context-first operations ([Secret.Sign], [Secret.MAC], [Secret.Seal],
// [Secret.Decrypt], ...) with crypto.Signer and crypto.Decrypter adapters. A Provider caches
// resolved entries for a lease ([ProviderOptions]) and is safe for concurrent use.
//
// # Rotation
//
// To rotate a key, add the new alias first in the mapping: new data is encrypted or signed
// with it at once, while data made under the old alias still decrypts and verifies, because the
// old alias stays valid. Remove the old alias once nothing uses it (package
// secrets/jsoncrypto re-encrypts $crypto values and tells when an alias may go).
//
// # Errors
//
// Errors wrap sentinels that callers test with errors.Is: [ErrNotFound], [ErrNoMapping],
// [ErrWrongKind], [ErrNotExtractable], [ErrWrongPIN], [ErrVerification], [ErrUnavailable] (a
// store that could not be reached: retry later, not a missing key), [ErrClosed], [ErrExists],
// [ErrReadOnly]. An error about one key is usually a [*KeyError] naming its store, alias,
// secret id and purpose. No error carries a PIN, a password, a property's value or key bytes.
//
// # Loading secrets.json
//
// [LoadConfig] reads IDM's conf/secrets.json into a [Config], expanding &{name|default}
// expressions from [Properties] (the environment by default; see [Layered] and
// [ReadPropertiesFile] for boot.properties). [Open] opens each store with the [Opener]
// registered for its class in [Openers] (filestore.Openers and hsmstore.NewOpener provide
// IDM's classes) and returns a Provider over them with the file's mappings; [IDMMappings]
// are IDM's default mappings for a store opened without a secrets.json.
//
// # Conventions
//
// Across this module, options and configuration structs ([ProviderOptions],
// jsoncrypto.Options, filestore.Config, hsmstore.Config, jwtsession.Config, ...) are passed
// by value, and their zero value means the documented defaults; a parsed document, such as
// the [*Config] LoadConfig returns, is a pointer. Writing stores take the same trailing
// overwrite flag for a generated and an imported key ([Generator], [Importer]): false fails
// with [ErrExists] when the alias is taken, true replaces the entry. Helpers that only store
// implementations need are in package secrets/storekit.
package secrets
