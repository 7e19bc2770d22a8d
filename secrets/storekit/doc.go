// Package storekit is for those who implement a [secrets.Store]: the helpers a store needs and
// its users do not. Applications use package secrets (the [secrets.Provider], [*secrets.Secret],
// the SPI interfaces it defines); a store, as packages filestore, hsmstore and
// secretstest.MemoryStore are, uses secrets and storekit.
//
//   - [NewSoftwareEntry] is the [secrets.Entry] of a key held in process memory, with the
//     operations its kind allows; [GenerateKeyMaterial] makes such a key as a
//     [secrets.KeySpec] describes, and [SelfSignedCertificate] the certificate keytool makes
//     for a key pair.
//   - [Subscribers] is the bookkeeping behind [secrets.Notifier].
//   - [CheckDigest] and [CheckMACHash] are the argument checks every store applies before
//     signing or computing a MAC, so that every store refuses the same inputs with the same
//     errors; [GCMNonceSize] is the nonce length of the output of [secrets.EntryAEAD]'s Seal.
//
// The SPI interfaces themselves ([secrets.Store], [secrets.Entry] and the optional
// capabilities) stay in package secrets, beside the Provider that calls them, as the
// contract both sides share.
package storekit
