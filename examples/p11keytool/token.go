package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/clilog"
	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
)

// tokenFlags select the token and its PIN; every command registers them.
type tokenFlags struct {
	conf     string
	uri      string
	library  string
	pin      secretFlags
	storepas string // refused: see check
	verbose  bool
}

func (t *tokenFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.conf, "providerArg", "", "SunPKCS11 configuration `file` (as keytool -providerArg)")
	fs.StringVar(&t.conf, "conf", "", "same as -providerArg")
	fs.StringVar(&t.uri, "uri", "", "RFC 7512 `pkcs11:` URI selecting module and token, instead of -providerArg")
	fs.StringVar(&t.library, "library", "", "PKCS#11 module `path` when the -uri has no module-path")
	t.pin.register(fs, "pin", "the token's user PIN")
	fs.StringVar(&t.storepas, "storepass", "", "not accepted: use -pin-env, -pin-file or the prompt")
	fs.BoolVar(&t.verbose, "v", false, clilog.FlagUsage)
}

// secretFlags name where a PIN or password comes from: an environment variable or a file;
// neither means a prompt on the terminal.
type secretFlags struct{ env, file string }

func (s *secretFlags) register(fs *flag.FlagSet, prefix, what string) {
	fs.StringVar(&s.env, prefix+"-env", "", "environment `variable` holding "+what)
	fs.StringVar(&s.file, prefix+"-file", "", "`file` holding "+what+" (one trailing newline is dropped)")
}

func (s *secretFlags) given() bool { return s.env != "" || s.file != "" }

// get returns the secret from the environment, the file, or a prompt for what.
func (s *secretFlags) get(what string) (string, error) {
	switch {
	case s.env != "" && s.file != "":
		return "", fmt.Errorf("give %s by environment variable or file, not both", what)
	case s.env != "":
		v, ok := os.LookupEnv(s.env)
		if !ok {
			return "", fmt.Errorf("environment variable %s (%s) is not set", s.env, what)
		}
		return v, nil
	case s.file != "":
		st, err := os.Stat(s.file)
		if err != nil {
			return "", fmt.Errorf("%s file: %w", what, err)
		}
		if st.Size() > 4096 {
			return "", fmt.Errorf("%s file %s: %d bytes, too large for a PIN or password", what, s.file, st.Size())
		}
		b, err := os.ReadFile(s.file)
		if err != nil {
			return "", fmt.Errorf("%s file: %w", what, err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		return string(b), nil
	}
	return promptSecret("Enter " + what + ": ")
}

// promptSecret reads a line from the terminal without echo; tests replace it.
var promptSecret = readSecretTTY

// token is what p11keytool needs of an *hsmstore.Store (an interface, so that a build without
// cgo, whose hsmstore only opens with an error, still compiles).
type token interface {
	secrets.Store
	secrets.Generator
	secrets.Importer
	secrets.Deleter
	CanGenerate(ctx context.Context, spec secrets.KeySpec) error
	ExportCertificate(ctx context.Context, alias string) ([]byte, error)
	TokenLabel() string
	TokenSerial() string
}

// openToken opens the token the flags select and logs in.
func (t *tokenFlags) open(ctx context.Context) (token, error) {
	if t.storepas != "" {
		return nil, errors.New("-storepass with a value is not accepted: a PIN on the command line shows in ps and shell history; use -pin-env VAR, -pin-file FILE or the prompt")
	}
	switch {
	case t.conf == "" && t.uri == "":
		return nil, errors.New("no token: give -providerArg <SunPKCS11 config file> or -uri <pkcs11: URI>")
	case t.conf != "" && t.uri != "":
		return nil, errors.New("give -providerArg or -uri, not both")
	}
	var cfg hsmstore.Config
	if t.conf != "" {
		pc, err := pkcs11conf.ParseFile(t.conf)
		if err != nil {
			return nil, err
		}
		cfg = hsmstore.ConfigFromSunPKCS11(pc)
		cfg.Name = pc.ProviderName()
	} else {
		if !strings.HasPrefix(strings.ToLower(t.uri), "pkcs11:") {
			// Not quoted: a mistyped URI may still hold a pin-value.
			return nil, errors.New("-uri: not a pkcs11: URI")
		}
		if uriAttr(t.uri, "pin-value") {
			return nil, errors.New("-uri with a pin-value is not accepted: a PIN on the command line shows in ps and shell history; use the URI's pin-source, -pin-env VAR, -pin-file FILE or the prompt")
		}
		cfg = hsmstore.Config{URI: t.uri, Library: t.library}
	}
	if t.pin.given() || !uriAttr(t.uri, "pin-source") {
		pin, err := t.pin.get("the token's user PIN")
		if err != nil {
			return nil, err
		}
		cfg.PIN = pin
	}
	st, err := hsmstore.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tok, ok := any(st).(token)
	if !ok {
		st.Close()
		return nil, errors.New("this build's hsmstore cannot manage keys (rebuild with cgo)")
	}
	return tok, nil
}

// uriAttr reports whether the pkcs11: URI u has the attribute name, in its path or its
// query, spelled in any case (as hsmstore reads it).
func uriAttr(u, name string) bool {
	rest := u[min(len(u), len("pkcs11:")):]
	for _, attr := range strings.FieldsFunc(rest, func(r rune) bool { return r == ';' || r == '?' || r == '&' }) {
		if k, _, ok := strings.Cut(attr, "="); ok && strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// describe names the token for output.
func describe(st token) string {
	return fmt.Sprintf("%s (token %q, serial %s)", st.Name(), st.TokenLabel(), st.TokenSerial())
}

// progress runs f, telling w what is happening; after a second it prints a dot per second,
// so a slow step (an RSA 4096 key pair on a real HSM) does not look like a hang.
func progress(w io.Writer, what string, f func() error) error {
	fmt.Fprintf(w, "%s ...", what)
	start := time.Now()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprint(w, ".")
			}
		}
	}()
	err := f()
	close(done)
	<-stopped
	if err != nil {
		fmt.Fprintln(w, " failed")
		return err
	}
	fmt.Fprintf(w, " done (%s)\n", time.Since(start).Round(10*time.Millisecond))
	return nil
}

// entryType names a kind as keytool -list does.
func entryType(k secrets.Kind) string {
	switch {
	case k.Symmetric():
		return "SecretKeyEntry"
	case k.Private():
		return "PrivateKeyEntry"
	case k == secrets.KindCertificate:
		return "trustedCertEntry"
	}
	return "unknown entry type"
}

// existsHint turns ErrExists into the message telling how to overwrite.
func existsHint(err error, alias string) error {
	if errors.Is(err, secrets.ErrExists) {
		return fmt.Errorf("alias %s already exists; add -overwrite to replace it", alias)
	}
	return err
}

// parseFlags parses args, printing errors and usage to stderr.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "p11keytool %s: unexpected argument %q (flags start with -)\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	if v := fs.Lookup("v"); v != nil {
		clilog.SetVerbose(v.Value.String() == "true")
	}
	return nil
}

// newFlagSet returns a FlagSet whose usage line says what the command does.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: p11keytool %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}
