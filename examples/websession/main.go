// Command websession is a small web application that keeps its login session in IDM's
// session-jwt cookie (package jwtsession), with the keys in a PKCS#12 keystore file by default
// or on a PKCS#11 token (an HSM) with -pkcs11.
//
//	go run ./examples/websession                  # then open http://127.0.0.1:8080/
//	go run ./examples/websession -pkcs11 softhsm.cfg -pin-env HSM_PIN
//
// Pages: / (the login form), POST /login, /whoami (needs the session; refreshes the cookie by
// IDM's rule), POST /logout (revokes the session on the server, not only the cookie). POST
// requests from another site are refused (http.CrossOriginProtection). The server listens on
// the loopback interface only: the cookie is sent without the Secure attribute, which is only
// right for plain-HTTP development.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/clilog"
	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
)

// secretsJSON maps IDM's two JWT session secret ids onto the keystore file, as IDM's own
// conf/secrets.json does; populateDefaults creates the keys on the first run.
//
//go:embed secrets.json
var secretsJSON []byte

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run serves until interrupted; tests use serve with their own context.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr, nil)
}

type options struct {
	addr, data, user        string
	passwordEnv             string
	storePassEnv            string
	pkcs11, pinEnv, pinFile string
	idle, maxLife, refresh  time.Duration
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(url string)) int {
	var o options
	fs := flag.NewFlagSet("websession", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "loopback `address` to listen on (port 0 picks a free one)")
	fs.StringVar(&o.data, "data", "websession-data", "`directory` of the keystore file keystore.p12 (created with IDM's default keys when missing)")
	fs.StringVar(&o.storePassEnv, "storepass-env", "OPENIDM_KEYSTORE_PASSWORD", "environment `variable` holding the keystore password (unset: IDM's default \"changeit\")")
	fs.StringVar(&o.pkcs11, "pkcs11", "", "SunPKCS11 configuration `file`: use the keys on this token instead of the keystore file (make them with p11keytool idm-defaults)")
	fs.StringVar(&o.pinEnv, "pin-env", "", "environment `variable` holding the token's user PIN (with -pkcs11)")
	fs.StringVar(&o.pinFile, "pin-file", "", "`file` holding the token's user PIN (with -pkcs11)")
	fs.StringVar(&o.user, "user", "demo", "the one user `name` that may log in")
	fs.StringVar(&o.passwordEnv, "password-env", "WEBSESSION_PASSWORD", "environment `variable` holding the user's password (unset: a random one, printed at start)")
	fs.DurationVar(&o.idle, "idle", jwtsession.DefaultIdleTimeout, "session idle timeout (IDM's tokenIdleTime)")
	fs.DurationVar(&o.maxLife, "max-life", jwtsession.DefaultMaxLife, "session maximum life (IDM's maxTokenLife)")
	fs.DurationVar(&o.refresh, "refresh-after", jwtsession.DefaultRefreshAfter, "re-issue the cookie when the token is older than this (IDM: one minute)")
	verbose := fs.Bool("v", false, clilog.FlagUsage)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: websession [flags]

A web application whose login session lives in IDM's session-jwt cookie: a JWS (HS256, key
idm.jwt.session.module.signing) around a JWE (RSA1_5 + A128CBC-HS256, key
idm.jwt.session.module.encryption). Open the printed address, log in, and /whoami shows the
session and which store's keys made it.

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
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "websession: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	clilog.SetVerbose(*verbose)
	if err := serveErr(ctx, o, stdout, ready); err != nil {
		fmt.Fprintln(stderr, "websession:", err)
		return 1
	}
	return 0
}

func serveErr(ctx context.Context, o options, stdout io.Writer, ready func(string)) error {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", o.addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %q: listen on a loopback address (127.0.0.1): the cookie is sent over plain HTTP", o.addr)
	}
	if (o.pinEnv != "" || o.pinFile != "") && o.pkcs11 == "" {
		return errors.New("-pin-env and -pin-file go with -pkcs11")
	}
	password, generated := os.Getenv(o.passwordEnv), false
	if password == "" {
		b := make([]byte, 12)
		rand.Read(b)
		password, generated = base64.RawURLEncoding.EncodeToString(b), true
	}

	p, closeStores, where, err := openProvider(ctx, o)
	if err != nil {
		return err
	}
	defer closeStores()
	revoked := newRevocations()
	cfg := jwtsession.Config{
		Revoked:      revoked.check,
		IdleTimeout:  o.idle,
		MaxLife:      o.maxLife,
		RefreshAfter: o.refresh,
		Cookie:       jwtsession.CookieConfig{Insecure: true},
		// On an HSM, HMAC inside the token: the key need not be extractable.
		MACInStore: o.pkcs11 != "",
	}
	m, err := jwtsession.New(p, cfg)
	if err != nil {
		return err
	}
	app := &app{m: m, p: p, user: o.user, where: where, pwHash: sha256.Sum256([]byte(password)), revoked: revoked}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(stdout, "websession: keys from %s\nwebsession: listening on %s\n", where, url)
	if generated {
		fmt.Fprintf(stdout, "websession: log in as %q with password %s (set $%s to choose one)\n", o.user, password, o.passwordEnv)
	} else {
		fmt.Fprintf(stdout, "websession: log in as %q with the password in $%s\n", o.user, o.passwordEnv)
	}
	srv := &http.Server{Handler: app.routes(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(url)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Fprintln(stdout, "websession: shutting down")
	return srv.Shutdown(shut)
}

// openProvider opens the keystore file (creating IDM's default keys in it when missing) or,
// with -pkcs11, the token, and returns a Provider with IDM's JWT session mappings, a function
// that closes it and its stores, and where the keys are.
func openProvider(ctx context.Context, o options) (*secrets.Provider, func(), string, error) {
	if o.pkcs11 != "" {
		if o.pinEnv == "" && o.pinFile == "" {
			return nil, nil, "", errors.New("-pkcs11 needs the PIN: give -pin-env VAR or -pin-file FILE")
		}
		pc, err := pkcs11conf.ParseFile(o.pkcs11)
		if err != nil {
			return nil, nil, "", err
		}
		hc := hsmstore.ConfigFromSunPKCS11(pc)
		hc.Name, hc.PINEnv, hc.PINFile = pc.ProviderName(), o.pinEnv, o.pinFile
		if o.pinEnv != "" {
			if _, ok := os.LookupEnv(o.pinEnv); !ok {
				return nil, nil, "", fmt.Errorf("environment variable %s (-pin-env) is not set", o.pinEnv)
			}
		}
		st, err := hsmstore.Open(ctx, hc)
		if err != nil {
			return nil, nil, "", err
		}
		p, err := secrets.NewProvider([]secrets.Store{st}, secrets.IDMMappings(st.Name()), secrets.ProviderOptions{})
		if err != nil {
			st.Close()
			return nil, nil, "", err
		}
		return p, func() { p.Close(); st.Close() }, "the PKCS#11 token " + describeToken(st), nil
	}
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return nil, nil, "", err
	}
	pass := os.Getenv(o.storePassEnv)
	if pass == "" {
		pass = "changeit"
	}
	dataAbs, err := filepath.Abs(o.data)
	if err != nil {
		return nil, nil, "", err
	}
	props := secrets.MapProperties(map[string]string{"websession.data.dir": dataAbs, "openidm.keystore.password": pass})
	cfg, err := secrets.ParseConfig(secretsJSON, props)
	if err != nil {
		return nil, nil, "", err
	}
	p, err := secrets.Open(ctx, cfg, filestore.Openers(filestore.OpenerOptions{}), secrets.ProviderOptions{})
	if err != nil {
		return nil, nil, "", err
	}
	return p, func() { p.Close() }, "the PKCS#12 keystore " + filepath.Join(dataAbs, "keystore.p12"), nil
}

// describeToken names the token of an *hsmstore.Store.
func describeToken(st secrets.Store) string {
	if t, ok := st.(interface{ TokenLabel() string }); ok {
		return fmt.Sprintf("%q (%s)", t.TokenLabel(), st.Name())
	}
	return st.Name()
}
