package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
)

// idmKey is one of IDM's five default entries, as PingIDM's HSM procedure creates them with
// keytool: three 256-bit HmacSHA256 secret keys and two RSA key pairs.
type idmKey struct {
	alias string
	spec  secrets.KeySpec
	dname string
}

func idmKeys(rsaBits, validity int) ([]idmKey, error) {
	hmac := secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Algorithm: "HmacSHA256", Extractable: true}
	keys := []idmKey{
		{alias: "openidm-sym-default", spec: hmac},
		{alias: "openidm-selfservice-key", spec: hmac},
		{alias: "openidm-jwtsessionhmac-key", spec: hmac},
		{alias: "openidm-localhost", dname: "CN=localhost, O=OpenIDM Self-Signed Certificate"},
		{alias: "selfservice", dname: "CN=selfservice, O=OpenIDM Self Service Certificate"},
	}
	for i := range keys {
		if keys[i].dname == "" {
			continue
		}
		spec, err := pairSpec("RSA", rsaBits, keys[i].dname, keys[i].alias, validity)
		if err != nil {
			return nil, err
		}
		keys[i].spec = spec
	}
	return keys, nil
}

func cmdIDMDefaults(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf tokenFlags
	fs := newFlagSet("idm-defaults", "-providerArg <conf> [-out dir] [-keysize 2048] [-overwrite | -keep-existing]")
	tf.register(fs)
	out := fs.String("out", "idm-hsm", "`directory` for truststore.p12, secrets.json, java.security and localhost.pem (created when missing)")
	keysize := fs.Int("keysize", 2048, "RSA key size in `bits` of openidm-localhost and selfservice: 2048 (IDM's), 3072 or 4096")
	validity := fs.Int("validity", 3650, "certificate validity in `days`")
	var storepass secretFlags
	storepass.register(fs, "storepass", "the truststore password (default: IDM's \"changeit\"; the truststore holds certificates only)")
	overwrite := fs.Bool("overwrite", false, "replace existing default entries on the token and existing files in -out")
	keep := fs.Bool("keep-existing", false, "keep default entries already on the token and create only the missing ones, as IDM's populateDefaults does")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *overwrite && *keep {
		return errors.New("give -overwrite or -keep-existing, not both")
	}
	if tf.conf == "" {
		return errors.New("idm-defaults writes IDM's secrets.json, whose HsmBasedStore names a SunPKCS11 provider: give -providerArg <SunPKCS11 config file>")
	}
	pc, err := pkcs11conf.ParseFile(tf.conf)
	if err != nil {
		return err
	}
	confAbs, err := filepath.Abs(tf.conf)
	if err != nil {
		return err
	}
	keys, err := idmKeys(*keysize, *validity)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	files := map[string]string{
		"truststore": filepath.Join(dir, "truststore.p12"),
		"secrets":    filepath.Join(dir, "secrets.json"),
		"security":   filepath.Join(dir, "java.security"),
		"cert":       filepath.Join(dir, "localhost.pem"),
	}
	if !*overwrite {
		var exist []string
		for _, f := range files {
			if _, err := os.Stat(f); err == nil {
				exist = append(exist, f)
			}
		}
		if len(exist) > 0 {
			return fmt.Errorf("%s already exist(s); add -overwrite to replace, or choose another -out", strings.Join(exist, ", "))
		}
	}
	trustPass := "changeit"
	if storepass.given() {
		if trustPass, err = storepass.get("the truststore password"); err != nil {
			return err
		}
	}

	st, err := tf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "Token: %s\n", describe(st))

	// Refuse before changing anything when default aliases exist and nothing says what to do.
	present := map[string]bool{}
	for _, k := range keys {
		_, err := st.Entry(ctx, k.alias)
		switch {
		case err == nil:
			present[k.alias] = true
		case !errors.Is(err, secrets.ErrNotFound):
			return err
		}
	}
	// Check that the token can hold what IDM needs before writing anything: tpm2-pkcs11 has no
	// C_GenerateKey, NSS softokn keeps every secret key sensitive (IDM must export the
	// openidm-sym-default and JWT session keys).
	for _, k := range keys {
		if present[k.alias] && *keep {
			continue
		}
		if err := st.CanGenerate(ctx, k.spec); err != nil {
			return fmt.Errorf("this token cannot hold IDM's %s (%s); nothing was written: %w", k.alias, describeSpec(k.spec), err)
		}
	}
	if len(present) > 0 && !*overwrite && !*keep {
		var names []string
		for _, k := range keys {
			if present[k.alias] {
				names = append(names, k.alias)
			}
		}
		return fmt.Errorf("the token already holds %s; add -keep-existing to keep them and create the rest, or -overwrite to replace them", strings.Join(names, ", "))
	}
	for _, k := range keys {
		if present[k.alias] && *keep {
			fmt.Fprintf(stdout, "  %-28s kept (already on the token)\n", k.alias)
			continue
		}
		if err := generate(ctx, st, k.alias, k.spec, *overwrite, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  %-28s %s\n", k.alias, describeSpec(k.spec))
	}

	// The procedure's last keytool steps: export openidm-localhost's certificate and import it
	// into the truststore.
	der, err := st.ExportCertificate(ctx, "openidm-localhost")
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(files["cert"], pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	if *overwrite {
		os.Remove(files["truststore"])
	}
	km := secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{cert}}
	if err := importIntoPKCS12(ctx, files["truststore"], trustPass, "openidm-localhost", km, false); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Exported openidm-localhost's certificate to %s and into the PKCS#12 truststore %s\n", files["cert"], files["truststore"])

	if err := os.WriteFile(files["secrets"], hsmSecretsJSON(pc.ProviderName(), files["truststore"]), 0o644); err != nil {
		return err
	}
	security := "# Add to the JDK's java.security (or pass -Djava.security.properties=<this file>).\n" +
		"# JDK 17 defines providers 1-12 and stops reading at the first gap: 13 is the next number\n" +
		"# (IDM's documentation shows 14, which JDK 17 ignores).\n" +
		"security.provider.13=SunPKCS11 " + confAbs + "\n"
	if err := os.WriteFile(files["security"], []byte(security), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s (mainKeyStore on %s) and %s\n", files["secrets"], pc.ProviderName(), files["security"])
	fmt.Fprintf(stdout, `
Next, for IDM: copy secrets.json to conf/, add the java.security line to the JDK's java.security,
and start IDM with the PIN in OPENIDM_KEYSTORE_PASSWORD and
  openidm.truststore.location=%s (boot.properties)
`, files["truststore"])
	return nil
}

func describeSpec(spec secrets.KeySpec) string {
	if spec.Kind == secrets.KindSecret {
		return fmt.Sprintf("%d-bit %s secret key, extractable (IDM exports it)", spec.Bits, spec.Algorithm)
	}
	return fmt.Sprintf("RSA %d key pair, certificate %s", spec.Bits, spec.Subject)
}

// hsmSecretsJSON is IDM's conf/secrets.json for an HSM, as PingIDM's HSM guide writes it: the
// keys in an HsmBasedStore on the SunPKCS11 provider (storePassword = the user PIN, from the
// OPENIDM_KEYSTORE_PASSWORD environment variable), the truststore a PKCS#12 file, and
// populateDefaults off, since IDM cannot generate keys on a token.
func hsmSecretsJSON(provider, truststore string) []byte {
	q := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	return []byte(`{
    "stores": [
        {
            "name": "mainKeyStore",
            "class": "org.forgerock.openidm.secrets.config.HsmBasedStore",
            "config": {
                "providerName": "&{openidm.keystore.provider|` + strings.Trim(q(provider), `"`) + `}",
                "storetype": "&{openidm.keystore.type|PKCS11}",
                "storePassword": "&{openidm.keystore.password}",
                "mappings": [
                    {"secretId": "idm.default", "types": ["ENCRYPT", "DECRYPT"], "aliases": ["&{openidm.config.crypto.alias|openidm-sym-default}"]},
                    {"secretId": "idm.config.encryption", "types": ["ENCRYPT", "DECRYPT"], "aliases": ["&{openidm.config.crypto.alias|openidm-sym-default}"]},
                    {"secretId": "idm.password.encryption", "types": ["ENCRYPT", "DECRYPT"], "aliases": ["&{openidm.config.crypto.alias|openidm-sym-default}"]},
                    {"secretId": "idm.jwt.session.module.encryption", "types": ["ENCRYPT", "DECRYPT"], "aliases": ["&{openidm.https.keystore.cert.alias|openidm-localhost}"]},
                    {"secretId": "idm.jwt.session.module.signing", "types": ["SIGN", "VERIFY"], "aliases": ["&{openidm.config.crypto.jwtsession.hmackey.alias|openidm-jwtsessionhmac-key}"]},
                    {"secretId": "idm.selfservice.encryption", "types": ["ENCRYPT", "DECRYPT"], "aliases": ["selfservice"]},
                    {"secretId": "idm.selfservice.signing", "types": ["SIGN", "VERIFY"], "aliases": ["&{openidm.config.crypto.selfservice.sharedkey.alias|openidm-selfservice-key}"]}
                ]
            }
        },
        {
            "name": "mainTrustStore",
            "class": "org.forgerock.openidm.secrets.config.FileBasedStore",
            "config": {
                "file": "&{openidm.truststore.location|` + strings.Trim(q(truststore), `"`) + `}",
                "storetype": "&{openidm.truststore.type|PKCS12}",
                "providerName": "&{openidm.truststore.provider|SUN}",
                "storePassword": "&{openidm.truststore.password|changeit}",
                "mappings": []
            }
        }
    ],
    "populateDefaults": false
}
`)
}
