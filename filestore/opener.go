package filestore

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/secretstores/secretstores/secrets"
)

// OpenerOptions configures NewOpener. The zero value opens without watching and makes
// 256-bit AES keys when populating defaults.
type OpenerOptions struct {
	// AESBits is DefaultsOptions.AESBits for populateDefaults (0 = 256, or 128).
	AESBits int
	// Watch is Config.Watch: how often to check the file for changes; 0 = never.
	Watch time.Duration
}

// NewOpener returns the secrets.Opener of IDM's keystore-file store classes
// (secrets.ClassKeyStore, secrets.ClassFileBased). It reads the store's settings "file"
// (required; relative to StoreConfig.Dir), "storetype" (PKCS12, JCEKS or JKS; absent =
// detect by content), "storePassword" and "keyPassword" (optional, = storePassword);
// "providerName" is accepted and ignored except that a SunPKCS11 provider is refused. With
// populateDefaults a missing PKCS12 file is created and IDM's missing default keys are
// generated (PopulateDefaults) — except in the store named "mainTrustStore", which gets, as
// in IDM, the certificate of openidm-localhost from the keystore this opener opened before it
// (secrets.json lists mainKeyStore first), when it lacks one.
//
// Errors: a missing or non-string setting names the store and the setting; storetype
// PKCS11 points to package hsmstore; otherwise Open's and PopulateDefaults' errors.
func NewOpener(o OpenerOptions) secrets.Opener {
	var mu sync.Mutex
	var localhost *x509.Certificate // openidm-localhost's certificate, for the truststore
	return func(ctx context.Context, sc *secrets.StoreConfig) (secrets.Store, error) {
		str := func(key string) (string, error) {
			v, ok := sc.Settings[key]
			if !ok || v == nil {
				return "", nil
			}
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("filestore: store %s: setting %q is a %T, want a string", sc.Name, key, v)
			}
			return s, nil
		}
		file, err := str("file")
		if err != nil {
			return nil, err
		}
		if file == "" {
			return nil, fmt.Errorf("filestore: store %s: setting \"file\" is missing: name the keystore file", sc.Name)
		}
		if !filepath.IsAbs(file) && sc.Dir != "" {
			file = filepath.Join(sc.Dir, file)
		}
		storetype, err := str("storetype")
		if err != nil {
			return nil, err
		}
		provider, err := str("providerName")
		if err != nil {
			return nil, err
		}
		typ := Format(strings.ToUpper(storetype))
		switch {
		case typ == "PKCS11" || strings.HasPrefix(provider, "SunPKCS11"):
			return nil, fmt.Errorf("filestore: store %s: storetype PKCS11 is an HSM: use package hsmstore (class %s)", sc.Name, secrets.ClassHSM)
		case typ != "" && typ != PKCS12 && typ != JCEKS && typ != JKS:
			return nil, fmt.Errorf("filestore: store %s: storetype %s: %w (PKCS12, JCEKS or JKS)", sc.Name, storetype, errors.ErrUnsupported)
		}
		pw, err := str("storePassword")
		if err != nil {
			return nil, err
		}
		kp, err := str("keyPassword")
		if err != nil {
			return nil, err
		}
		trust := sc.Name == "mainTrustStore"
		mu.Lock()
		cert := localhost
		mu.Unlock()
		populate := sc.PopulateDefaults && (!trust || cert != nil)
		cfg := Config{Password: pw, KeyPassword: kp, Name: sc.Name, Type: typ, Watch: o.Watch,
			Create: populate && typ != JCEKS && typ != JKS}
		s, err := Open(ctx, file, cfg)
		if err != nil {
			return nil, err
		}
		switch {
		case populate && trust:
			if _, err := s.Entry(ctx, AliasLocalhost); !errors.Is(err, secrets.ErrNotFound) {
				break // present (or unreadable: Entry will say so when asked)
			}
			if _, err := s.Import(ctx, AliasLocalhost, secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{cert}}, false); err != nil && !errors.Is(err, secrets.ErrExists) {
				s.Close()
				return nil, err
			}
		case populate:
			if _, err := s.PopulateDefaults(ctx, DefaultsOptions{AESBits: o.AESBits}); err != nil {
				s.Close()
				return nil, err
			}
		}
		if !trust {
			if e, err := s.Entry(ctx, AliasLocalhost); err == nil && len(e.Chain()) > 0 {
				mu.Lock()
				localhost = e.Chain()[0]
				mu.Unlock()
			}
		}
		return s, nil
	}
}

// Openers returns NewOpener(o) for both of IDM's keystore-file classes, ready to merge into
// the secrets.Openers given to secrets.Open.
func Openers(o OpenerOptions) secrets.Openers {
	op := NewOpener(o)
	return secrets.Openers{secrets.ClassKeyStore: op, secrets.ClassFileBased: op}
}
