package hsmstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
)

// ConfigFromSunPKCS11 turns a parsed SunPKCS11 configuration into a Config: its library,
// its token (the tokenLabel/tokenSerial extensions when given, else slot, else
// slotListIndex, as the JDK selects it), its init arguments (nssArgs) and its attribute
// templates. The PIN is not part of a SunPKCS11 configuration (Java passes it as the
// keystore password): set Config.PIN.
//
// NSS mode (nssLibraryDirectory, nssSecmodDirectory, nssModule, nssDbMode) loads NSS's
// softokn (libsoftokn3.so in nssLibraryDirectory) with the init arguments the JDK gives it
// for that database, and selects the slot nssModule names: "keystore" (the database token,
// the default with a database) or "crypto" (the crypto services slot, the default without).
// Modules of the NSS module database (nssModule "external") and FIPS mode are not
// supported: Open then fails naming nssModule.
func ConfigFromSunPKCS11(pc *pkcs11conf.Config) Config {
	cfg := Config{Name: pc.ProviderName(), Library: pc.Library, InitArgs: pc.NSSArgs}
	switch {
	case pc.TokenLabel != "":
		cfg.TokenLabel = pc.TokenLabel
	case pc.TokenSerial != "":
		cfg.TokenSerial = pc.TokenSerial
	case pc.NSSUseSecmod:
		nssMode(pc, &cfg)
	case pc.SlotID >= 0:
		id := uint(pc.SlotID)
		cfg.SlotID = &id
	default:
		i := pc.EffectiveSlotListIndex()
		cfg.SlotListIndex = &i
	}
	cfg.Templates = append([]pkcs11conf.AttributeRule(nil), pc.Attributes...)
	return cfg
}

// NSS softokn's fixed slot IDs.
const (
	nssCryptoSlot   = 1 // "NSS Generic Crypto Services"
	nssKeystoreSlot = 2 // "NSS Certificate DB"
)

// nssMode sets cfg's library, init arguments and slot for a SunPKCS11 configuration in NSS
// mode, as the JDK's Secmod does for softokn.
func nssMode(pc *pkcs11conf.Config, cfg *Config) {
	if pc.NSSLibraryDirectory != "" {
		cfg.Library = filepath.Join(pc.NSSLibraryDirectory, "libsoftokn3.so")
	}
	dir, mode := pc.NSSSecmodDirectory, pc.NSSDbMode
	if dir == "" {
		mode = "noDb"
	}
	module := pc.NSSModule
	if module == "" {
		module = "keystore"
		if mode == "noDb" {
			module = "crypto"
		}
	}
	var flags []string
	switch mode {
	case "readOnly":
		flags = append(flags, "readOnly")
	case "noDb":
		flags = append(flags, "noCertDB", "noModDB", "forceOpen", "optimizeSpace")
	}
	if mode != "noDb" {
		if !strings.Contains(dir, ":") {
			dir = "sql:" + dir
		}
		cfg.InitArgs = "configdir='" + dir + "' certPrefix='' keyPrefix='' secmod='secmod.db' flags=" + strings.Join(flags, ",")
	} else {
		cfg.InitArgs = "configdir='' certPrefix='' keyPrefix='' secmod='' flags=" + strings.Join(flags, ",")
	}
	var id uint
	switch module {
	case "keystore":
		id = nssKeystoreSlot
	case "crypto":
		id = nssCryptoSlot
	default:
		// An impossible slot list index: Open fails, naming it.
		cfg.Library = ""
		cfg.nssUnsupported = module
		return
	}
	cfg.SlotID = &id
}

// OpenSunPKCS11 opens the token of the SunPKCS11 configuration file confPath (the file
// given to keytool with -providerArg, or named in java.security) with pin, the keystore
// password Java would use. The store is named after the provider ("SunPKCS11-<name>").
// Errors: those of pkcs11conf.ParseFile (a *pkcs11conf.ParseError with file and line) and
// of Open.
func OpenSunPKCS11(ctx context.Context, confPath, pin string) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pc, err := pkcs11conf.ParseFile(confPath)
	if err != nil {
		return nil, fmt.Errorf("hsmstore: %w", err)
	}
	cfg := ConfigFromSunPKCS11(pc)
	cfg.PIN = pin
	return Open(ctx, cfg)
}

// OpenerOptions say where the opener for IDM's HsmBasedStore finds SunPKCS11 configurations.
type OpenerOptions struct {
	// ConfigPath is a SunPKCS11 configuration file used for every HsmBasedStore, whatever
	// its providerName. When "", providerName is looked up in JavaSecurity.
	ConfigPath string
	// JavaSecurity are java.security files read in order and merged, as the JDK merges its
	// master file with -Djava.security.properties=<file>. Empty means the JDK's master file
	// (pkcs11conf.MasterJavaSecurity).
	JavaSecurity []string
	// Properties resolves ${name} in the configurations, before the built-in Java system
	// properties; nil means the built-ins only.
	Properties func(name string) (string, bool)
	// MaxSessions and PoolWaitTimeout are passed on in Config.
	MaxSessions     int
	PoolWaitTimeout time.Duration
}

// NewOpener returns the secrets.Opener for IDM's HsmBasedStore (secrets.ClassHSM): it reads
// "providerName" (SunPKCS11-<name>) and "storePassword" (the user PIN, already resolved from
// &{...} by secrets.LoadConfig) from the store's config, finds the provider's SunPKCS11
// configuration in the java.security files (or uses opts.ConfigPath), and opens the token.
// The store is named after the secrets.json store (mainKeyStore, mainTrustStore); both
// usually share one connection. A relative ConfigPath or java.security path is resolved
// against the secrets.json directory.
func NewOpener(opts OpenerOptions) secrets.Opener {
	return func(ctx context.Context, sc *secrets.StoreConfig) (secrets.Store, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if st, ok := sc.String("storetype"); ok && st != "" && st != "PKCS11" {
			return nil, fmt.Errorf("hsmstore: store %s: storetype %q: an HsmBasedStore needs PKCS11", sc.Name, st)
		}
		pin, _ := sc.String("storePassword")
		providerName, _ := sc.String("providerName")
		var pc *pkcs11conf.Config
		var err error
		popts := pkcs11conf.Options{Properties: opts.Properties}
		rel := func(p string) string {
			if p != "" && !filepath.IsAbs(p) && sc.Dir != "" {
				return filepath.Join(sc.Dir, p)
			}
			return p
		}
		if opts.ConfigPath != "" {
			pc, err = pkcs11conf.ParseFile(rel(opts.ConfigPath))
		} else {
			if providerName == "" {
				return nil, fmt.Errorf("hsmstore: store %s: no providerName (SunPKCS11-<name>) and no ConfigPath", sc.Name)
			}
			files := make([]string, 0, len(opts.JavaSecurity))
			for _, f := range opts.JavaSecurity {
				files = append(files, rel(f))
			}
			if len(files) == 0 {
				m, err := pkcs11conf.MasterJavaSecurity()
				if err != nil {
					return nil, fmt.Errorf("hsmstore: store %s: %w", sc.Name, err)
				}
				files = []string{m}
			}
			var js *pkcs11conf.JavaSecurity
			js, err = pkcs11conf.ReadJavaSecurity(files...)
			if err == nil {
				js.Options.Properties = popts.Properties
				pc, err = js.Lookup(providerName)
				if errors.Is(err, pkcs11conf.ErrNotFound) {
					err = fmt.Errorf("%w (%w)", err, secrets.ErrNotFound)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("hsmstore: store %s: %w", sc.Name, err)
		}
		cfg := ConfigFromSunPKCS11(pc)
		cfg.Name = sc.Name
		cfg.PIN = pin
		cfg.MaxSessions = opts.MaxSessions
		cfg.PoolWaitTimeout = opts.PoolWaitTimeout
		s, err := Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}
