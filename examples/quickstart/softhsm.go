package main

import (
	"context"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsm"
	"github.com/secretstores/secretstores/secrets"
)

// newSoftHSM makes a throw-away SoftHSM2 token in a temporary directory, writes the SunPKCS11
// configuration IDM's HSM guide uses for it, and creates IDM's five default keys on it as
// the guide's keytool commands do (p11keytool idm-defaults does the same on any token).
func newSoftHSM(ctx context.Context, out io.Writer) (*hsmSetup, error) {
	module, err := softhsm.Module()
	if err != nil {
		return nil, fmt.Errorf("-softhsm needs SoftHSM2 (Debian: apt-get install softhsm2): %w", err)
	}
	dir, err := os.MkdirTemp("", "quickstart-softhsm-")
	if err != nil {
		return nil, err
	}
	old, had := os.LookupEnv("SOFTHSM2_CONF")
	cleanup := func() {
		os.RemoveAll(dir)
		if had {
			os.Setenv("SOFTHSM2_CONF", old)
		} else {
			os.Unsetenv("SOFTHSM2_CONF")
		}
	}
	fail := func(err error) (*hsmSetup, error) { cleanup(); return nil, err }
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return fail(err)
	}
	softConf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(softConf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return fail(err)
	}
	// SoftHSM reads SOFTHSM2_CONF when the module is first loaded in this process.
	os.Setenv("SOFTHSM2_CONF", softConf)
	pin, sopin, err := newPINs()
	if err != nil {
		return fail(err)
	}
	const label = "quickstart"
	// Through PKCS#11, not softhsm2-util: its --so-pin and --pin would put both PINs on a
	// command line, visible to every user in ps and /proc.
	if err := initToken(module, label, sopin, pin); err != nil {
		return fail(fmt.Errorf("initialising the SoftHSM token: %w", err))
	}
	// The SunPKCS11 file of IDM's HSM guide; the token is found by label (SoftHSM renumbers
	// slots), in a comment Java skips. Secret keys are extractable: IDM exports its HMAC and
	// $crypto keys.
	conf := filepath.Join(dir, "softhsm.cfg")
	text := "name = quickstart\nlibrary = " + module + "\n#secretstores: tokenLabel = " + label + "\n" +
		"attributes(*, CKO_SECRET_KEY, *) = {\n  CKA_EXTRACTABLE = true\n  CKA_SENSITIVE = false\n}\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return fail(err)
	}
	hs, err := hsmstore.OpenSunPKCS11(ctx, conf, pin)
	if err != nil {
		return fail(err)
	}
	defer hs.Close()
	st, ok := any(hs).(secrets.Generator)
	if !ok {
		return fail(errors.New("this build's hsmstore cannot generate keys (rebuild with cgo)"))
	}
	hmac := secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Algorithm: "HmacSHA256", Extractable: true}
	for _, k := range []struct {
		alias string
		spec  secrets.KeySpec
	}{
		{"openidm-sym-default", hmac},
		{"openidm-selfservice-key", hmac},
		{"openidm-jwtsessionhmac-key", hmac},
		{"openidm-localhost", secrets.KeySpec{Kind: secrets.KindRSA, Bits: 2048, Subject: pkix.Name{CommonName: "localhost", Organization: []string{"OpenIDM Self-Signed Certificate"}}}},
		{"selfservice", secrets.KeySpec{Kind: secrets.KindRSA, Bits: 2048, Subject: pkix.Name{CommonName: "selfservice", Organization: []string{"OpenIDM Self Service Certificate"}}}},
	} {
		if _, err := st.Generate(ctx, k.alias, k.spec, false); err != nil {
			return fail(err)
		}
	}
	fmt.Fprintf(out, "Created a throw-away SoftHSM token %q with IDM's five default keys (%s)\n", label, dir)
	return &hsmSetup{conf: conf, pin: pin, cleanup: cleanup}, nil
}

// newPINs returns a user PIN and an SO PIN, each 128 random bits (hex), drawn separately.
func newPINs() (user, so string, err error) {
	var u, s [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(s[:]); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(u[:]), hex.EncodeToString(s[:]), nil
}
