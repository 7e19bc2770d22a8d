// Package filestore serves keys from files as [secrets.Store] implementations: Java keystore
// files ([Store]: PKCS12 read and write, JCEKS and JKS read only, detected by content) and key
// directories like IDM's FileSystemStore ([DirStore]).
//
// Keystore files interoperate with JDK 17's keytool both ways, secret keys included: files
// keytool writes open here, and files written here are listed by keytool and read by Java
// with the same key bytes. PKCS#12 is written with Java 17's defaults (PBES2 with
// PBKDF2-HMAC-SHA256 and AES-256-CBC, HMAC-SHA256 MAC, 10000 iterations) and read with the
// legacy algorithms too (PBE-SHA1-3DES, RC2-40, SHA-1 MAC), in DER or BER (NSS, Windows and
// Bouncy Castle files). The integrity MAC or checksum is verified before anything in a file is
// used (a PKCS#12 file without a MAC opens only with [Config].AllowNoMAC); a wrong password is
// an error wrapping [secrets.ErrWrongPIN]. As in Java, one entry that cannot be decoded (a DSA
// key, a certificate on a curve Go does not parse, another key password) fails alone: it is
// listed, and Entry returns a [*secrets.KeyError] wrapping [errors.ErrUnsupported] (naming the
// algorithm or curve) or [secrets.ErrWrongPIN]. Other formats (BKS, UBER, BCFKS, PEM) are
// named in the error with the command that converts them. JCEKS and JKS files are never
// written: convert them with [ConvertToPKCS12] or keytool -importkeystore. Every reader has
// size and iteration limits ([MaxFileSize], [MaxIterations]) and returns errors rather than
// panicking; no error carries a password or key bytes. The JCEKS and JKS readers are written
// from the formats as keytool writes them (keytool-made fixtures, checked against Java's own
// dump of them), not translated from the JDK's source.
//
// [NewOpener] and [Openers] plug the keystore classes of IDM's secrets.json
// (KeyStoreSecretStore, FileBasedStore) into secrets.Open, populateDefaults included.
package filestore

import (
	"time"

	"github.com/secretstores/secretstores/secrets"
)

// Format is a keystore file format.
type Format string

// Keystore formats, named as Java's KeyStore.getInstance and IDM's "storetype" name them.
const (
	PKCS12 Format = "PKCS12" // read and write
	JCEKS  Format = "JCEKS"  // read only
	JKS    Format = "JKS"    // read only
)

// decoded is one entry read from a keystore file, whatever its format. Material.Kind says
// which fields are set: Secret and Algorithm for KindSecret/KindAES; Private and Chain (leaf
// first) for KindRSA/KindEC; the one trusted certificate in Chain for KindCertificate.
type decoded struct {
	Alias    string
	Created  time.Time
	Material secrets.KeyMaterial

	// key, for a PKCS#12 key entry, is its bag still encrypted: Material holds only the
	// chain until (*p12Key).decrypt fills in the rest on first use. nil for other formats.
	key *p12Key
	// localKeyID links a PKCS#12 key bag to its certificate; nil for other formats.
	localKeyID []byte
	// err, when set, is why the entry cannot be served (a key of an unsupported algorithm, a
	// certificate Go cannot parse, another key password): Entry and KeyMaterial return it,
	// the rest of the store works. Material still holds what is known (the chain's DER).
	err error
}
