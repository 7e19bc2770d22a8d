package secrets

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"strconv"
	"time"
)

// Purpose is what a secret is used for, named as in IDM's secrets.json "types".
type Purpose string

// The purposes of IDM's secrets.json.
const (
	Encrypt Purpose = "ENCRYPT" // active alias only
	Decrypt Purpose = "DECRYPT" // every alias valid
	Sign    Purpose = "SIGN"    // active alias only
	Verify  Purpose = "VERIFY"  // every alias valid
	Generic Purpose = "GENERIC" // a plain secret value, active alias only
)

// Valid reports whether p is one of the five purposes.
func (p Purpose) valid() bool {
	switch p {
	case Encrypt, Decrypt, Sign, Verify, Generic:
		return true
	}
	return false
}

// rotates reports whether every alias of a mapping is valid for p (DECRYPT, VERIFY), rather
// than only the first.
func (p Purpose) rotates() bool { return p == Decrypt || p == Verify }

// Kind is the kind of key an entry holds.
type Kind int

// Entry kinds.
const (
	KindUnknown     Kind = iota
	KindSecret           // a generic secret or HMAC key (Java "HmacSHA256", PKCS#11 CKK_GENERIC_SECRET)
	KindAES              // an AES key
	KindRSA              // an RSA private key, usually with a certificate chain
	KindEC               // an EC (ECDSA) private key, usually with a certificate chain
	KindCertificate      // a trusted certificate only: public key, no private key
)

var kindNames = [...]string{"unknown", "secret", "AES", "RSA", "EC", "certificate"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Symmetric reports whether k is a secret-key kind (KindSecret or KindAES).
func (k Kind) Symmetric() bool { return k == KindSecret || k == KindAES }

// Private reports whether k holds a private key (KindRSA or KindEC).
func (k Kind) Private() bool { return k == KindRSA || k == KindEC }

// A Store is a named source of key entries: a PKCS#11 token, a keystore file, a directory of
// key files. Stores are safe for concurrent use.
//
// Entry returns an error wrapping ErrNotFound when the alias does not exist, ErrClosed after
// Close, and ctx.Err() when ctx is done before the store is touched. Close is idempotent.
type Store interface {
	Name() string
	Entry(ctx context.Context, alias string) (Entry, error)
	Aliases(ctx context.Context) ([]string, error)
	Close() error
}

// An Entry is one key entry of a store. Every entry reports its alias and kind; its
// operations are in the optional interfaces EntrySigner, EntryDecrypter, EntryMAC,
// EntryAEAD and EntryExporter, which a *Secret calls. An entry is safe for concurrent use
// and stays usable after the store that returned it notices a change (a rotated key is a new
// Entry; the old one keeps its key or fails cleanly).
type Entry interface {
	Alias() string
	Kind() Kind
	// Chain returns the certificate chain, leaf first, or nil when the entry has none.
	Chain() []*x509.Certificate
	// Public returns the public key (from the key pair or the certificate), or nil for a
	// secret key.
	Public() crypto.PublicKey
}

// EntryAlgorithm is an Entry that knows the Java algorithm name of its key ("HmacSHA256",
// "AES", "RSA", "EC"), as keytool recorded it.
type EntryAlgorithm interface {
	Algorithm() string
}

// EntrySigner is an Entry holding a private key that signs digests (RSA PKCS#1 v1.5 when opts
// is a crypto.Hash, RSA-PSS when opts is *rsa.PSSOptions, ECDSA ASN.1 for EC keys).
type EntrySigner interface {
	Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// EntryDecrypter is an Entry holding an RSA private key that decrypts (PKCS#1 v1.5 when opts
// is nil or *rsa.PKCS1v15DecryptOptions, OAEP when *rsa.OAEPOptions).
type EntryDecrypter interface {
	Decrypt(ctx context.Context, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error)
}

// EntryMAC is an Entry holding a secret key that computes HMACs (crypto.SHA256, SHA384,
// SHA512). An entry may also implement VerifyMAC; otherwise the Secret compares in constant
// time.
type EntryMAC interface {
	MAC(ctx context.Context, h crypto.Hash, msg []byte) ([]byte, error)
}

// EntryMACVerifier is an EntryMAC that verifies tags itself (inside an HSM, say). It returns
// an error wrapping ErrVerification on a mismatch.
type EntryMACVerifier interface {
	VerifyMAC(ctx context.Context, h crypto.Hash, msg, tag []byte) error
}

// EntryAEAD is an Entry holding an AES key that seals with AES-GCM: a 12-byte random nonce,
// prepended to the ciphertext and 16-byte tag, exactly as
// cipher.AEAD.Seal(nonce, nonce, plaintext, aad) in crypto/cipher. Open returns an error
// wrapping ErrVerification when authentication fails.
type EntryAEAD interface {
	Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Open(ctx context.Context, sealed, aad []byte) ([]byte, error)
}

// EntryExporter is an Entry whose raw secret can leave the store. Export returns a fresh
// copy the caller may clear, or an error wrapping ErrNotExtractable that says which
// attributes to change.
type EntryExporter interface {
	Export(ctx context.Context) ([]byte, error)
}

// A KeySpec describes a key for a Generator to create.
type KeySpec struct {
	Kind Kind
	// Bits is the key size: 128, 192 or 256 for AES (default 256); at least 256 for KindSecret
	// (default 256); 2048, 3072 or 4096 for RSA (default 2048); 256, 384 or 521 for EC (the
	// curve P-256, P-384 or P-521; default 256).
	Bits int
	// Algorithm is the Java algorithm name recorded for a secret key where the store keeps one
	// ("HmacSHA256", "AES"); empty means the natural one for Kind.
	Algorithm string
	// Extractable lets the raw key leave the store (Export). Software stores always allow it;
	// an HSM store sets CKA_EXTRACTABLE=true and CKA_SENSITIVE=false. IDM needs it for the JWT
	// session HMAC key and the $crypto key.
	Extractable bool
	// Subject, NotBefore and NotAfter shape the self-signed certificate made for a key pair.
	// Zero NotBefore means now; zero NotAfter means NotBefore plus ten years.
	Subject   pkix.Name
	NotBefore time.Time
	NotAfter  time.Time
}

// A Generator is a Store that creates keys. Generate fails with an error wrapping ErrExists
// when the alias is taken and overwrite is false; with overwrite it replaces the entry, which
// survives a generation that fails.
type Generator interface {
	Generate(ctx context.Context, alias string, spec KeySpec, overwrite bool) (Entry, error)
}

// KeyMaterial is a key to import into a store.
type KeyMaterial struct {
	Kind Kind
	// Secret is the raw key for KindSecret and KindAES.
	Secret []byte
	// Algorithm is the Java algorithm name of a secret key ("HmacSHA256", "AES"); empty means
	// the natural one for Kind.
	Algorithm string
	// Private is the *rsa.PrivateKey or *ecdsa.PrivateKey for KindRSA and KindEC.
	Private crypto.PrivateKey
	// Chain is the certificate chain, leaf first, for KindRSA and KindEC (required by
	// keystore formats), or the one trusted certificate for KindCertificate.
	Chain []*x509.Certificate
	// Extractable: see KeySpec.Extractable.
	Extractable bool
}

// An Importer is a Store that accepts keys from outside. Import fails with an error wrapping
// ErrExists when the alias is taken and overwrite is false.
type Importer interface {
	Import(ctx context.Context, alias string, key KeyMaterial, overwrite bool) (Entry, error)
}

// A Deleter is a Store that removes entries. Delete wraps ErrNotFound when the alias is absent.
type Deleter interface {
	Delete(ctx context.Context, alias string) error
}

// A Change says which aliases of a store changed. Aliases nil means any alias may have changed
// (a keystore file reloaded, say).
type Change struct {
	Store   string
	Aliases []string
}

// A Notifier is a Store that tells subscribers when entries change, so a Provider evicts its
// cache at once. Subscribe returns a function that ends the subscription. Callbacks run on the
// store's goroutine and must not block.
type Notifier interface {
	Subscribe(func(Change)) (unsubscribe func())
}
