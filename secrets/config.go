package secrets

import (
	"context"
)

// Store class names of IDM's secrets.json ("class"), for Openers.
const (
	ClassFileBased  = "org.forgerock.openidm.secrets.config.FileBasedStore"      // IDM 7.0–7.4 keystore file
	ClassKeyStore   = "org.forgerock.openidm.secrets.config.KeyStoreSecretStore" // IDM 7.5+ keystore file
	ClassHSM        = "org.forgerock.openidm.secrets.config.HsmBasedStore"       // PKCS#11 token
	ClassFileSystem = "org.forgerock.openidm.secrets.config.FileSystemStore"     // directory of key files
)

// Config is a loaded secrets.json: the stores in file order, with every &{...} expression
// resolved.
type Config struct {
	Stores []StoreConfig
	// PopulateDefaults asks keystore-file openers to create IDM's default keys that are missing.
	PopulateDefaults bool
}

// StoreConfig is one entry of secrets.json's "stores".
type StoreConfig struct {
	Name  string
	Class string
	// Settings is the store's "config" object without "mappings", expressions resolved
	// (strings stay strings unless wrapped in $int, $bool, ...).
	Settings map[string]any
	// Mappings are the store's mappings; their Store field is Name.
	Mappings []Mapping
	// PopulateDefaults is the file's top-level populateDefaults.
	PopulateDefaults bool
	// Dir is the directory of the secrets.json file, against which openers resolve relative
	// paths; "" for a config not read from a file.
	Dir string
}

// String returns the string setting key, or "" and false when absent or not a string.
func (sc *StoreConfig) String(key string) (string, bool) {
	v, ok := sc.Settings[key].(string)
	return v, ok
}

// An Opener opens the store described by sc. Openers are passed to Open explicitly, keyed by
// class name; each captures the environment its class needs (a java.security file, a PIN
// source). The returned store is closed by the Provider's Close.
type Opener func(ctx context.Context, sc *StoreConfig) (Store, error)

// Openers maps store class names (ClassHSM, ...) to openers.
type Openers map[string]Opener

// A Mapping names the aliases of one secret id in one store. Store "" means every store, in
// the order given to NewProvider. The first alias is active (ENCRYPT, SIGN, GENERIC); every
// alias is valid (DECRYPT, VERIFY), active first.
type Mapping struct {
	Store    string
	SecretID string
	Types    []Purpose
	Aliases  []string
}
