package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/secrets"
)

func cmdList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf tokenFlags
	fs := newFlagSet("list", "-providerArg <conf> [-alias <alias>] [-v] [-rfc]")
	tf.register(fs)
	alias := fs.String("alias", "", "list only this `alias`")
	fs.Lookup("v").Usage = "verbose: key kind, certificate subject, issuer, validity and fingerprint; and the library's informational log lines"
	verbose := &tf.verbose
	rfc := fs.Bool("rfc", false, "print certificates in PEM")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	st, err := tf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	aliases := []string{*alias}
	if *alias == "" {
		if aliases, err = st.Aliases(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Keystore type: PKCS11\nKeystore provider: %s\n\n", describe(st))
		s := "entries"
		if len(aliases) == 1 {
			s = "entry"
		}
		fmt.Fprintf(stdout, "Your keystore contains %d %s\n\n", len(aliases), s)
	}
	for _, a := range aliases {
		e, err := st.Entry(ctx, a)
		if err != nil {
			return err
		}
		if !*verbose && !*rfc {
			fmt.Fprintf(stdout, "%s, %s,\n", a, entryType(e.Kind()))
			if c := chainLeaf(e); c != nil {
				fmt.Fprintf(stdout, "Certificate fingerprint (SHA-256): %s\n", fingerprint(c))
			}
			continue
		}
		fmt.Fprintf(stdout, "Alias name: %s\nEntry type: %s\nKey kind: %s\n", a, entryType(e.Kind()), e.Kind())
		for i, c := range e.Chain() {
			fmt.Fprintf(stdout, "Certificate[%d]:\n", i+1)
			if *rfc {
				pem.Encode(stdout, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
				continue
			}
			fmt.Fprintf(stdout, "Owner: %s\nIssuer: %s\nSerial number: %x\nValid from: %s until: %s\nCertificate fingerprint (SHA-256): %s\nSignature algorithm name: %s\n",
				c.Subject, c.Issuer, c.SerialNumber, c.NotBefore.UTC().Format(time.UnixDate), c.NotAfter.UTC().Format(time.UnixDate), fingerprint(c), c.SignatureAlgorithm)
		}
		fmt.Fprintln(stdout, "\n*******************************************\n*******************************************")
	}
	return nil
}

func chainLeaf(e secrets.Entry) *x509.Certificate {
	if c := e.Chain(); len(c) > 0 {
		return c[0]
	}
	return nil
}

// fingerprint formats a certificate's SHA-256 fingerprint as keytool does.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// secretSpec turns keytool's -keyalg and -keysize for a secret key into a KeySpec.
func secretSpec(keyalg string, keysize int) (secrets.KeySpec, error) {
	switch strings.ToUpper(keyalg) {
	case "HMACSHA256", "HMACSHA384", "HMACSHA512", "GENERIC", "GENERICSECRET":
		if keysize < 256 || keysize%8 != 0 {
			return secrets.KeySpec{}, fmt.Errorf("-keysize %d: an HMAC key needs at least 256 bits, in whole bytes", keysize)
		}
		alg := keyalg
		if strings.HasPrefix(strings.ToUpper(keyalg), "GENERIC") {
			alg = ""
		}
		return secrets.KeySpec{Kind: secrets.KindSecret, Bits: keysize, Algorithm: alg}, nil
	case "AES":
		if keysize != 128 && keysize != 192 && keysize != 256 {
			return secrets.KeySpec{}, fmt.Errorf("-keysize %d: AES takes 128, 192 or 256", keysize)
		}
		return secrets.KeySpec{Kind: secrets.KindAES, Bits: keysize, Algorithm: "AES"}, nil
	}
	return secrets.KeySpec{}, fmt.Errorf("-keyalg %q: want HmacSHA256 (what IDM's procedure uses), HmacSHA384, HmacSHA512 or AES", keyalg)
}

func cmdGenseckey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf tokenFlags
	fs := newFlagSet("genseckey", "-providerArg <conf> -alias <alias> [-keyalg HmacSHA256|AES] [-keysize 256] [-extractable] [-overwrite]")
	tf.register(fs)
	alias := fs.String("alias", "", "`alias` of the new key (required)")
	keyalg := fs.String("keyalg", "HmacSHA256", "key `algorithm`: HmacSHA256 (a generic secret, as keytool stores it), HmacSHA384, HmacSHA512 or AES")
	keysize := fs.Int("keysize", 256, "key size in `bits`")
	extractable := fs.Bool("extractable", false, "make the key exportable (CKA_EXTRACTABLE=true, CKA_SENSITIVE=false), as IDM needs for its JWT session HMAC and $crypto keys; otherwise the configuration's attributes(...) templates decide")
	overwrite := fs.Bool("overwrite", false, "replace an existing entry of the alias (once the new key exists)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *alias == "" {
		return errors.New("-alias is required")
	}
	spec, err := secretSpec(*keyalg, *keysize)
	if err != nil {
		return err
	}
	spec.Extractable = *extractable
	st, err := tf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := generate(ctx, st, *alias, spec, *overwrite, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Generated %d-bit %s secret key %s on %s\n", *keysize, *keyalg, *alias, describe(st))
	return nil
}

// generate makes alias on the token. With overwrite an existing entry is replaced only once
// the new key exists, so a failed generation leaves the old one.
func generate(ctx context.Context, st token, alias string, spec secrets.KeySpec, overwrite bool, stderr io.Writer) error {
	kind := spec.Kind.String()
	if spec.Algorithm != "" {
		kind = spec.Algorithm
	}
	what := fmt.Sprintf("Generating %s %d-bit key for %s on the token", kind, bitsOf(spec), alias)
	return progress(stderr, what, func() error {
		var err error
		if overwrite {
			_, err = st.Generate(ctx, alias, spec, true)
		} else {
			_, err = st.Generate(ctx, alias, spec, false)
		}
		return existsHint(err, alias)
	})
}

func bitsOf(spec secrets.KeySpec) int {
	if spec.Bits != 0 {
		return spec.Bits
	}
	switch spec.Kind {
	case secrets.KindRSA:
		return 2048
	}
	return 256
}

func cmdGenkeypair(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf tokenFlags
	fs := newFlagSet("genkeypair", "-providerArg <conf> -alias <alias> -dname <dn> [-keyalg RSA|EC] [-keysize n] [-validity days] [-overwrite]")
	tf.register(fs)
	alias := fs.String("alias", "", "`alias` of the new entry (required)")
	keyalg := fs.String("keyalg", "RSA", "key `algorithm`: RSA or EC")
	keysize := fs.Int("keysize", 0, "key size in `bits`: RSA 2048 (default), 3072 or 4096; EC 256 (default), 384 or 521")
	dname := fs.String("dname", "", "certificate subject, as keytool writes it: `\"CN=localhost, O=OpenIDM Self-Signed Certificate\"` (default CN=<alias>)")
	validity := fs.Int("validity", 90, "certificate validity in `days` (keytool's default 90; IDM's procedure uses 3650)")
	overwrite := fs.Bool("overwrite", false, "replace an existing entry of the alias (once the new key exists)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *alias == "" {
		return errors.New("-alias is required")
	}
	spec, err := pairSpec(*keyalg, *keysize, *dname, *alias, *validity)
	if err != nil {
		return err
	}
	st, err := tf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := generate(ctx, st, *alias, spec, *overwrite, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Generated %s %d-bit key pair and self-signed certificate (%s, valid %d days) for %s on %s\n",
		spec.Kind, bitsOf(spec), spec.Subject, *validity, *alias, describe(st))
	return nil
}

func pairSpec(keyalg string, keysize int, dname, alias string, validity int) (secrets.KeySpec, error) {
	var spec secrets.KeySpec
	switch strings.ToUpper(keyalg) {
	case "RSA":
		spec.Kind = secrets.KindRSA
		if keysize == 0 {
			keysize = 2048
		}
		if keysize != 2048 && keysize != 3072 && keysize != 4096 {
			return spec, fmt.Errorf("-keysize %d: RSA takes 2048, 3072 or 4096", keysize)
		}
	case "EC":
		spec.Kind = secrets.KindEC
		if keysize == 0 {
			keysize = 256
		}
		if keysize != 256 && keysize != 384 && keysize != 521 {
			return spec, fmt.Errorf("-keysize %d: EC takes 256, 384 or 521 (P-256, P-384, P-521)", keysize)
		}
	default:
		return spec, fmt.Errorf("-keyalg %q: want RSA or EC", keyalg)
	}
	spec.Bits = keysize
	if validity <= 0 {
		return spec, fmt.Errorf("-validity %d: want a positive number of days", validity)
	}
	if dname == "" {
		dname = "CN=" + alias
	}
	subject, err := parseDN(dname)
	if err != nil {
		return spec, err
	}
	spec.Subject = subject
	spec.NotBefore = time.Now()
	spec.NotAfter = spec.NotBefore.AddDate(0, 0, validity)
	return spec, nil
}

// parseDN reads keytool's -dname: comma-separated KEY=value pairs (CN, OU, O, L, ST, C), with
// backslash escapes and double-quoted values.
func parseDN(s string) (pkix.Name, error) {
	var n pkix.Name
	var parts []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return n, fmt.Errorf("-dname %q: unclosed quote", s)
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return n, fmt.Errorf("-dname %q: %q is not KEY=value", s, strings.TrimSpace(p))
		}
		switch strings.ToUpper(k) {
		case "CN":
			n.CommonName = v
		case "OU":
			n.OrganizationalUnit = append(n.OrganizationalUnit, v)
		case "O":
			n.Organization = append(n.Organization, v)
		case "L":
			n.Locality = append(n.Locality, v)
		case "ST", "S":
			n.Province = append(n.Province, v)
		case "C":
			n.Country = append(n.Country, v)
		case "STREET":
			n.StreetAddress = append(n.StreetAddress, v)
		default:
			return n, fmt.Errorf("-dname %q: unknown attribute %q (want CN, OU, O, L, ST, C or STREET)", s, k)
		}
	}
	return n, nil
}

func cmdExportcert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf tokenFlags
	fs := newFlagSet("exportcert", "-providerArg <conf> -alias <alias> [-file out.cer] [-rfc]")
	tf.register(fs)
	alias := fs.String("alias", "", "`alias` whose certificate to export (required)")
	file := fs.String("file", "", "output `file` (default: standard output)")
	rfc := fs.Bool("rfc", false, "write PEM instead of DER")
	overwrite := fs.Bool("overwrite", false, "replace an existing -file")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *alias == "" {
		return errors.New("-alias is required")
	}
	if *file != "" && !*overwrite {
		if _, err := os.Stat(*file); err == nil {
			return fmt.Errorf("%s exists; add -overwrite to replace it", *file)
		}
	}
	st, err := tf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	der, err := st.ExportCertificate(ctx, *alias)
	if err != nil {
		return err
	}
	out := der
	if *rfc {
		out = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	if *file == "" {
		_, err := stdout.Write(out)
		return err
	}
	if err := os.WriteFile(*file, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Certificate stored in file <%s>\n", *file)
	return nil
}

// readCertificate reads a DER or PEM certificate file.
func readCertificate(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %q, want CERTIFICATE", path, blk.Type)
		}
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a DER or PEM certificate: %w", path, err)
	}
	return c, nil
}

func cmdImportcert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf tokenFlags
	fs := newFlagSet("importcert", "-alias <alias> -file <cert> (-keystore truststore.p12 | -providerArg <conf>) [-overwrite]")
	tf.register(fs)
	alias := fs.String("alias", "", "`alias` of the trusted certificate entry (required)")
	file := fs.String("file", "", "certificate `file`, DER or PEM (required)")
	keystore := fs.String("keystore", "", "PKCS#12 truststore `file` to import into (created when missing) instead of the token")
	var storepass secretFlags
	storepass.register(fs, "storepass", "the -keystore password")
	fs.Bool("noprompt", true, "accepted for keytool compatibility; p11keytool never asks whether to trust")
	overwrite := fs.Bool("overwrite", false, "replace an existing entry of the alias")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *alias == "" || *file == "" {
		return errors.New("-alias and -file are required")
	}
	cert, err := readCertificate(*file)
	if err != nil {
		return err
	}
	km := secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: []*x509.Certificate{cert}}
	if *keystore != "" {
		if tf.conf != "" || tf.uri != "" {
			return errors.New("give -keystore (a PKCS#12 file) or a token (-providerArg, -uri), not both")
		}
		pass, err := storepass.get("the truststore password")
		if err != nil {
			return err
		}
		if err := importIntoPKCS12(ctx, *keystore, pass, *alias, km, *overwrite); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Certificate was added to keystore %s as %s (%s)\n", *keystore, *alias, cert.Subject)
		return nil
	}
	st, err := tf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Import(ctx, *alias, km, *overwrite); err != nil {
		return existsHint(err, *alias)
	}
	fmt.Fprintf(stdout, "Certificate was added to %s as %s (%s)\n", describe(st), *alias, cert.Subject)
	fmt.Fprintln(stderr, "Note: CKA_TRUSTED is not set (that needs the SO PIN), so Java's keytool does not list this certificate; IDM's truststore is usually a PKCS#12 file (-keystore).")
	return nil
}

// importIntoPKCS12 imports km into the PKCS#12 file at path, creating it when missing.
func importIntoPKCS12(ctx context.Context, path, pass, alias string, km secrets.KeyMaterial, overwrite bool) error {
	ks, err := filestore.Open(ctx, path, filestore.Config{Password: pass, Type: filestore.PKCS12, Create: true})
	if err != nil {
		return err
	}
	defer ks.Close()
	if _, err := ks.Import(ctx, alias, km, overwrite); err != nil {
		return existsHint(err, alias)
	}
	return nil
}

func cmdImportkeystore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf tokenFlags
	fs := newFlagSet("importkeystore", "-srckeystore <file> -providerArg <conf> [-srcalias a [-destalias b]] [-overwrite]")
	tf.register(fs)
	src := fs.String("srckeystore", "", "source keystore `file`: PKCS12, JCEKS or JKS (required)")
	srctype := fs.String("srcstoretype", "", "source store `type` (PKCS12, JCEKS, JKS); default: detected from the content")
	var srcpass secretFlags
	srcpass.register(fs, "srcstorepass", "the source keystore password")
	srcalias := fs.String("srcalias", "", "import only this `alias`")
	destalias := fs.String("destalias", "", "the `alias` on the token for -srcalias (default: the same)")
	extractable := fs.Bool("extractable", false, "make imported secret keys exportable (CKA_EXTRACTABLE=true, CKA_SENSITIVE=false), as IDM needs for its JWT session HMAC and $crypto keys")
	overwrite := fs.Bool("overwrite", false, "replace entries of the same alias on the token")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *src == "" {
		return errors.New("-srckeystore is required")
	}
	if *destalias != "" && *srcalias == "" {
		return errors.New("-destalias needs -srcalias")
	}
	pass, err := srcpass.get("the source keystore password")
	if err != nil {
		return err
	}
	ks, err := filestore.Open(ctx, *src, filestore.Config{Password: pass, Type: filestore.Format(strings.ToUpper(*srctype))})
	if err != nil {
		return err
	}
	defer ks.Close()
	aliases := []string{*srcalias}
	if *srcalias == "" {
		if aliases, err = ks.Aliases(ctx); err != nil {
			return err
		}
	}
	st, err := tf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var ok, failed int
	for _, a := range aliases {
		dest := a
		if *destalias != "" {
			dest = *destalias
		}
		if err := importEntry(ctx, ks, st, a, dest, *extractable, *overwrite); err != nil {
			fmt.Fprintf(stderr, "Entry for alias %s not imported: %v\n", a, err)
			failed++
			continue
		}
		fmt.Fprintf(stdout, "Entry for alias %s successfully imported.\n", a)
		ok++
	}
	fmt.Fprintf(stdout, "Import command completed:  %d entries successfully imported, %d entries failed or cancelled\n", ok, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d entries not imported", failed, len(aliases))
	}
	return nil
}

// importEntry copies one entry of a keystore file onto the token.
func importEntry(ctx context.Context, ks *filestore.Store, st token, alias, dest string, extractable, overwrite bool) error {
	km, err := ks.KeyMaterial(ctx, alias)
	if err != nil {
		return err
	}
	defer clear(km.Secret)
	km.Extractable = extractable && km.Kind.Symmetric()
	_, err = st.Import(ctx, dest, km, overwrite)
	return existsHint(err, dest)
}

func cmdDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf tokenFlags
	fs := newFlagSet("delete", "-providerArg <conf> -alias <alias>")
	tf.register(fs)
	alias := fs.String("alias", "", "`alias` to delete (required)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *alias == "" {
		return errors.New("-alias is required")
	}
	st, err := tf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Delete(ctx, *alias); err != nil {
		if errors.Is(err, secrets.ErrNotFound) {
			return fmt.Errorf("alias <%s> does not exist", *alias)
		}
		return err
	}
	fmt.Fprintf(stdout, "Deleted %s from %s\n", *alias, describe(st))
	return nil
}
