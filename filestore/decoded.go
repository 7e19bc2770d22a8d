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
}
