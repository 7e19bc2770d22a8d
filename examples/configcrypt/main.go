// Command configcrypt encrypts, decrypts and re-encrypts the "$crypto" values of a JSON
// configuration file (IDM's conf/*.json), with the keys IDM's secrets.json maps, leaving
// every other byte of the file as it was.
//
//	configcrypt encrypt   -keystore keystore.p12 -pointer /password conf/sync.json
//	configcrypt decrypt   -keystore keystore.p12 conf/sync.json
//	configcrypt reencrypt -keystore keystore.p12 -aliases new-key,openidm-sym-default -w conf/sync.json
//	configcrypt scan      conf/sync.json
//
// Keys come from a keystore file (-keystore: PKCS12, JCEKS or JKS, with IDM's default
// mappings) or from IDM's secrets.json (-secrets, any store class, HSM included).
//
// It reads a user's own IDM project: a value may name any secret id the mappings give for
// DECRYPT (jsoncrypto.Options.SecretIDs), and values in the pre-2016 form, which
// authenticates nothing, are read (jsoncrypto.Options.AllowLegacy) and reported as legacy,
// so that reencrypt can move them to the authenticated form. json-crypto's asymmetric form,
// which anyone with the public key can make, is read only with -allow-asymmetric.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/clilog"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/jsoncrypto"

	"github.com/secretstores/secretstores/internal/atomicfile"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

const usageText = `Usage: configcrypt <command> [flags] <file.json>

Commands:
  encrypt    encrypt the values at -pointer (RFC 6901, repeatable) with the active key of -secret-id
  decrypt    replace every encrypted value by its plaintext
  reencrypt  re-encrypt values not under the active key of their secret id (after a rotation)
  scan       list the $crypto values and the keys they name (needs no keys)

Keys (encrypt, decrypt, reencrypt):
  -keystore FILE       a PKCS12, JCEKS or JKS keystore, with IDM's default mappings
                       (idm.config.encryption etc. -> openidm-sym-default); password from
                       -storepass-env VAR (default: IDM's "changeit")
  -secrets FILE        IDM's conf/secrets.json; &{...} from the environment and -props FILE;
                       HsmBasedStore through -pkcs11 FILE (SunPKCS11 config) or java.security
  -aliases A,B         the aliases of -secret-id, active first: to rotate, put the new one first

A value may name any secret id mapped for DECRYPT. Legacy values (pre-2016: no MAC, not
authenticated) are read and reported as legacy; reencrypt rewrites them in the MAC'd form.
  -allow-asymmetric    also read json-crypto's asymmetric form (an RSA-wrapped session key):
                       it is not authenticated, anyone with the public key can make one

Output goes to standard output, or back into the file with -w (atomically).
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usageText)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd := args[0]
	switch cmd {
	case "encrypt", "decrypt", "reencrypt", "scan":
	default:
		fmt.Fprintf(stderr, "configcrypt: unknown command %q\n\n%s", cmd, usageText)
		return 2
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText+"\nFlags:\n"); fs.PrintDefaults() }
	keystore := fs.String("keystore", "", "keystore `file` (PKCS12, JCEKS, JKS)")
	storepassEnv := fs.String("storepass-env", "", "environment `variable` holding the -keystore password (default: \"changeit\")")
	secretsFile := fs.String("secrets", "", "IDM's secrets.json `file`")
	props := fs.String("props", "", "boot.properties-style `file` resolving &{...} in -secrets (after the environment)")
	pkcs11 := fs.String("pkcs11", "", "SunPKCS11 configuration `file` for an HsmBasedStore in -secrets")
	secretID := fs.String("secret-id", "idm.config.encryption", "secret `id` to encrypt with (encrypt)")
	var pointers listFlag
	fs.Var(&pointers, "pointer", "JSON `pointer` of a value to encrypt (repeatable; encrypt)")
	aliases := fs.String("aliases", "", "comma-separated `aliases` of -secret-id, active first (overrides the mapping)")
	inPlace := fs.Bool("w", false, "write the result back into the file instead of standard output")
	allowAsym := fs.Bool("allow-asymmetric", false, "read json-crypto's asymmetric form (not authenticated: anyone with the public key can make one)")
	verbose := fs.Bool("v", false, clilog.FlagUsage)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	clilog.SetVerbose(*verbose)
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "configcrypt %s: want exactly one JSON file, have %d arguments\n", cmd, fs.NArg())
		return 2
	}
	file := fs.Arg(0)
	err := func() error {
		doc, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if cmd == "scan" {
			refs, err := jsoncrypto.Scan(doc)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			for _, r := range refs {
				id := r.Info.SecretID
				if id == "" {
					id = jsoncrypto.DefaultSecretID + " (default)"
				}
				fmt.Fprintf(stdout, "%s\t%s\talias %s\tsecret id %s%s\n", r.Pointer, r.Info.Type, r.Info.Alias, id, formNote(r.Info))
			}
			return nil
		}
		if cmd == "encrypt" && len(pointers) == 0 {
			return errors.New("encrypt needs at least one -pointer (like /password)")
		}
		ctx := context.Background()
		p, decryptIDs, closeAll, err := openKeys(ctx, *keystore, *storepassEnv, *secretsFile, *props, *pkcs11, *secretID, *aliases)
		if err != nil {
			return err
		}
		defer closeAll()
		// The user's own files: every secret id mapped for DECRYPT, and legacy values.
		c, err := jsoncrypto.New(p, jsoncrypto.Options{SecretIDs: decryptIDs, AllowLegacy: true, AllowAsymmetric: *allowAsym})
		if err != nil {
			return err
		}
		notes := map[string]string{} // pointer -> what is unauthenticated about the value
		if cmd != "encrypt" {
			refs, err := jsoncrypto.Scan(doc)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			for _, r := range refs {
				notes[r.Pointer] = formNote(r.Info)
			}
		}
		var changes []jsoncrypto.Change
		switch cmd {
		case "encrypt":
			doc, changes, err = c.EncryptDocument(ctx, doc, *secretID, pointers...)
		case "decrypt":
			doc, changes, err = c.DecryptDocument(ctx, doc)
		case "reencrypt":
			doc, changes, err = c.Reencrypt(ctx, doc)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, ch := range changes {
			fmt.Fprintf(stderr, "%s %s (%s)%s%s\n", ch.Action, ch.Pointer, ch.SecretID, aliasChange(ch), notes[ch.Pointer])
		}
		if !*inPlace {
			_, err := stdout.Write(doc)
			return err
		}
		return writeAtomic(file, doc)
	}()
	if err != nil {
		fmt.Fprintf(stderr, "configcrypt %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// formNote marks a value in a form that authenticates nothing.
func formNote(info jsoncrypto.Info) string {
	switch {
	case info.Legacy:
		return "\tlegacy (pre-2016, no MAC: not authenticated; reencrypt it)"
	case info.Asymmetric:
		return "\tasymmetric (RSA-wrapped key: not authenticated)"
	}
	return ""
}

func aliasChange(ch jsoncrypto.Change) string {
	switch {
	case ch.OldAlias != "" && ch.NewAlias != "":
		return ": " + ch.OldAlias + " -> " + ch.NewAlias
	case ch.NewAlias != "":
		return ": key " + ch.NewAlias
	case ch.OldAlias != "":
		return ": key " + ch.OldAlias
	}
	return ""
}

// openKeys returns a Provider over the -keystore or -secrets keys, with -aliases applied to
// secretID, the secret ids its mappings give for DECRYPT, and a function that closes what it
// opened.
func openKeys(ctx context.Context, keystore, storepassEnv, secretsFile, props, pkcs11, secretID, aliases string) (*secrets.Provider, []string, func(), error) {
	p, mappings, closeAll, err := openProvider(ctx, keystore, storepassEnv, secretsFile, props, pkcs11, secretID, aliases)
	if err != nil {
		return nil, nil, nil, err
	}
	var ids []string
	for _, m := range mappings {
		if slices.Contains(m.Types, secrets.Decrypt) && !slices.Contains(ids, m.SecretID) {
			ids = append(ids, m.SecretID)
		}
	}
	return p, ids, closeAll, nil
}

// openProvider is openKeys, returning the mappings instead of the secret ids.
func openProvider(ctx context.Context, keystore, storepassEnv, secretsFile, props, pkcs11, secretID, aliases string) (*secrets.Provider, []secrets.Mapping, func(), error) {
	var stores []secrets.Store
	var mappings []secrets.Mapping
	var closeAll func()
	switch {
	case keystore != "" && secretsFile != "":
		return nil, nil, nil, errors.New("give -keystore or -secrets, not both")
	case keystore != "":
		pass := "changeit"
		if storepassEnv != "" {
			v, ok := os.LookupEnv(storepassEnv)
			if !ok {
				return nil, nil, nil, fmt.Errorf("environment variable %s (-storepass-env) is not set", storepassEnv)
			}
			pass = v
		}
		ks, err := filestore.Open(ctx, keystore, filestore.Config{Password: pass, Name: "mainKeyStore"})
		if err != nil {
			return nil, nil, nil, err
		}
		stores, mappings, closeAll = []secrets.Store{ks}, secrets.IDMMappings(ks.Name()), func() { ks.Close() }
	case secretsFile != "":
		layers := []secrets.Properties{secrets.EnvProperties()}
		if props != "" {
			pp, err := secrets.ReadPropertiesFile(props)
			if err != nil {
				return nil, nil, nil, err
			}
			layers = append(layers, pp)
		}
		cfg, err := secrets.LoadConfig(secretsFile, secrets.Layered(layers...))
		if err != nil {
			return nil, nil, nil, err
		}
		openers := filestore.Openers(filestore.OpenerOptions{})
		openers[secrets.ClassFileSystem] = filestore.DirOpener(filestore.DirConfig{})
		if pkcs11 != "" {
			if pkcs11, err = filepath.Abs(pkcs11); err != nil {
				return nil, nil, nil, err
			}
		}
		openers[secrets.ClassHSM] = hsmstore.NewOpener(hsmstore.OpenerOptions{ConfigPath: pkcs11})
		cfg.PopulateDefaults = false // never create keys while rewriting a file
		p, err := secrets.Open(ctx, cfg, openers, secrets.ProviderOptions{})
		if err != nil {
			return nil, nil, nil, err
		}
		for _, sc := range cfg.Stores {
			mappings = append(mappings, sc.Mappings...)
		}
		if aliases == "" {
			return p, mappings, func() { p.Close() }, nil
		}
		stores = p.Stores()
		closeAll = func() { p.Close() }
	default:
		return nil, nil, nil, errors.New("no keys: give -keystore <file> or -secrets <secrets.json>")
	}
	if aliases != "" {
		list := strings.Split(aliases, ",")
		for i := range list {
			if list[i] = strings.TrimSpace(list[i]); list[i] == "" {
				closeAll()
				return nil, nil, nil, fmt.Errorf("-aliases %q: empty alias", aliases)
			}
		}
		kept := mappings[:0]
		for _, m := range mappings {
			if m.SecretID != secretID {
				kept = append(kept, m)
			}
		}
		mappings = append(kept, secrets.Mapping{Store: stores[0].Name(), SecretID: secretID,
			Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: list})
	}
	p, err := secrets.NewProvider(stores, mappings, secrets.ProviderOptions{})
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return p, mappings, func() { p.Close(); closeAll() }, nil
}

// writeAtomic replaces path with data: a temporary file in the same directory, renamed over it.
func writeAtomic(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, st.Mode().Perm())
}
