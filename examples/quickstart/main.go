// Command quickstart shows what secretstores does, on a fresh machine, in one command:
//
//	go run ./examples/quickstart
//
// It creates (or reuses) a PKCS#12 keystore holding IDM's default keys in a data directory it
// names, loads an IDM-style secrets.json (embedded), and then, with keys found by secret id
// and purpose as IDM finds them: encrypts and decrypts a config value ($crypto), signs and
// verifies a payload, issues and validates IDM's JWT session token, and rotates the config
// key with the old data still readable.
//
// The same run on an HSM:
//
//	go run ./examples/quickstart -softhsm                                # a throw-away SoftHSM token
//	go run ./examples/quickstart -pkcs11 softhsm.cfg -pin-env HSM_PIN    # your token (keys from p11keytool idm-defaults)
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/clilog"
	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/jsoncrypto"
)

// IDM's conf/secrets.json with the keystore and truststore as PKCS#12 files in the data
// directory, and its HSM variant (keys on the token, truststore still a file).
var (
	//go:embed secrets.json
	secretsJSON []byte
	//go:embed secrets-hsm.json
	secretsHSMJSON []byte
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", defaultDataDir(), "data `directory` for the keystore and truststore (created; reused on the next run)")
	pkcs11 := fs.String("pkcs11", "", "SunPKCS11 configuration `file`: keys on this token (create them with p11keytool idm-defaults)")
	pinEnv := fs.String("pin-env", "", "environment `variable` holding the token's user PIN (with -pkcs11)")
	pinFile := fs.String("pin-file", "", "`file` holding the token's user PIN (with -pkcs11)")
	softhsm := fs.Bool("softhsm", false, "run on a throw-away SoftHSM2 token with IDM's default keys (needs softhsm2)")
	verbose := fs.Bool("v", false, clilog.FlagUsage)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: quickstart [flags]

Runs IDM's secret-store model end to end: keys by secret id and purpose from an IDM-style
secrets.json, a $crypto config value encrypted and decrypted, a payload signed and verified,
a JWT session issued and validated, and a key rotation with old data still readable.
With no flags the keys live in a PKCS#12 keystore file in the data directory.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	clilog.SetVerbose(*verbose)
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "quickstart: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var err error
	switch {
	case *softhsm && *pkcs11 != "":
		err = errors.New("give -softhsm or -pkcs11, not both")
	case (*pinEnv != "" || *pinFile != "") && *pkcs11 == "":
		err = errors.New("-pin-env and -pin-file go with -pkcs11")
	case *pkcs11 != "" && *pinEnv == "" && *pinFile == "":
		err = errors.New("-pkcs11 needs the PIN: give -pin-env VAR or -pin-file FILE")
	case *pinEnv != "" && *pinFile != "":
		err = errors.New("give -pin-env or -pin-file, not both")
	}
	if err == nil {
		start := time.Now()
		ctx := context.Background()
		var hsm *hsmSetup
		switch {
		case *softhsm:
			hsm, err = newSoftHSM(ctx, stdout)
		case *pkcs11 != "":
			hsm, err = userToken(*pkcs11, *pinEnv, *pinFile)
		}
		if err == nil {
			if hsm != nil {
				defer hsm.cleanup()
			}
			err = quickstart(ctx, stdout, *data, hsm)
		}
		if err == nil {
			fmt.Fprintf(stdout, "\nDone in %s.\n", time.Since(start).Round(time.Millisecond))
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "quickstart:", err)
		return 1
	}
	return 0
}

func defaultDataDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "secretstores-quickstart")
	}
	return filepath.Join(os.TempDir(), "secretstores-quickstart")
}

// hsmSetup is the token the HSM variant uses: its SunPKCS11 configuration and PIN.
type hsmSetup struct {
	conf, pin string
	cleanup   func()
}

func userToken(conf, pinEnv, pinFile string) (*hsmSetup, error) {
	var pin string
	if pinEnv != "" {
		v, ok := os.LookupEnv(pinEnv)
		if !ok {
			return nil, fmt.Errorf("environment variable %s (-pin-env) is not set", pinEnv)
		}
		pin = v
	} else {
		b, err := os.ReadFile(pinFile)
		if err != nil {
			return nil, fmt.Errorf("-pin-file: %w", err)
		}
		pin = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	return &hsmSetup{conf: conf, pin: pin, cleanup: func() {}}, nil
}

func quickstart(ctx context.Context, out io.Writer, data string, hsm *hsmSetup) error {
	err := steps(ctx, out, data, hsm)
	if hsm != nil && errors.Is(err, secrets.ErrNotFound) {
		return fmt.Errorf("%w\n(create IDM's default keys on the token first: go run ./examples/p11keytool idm-defaults -providerArg %s -pin-env VAR)", err, hsm.conf)
	}
	return err
}

func steps(ctx context.Context, out io.Writer, data string, hsm *hsmSetup) error {
	data, err := filepath.Abs(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Data directory: %s (delete it to start over)\n", data)
	if err := os.MkdirAll(filepath.Join(data, "security"), 0o700); err != nil {
		return err
	}
	keystore := filepath.Join(data, "security", "keystore.p12")
	truststore := filepath.Join(data, "security", "truststore.p12")
	_, statErr := os.Stat(keystore)
	newKeystore := hsm == nil && errors.Is(statErr, os.ErrNotExist)

	// IDM's secrets.json, with &{...} expressions resolved from the environment first (as IDM
	// does: OPENIDM_KEYSTORE_PASSWORD for openidm.keystore.password), then our defaults.
	conf, props := secretsJSON, secrets.Layered(secrets.EnvProperties(), secrets.MapProperties(map[string]string{"idm.data.dir": data}))
	openers := filestore.Openers(filestore.OpenerOptions{})
	if hsm != nil {
		conf = secretsHSMJSON
		props = secrets.Layered(secrets.MapProperties(map[string]string{"openidm.keystore.password": hsm.pin}), props)
		openers[secrets.ClassHSM] = hsmstore.NewOpener(hsmstore.OpenerOptions{ConfigPath: hsm.conf})
	}
	cfg, err := secrets.ParseConfig(conf, props)
	if err != nil {
		return err
	}
	// IDM fills the truststore with the keystore's certificate; the opener wants the file.
	if err := ensurePKCS12(ctx, truststore, cfg); err != nil {
		return err
	}
	p, err := secrets.Open(ctx, cfg, openers, secrets.ProviderOptions{})
	if err != nil {
		return err
	}
	defer p.Close()
	where := map[string]string{}
	for _, st := range p.Stores() {
		where[st.Name()] = describeStore(st)
	}
	if newKeystore {
		fmt.Fprintf(out, "Created %s with IDM's default keys (populateDefaults): %s\n", keystore, strings.Join(filestore.DefaultAliases, ", "))
	} else if hsm == nil {
		fmt.Fprintf(out, "Reused %s\n", keystore)
	}
	if err := fillTruststore(ctx, p, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "Loaded secrets.json: mainKeyStore = %s, mainTrustStore = %s\n", where["mainKeyStore"], where["mainTrustStore"])
	served := func(s *secrets.Secret) string {
		return fmt.Sprintf("%s from %s (%s)", s.Alias(), s.Store(), where[s.Store()])
	}

	// 1. A config value encrypted as IDM does ($crypto, x-simple-encryption) and decrypted.
	fmt.Fprintln(out, "\n1. Encrypt a config value (idm.config.encryption, ENCRYPT)")
	enc, err := p.Active(ctx, "idm.config.encryption", secrets.Encrypt)
	if err != nil {
		return err
	}
	sealed, err := jsoncrypto.Encrypt(ctx, p, "idm.config.encryption", "Passw0rd")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   key %s\n   %s\n", served(enc), abbrev(sealed, 110))
	// The reader names the secret id the value must be for: a value naming another (say, a
	// key mapped only for JWT sessions) is refused.
	codec, err := jsoncrypto.New(p, jsoncrypto.Options{SecretIDs: []string{"idm.config.encryption"}})
	if err != nil {
		return err
	}
	plain, err := codec.DecryptString(ctx, sealed)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   decrypted with the key its stableId names: %q\n", plain)

	// 2. Sign and verify (HMAC-SHA256 where the key lives).
	fmt.Fprintln(out, "\n2. Sign and verify a payload (idm.jwt.session.module.signing, SIGN/VERIFY)")
	msg := []byte(`{"event":"quickstart"}`)
	sig, err := jsoncrypto.Sign(ctx, p, "idm.jwt.session.module.signing", msg)
	if err != nil {
		return err
	}
	if err := jsoncrypto.Verify(ctx, p, "idm.jwt.session.module.signing", sig, msg); err != nil {
		return err
	}
	if err := jsoncrypto.Verify(ctx, p, "idm.jwt.session.module.signing", sig, []byte(`{"event":"tampered"}`)); !errors.Is(err, secrets.ErrVerification) {
		return fmt.Errorf("a tampered payload verified: %v", err)
	}
	signer, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %s signature by %s verified; a tampered payload is refused\n", sig.Algorithm, served(signer))

	// 3. IDM's JWT session cookie: JWS HS256 around JWE RSA1_5/A128CBC-HS256.
	fmt.Fprintln(out, "\n3. Issue and validate IDM's JWT session token")
	m, err := jwtsession.New(p, jwtsession.Config{})
	if err != nil {
		return err
	}
	token, err := m.Issue(ctx, jwtsession.Claims{Principal: "openidm-admin"})
	if err != nil {
		return err
	}
	sess, err := m.Validate(ctx, token)
	if err != nil {
		return err
	}
	encKey, err := p.Active(ctx, jwtsession.DefaultEncryptionID, secrets.Encrypt)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %d-byte token for %q, valid until %s\n   signed with %s, encrypted for %s\n",
		len(token), sess.Principal, sess.Deadline().Format(time.Kitchen), served(signer), served(encKey))

	// 4. Rotation: a new key goes first in the mapping, the old one stays valid for DECRYPT.
	fmt.Fprintln(out, "\n4. Rotate the config key")
	const newAlias = "quickstart-rotated-key"
	gen, ok := p.Stores()[0].(secrets.Generator)
	if !ok {
		return fmt.Errorf("store %s cannot generate keys", p.Stores()[0].Name())
	}
	_, err = gen.Generate(ctx, newAlias, secrets.KeySpec{Kind: secrets.KindAES, Bits: 256, Extractable: true}, false)
	switch {
	case err == nil:
		fmt.Fprintf(out, "   generated %s (AES-256) in %s\n", newAlias, p.Stores()[0].Name())
	case errors.Is(err, secrets.ErrExists):
		fmt.Fprintf(out, "   reusing %s from an earlier run\n", newAlias)
	default:
		return err
	}
	rotated, err := secrets.NewProvider(p.Stores(), []secrets.Mapping{{
		Store: "mainKeyStore", SecretID: "idm.config.encryption",
		Types:   []secrets.Purpose{secrets.Encrypt, secrets.Decrypt},
		Aliases: []string{newAlias, enc.Alias()},
	}}, secrets.ProviderOptions{})

	if err != nil {
		return err
	}
	defer rotated.Close()
	rc, err := jsoncrypto.New(rotated, jsoncrypto.Options{SecretIDs: []string{"idm.config.encryption"}})
	if err != nil {
		return err
	}
	plain, err = rc.DecryptString(ctx, sealed)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   mapping aliases now [%s, %s]: data made under %s still decrypts: %q\n", newAlias, enc.Alias(), enc.Alias(), plain)
	doc := []byte(`{"password": ` + string(sealed) + `}`)
	doc, changes, err := rc.Reencrypt(ctx, doc)
	if err != nil {
		return err
	}
	for _, c := range changes {
		fmt.Fprintf(out, "   re-encrypted %s: %s -> %s\n", c.Pointer, c.OldAlias, c.NewAlias)
	}
	if err := jsoncrypto.CheckRetire(enc.Alias(), map[string][]byte{"conf/example.json": doc}); err != nil {
		return err
	}
	fmt.Fprintf(out, "   no document names %s any more: it may leave the mapping\n", enc.Alias())
	return nil
}

// ensurePKCS12 creates an empty PKCS#12 file for the truststore when it is missing.
func ensurePKCS12(ctx context.Context, path string, cfg *secrets.Config) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	pass := "changeit"
	for _, sc := range cfg.Stores {
		if sc.Name == "mainTrustStore" {
			if v, ok := sc.String("storePassword"); ok {
				pass = v
			}
		}
	}
	s, err := filestore.Open(ctx, path, filestore.Config{Password: pass, Type: filestore.PKCS12, Create: true})
	if err != nil {
		return err
	}
	return s.Close()
}

// fillTruststore puts openidm-localhost's certificate into the truststore, as IDM does.
func fillTruststore(ctx context.Context, p *secrets.Provider, out io.Writer) error {
	stores := p.Stores()
	if len(stores) < 2 {
		return nil
	}
	trust := stores[1]
	if _, err := trust.Entry(ctx, filestore.AliasLocalhost); err == nil {
		return nil
	}
	e, err := stores[0].Entry(ctx, filestore.AliasLocalhost)
	if err != nil {
		return err
	}
	imp, ok := trust.(secrets.Importer)
	if !ok {
		return nil
	}
	if _, err := imp.Import(ctx, filestore.AliasLocalhost, secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: e.Chain()[:1]}, false); err != nil {
		return err
	}
	fmt.Fprintf(out, "Put %s's certificate into the truststore\n", filestore.AliasLocalhost)
	return nil
}

func describeStore(st secrets.Store) string {
	switch s := st.(type) {
	case *filestore.Store:
		return "PKCS#12 file " + filepath.Base(s.Path())
	case interface{ TokenLabel() string }: // *hsmstore.Store
		return fmt.Sprintf("PKCS#11 token %q", s.TokenLabel())
	}
	return st.Name()
}

// abbrev shortens a JSON value for display.
func abbrev(v json.RawMessage, n int) string {
	s := string(v)
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
