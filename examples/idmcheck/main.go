// Command idmcheck checks an IDM deployment's secrets, keystores and HSM before IDM starts:
//
//	idmcheck -project /opt/openidm [-java-security FILE] [-user idm] [-json]
//
// It reads the project as IDM lays it out (conf/secrets.json, resolver/boot.properties,
// conf/authentication.json, the keystores under security/, the java.security the JVM uses and
// the SunPKCS11 configurations it names), resolves &{...} expressions from the environment
// and boot.properties as IDM does, opens every store (with at most one login per token), and
// checks mappings, IDM's key rules, certificates, every $crypto value in conf/*.json and the
// session module. Each check prints ✓, ⚠ or ✗ with what was found, and every ✗ the command
// or configuration line that fixes it. No password, PIN, property value or key byte is
// printed. Exit status: 0 all ✓, 1 warnings, 2 errors (or bad usage). On an HSM it writes
// nothing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/secretstores/secretstores/internal/clilog"
)

// options are the command line.
type options struct {
	project      string
	secretsJSON  string
	boot         string
	auth         string
	confDir      string
	javaSecurity []string
	pkcs11       string
	user         string
	jsonOut      bool
	now          time.Time
	warnWithin   time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stdout)))
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func run(args []string, stdout, stderr io.Writer, colour bool) int {
	var o options
	fs := flag.NewFlagSet("idmcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.project, "project", ".", "IDM project `directory` (holds conf/, resolver/, security/)")
	fs.StringVar(&o.secretsJSON, "secrets", "", "secrets.json `file` (default <project>/conf/secrets.json)")
	fs.StringVar(&o.boot, "boot", "", "boot.properties `file` (default <project>/resolver/boot.properties)")
	fs.StringVar(&o.auth, "auth", "", "authentication.json `file` (default <project>/conf/authentication.json)")
	fs.StringVar(&o.confDir, "conf", "", "`directory` whose *.json files are scanned for $crypto values (default <project>/conf)")
	var js listFlag
	fs.Var(&js, "java-security", "java.security `file` IDM's JVM reads (repeat: the JDK's own, then -Djava.security.properties=...); default: the JDK's when an HSM store needs it")
	fs.StringVar(&o.pkcs11, "pkcs11", "", "SunPKCS11 configuration `file` for every HsmBasedStore, instead of looking the provider up in java.security")
	fs.StringVar(&o.user, "user", "", "`user` (name or uid) IDM runs as, for file permission checks (default: the project directory's owner)")
	fs.BoolVar(&o.jsonOut, "json", false, "write the report as JSON")
	verbose := fs.Bool("v", false, clilog.FlagUsage)
	days := fs.Int("warn-days", 30, "warn about certificates expiring within this many `days`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: idmcheck [-project DIR] [flags]

Checks an IDM project's secrets.json, boot.properties, keystores, HSM token, java.security,
SunPKCS11 configurations, $crypto values and session module before IDM starts.
Exit status: 0 all checks pass, 1 warnings only, 2 errors.

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
		fmt.Fprintf(stderr, "idmcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	clilog.SetVerbose(*verbose)
	o.javaSecurity = js
	o.now = time.Now()
	o.warnWithin = time.Duration(*days) * 24 * time.Hour
	if fi, err := os.Stat(o.project); err != nil || !fi.IsDir() {
		fmt.Fprintf(stderr, "idmcheck: -project %s: not a directory\n", o.project)
		return 2
	}
	rep := check(context.Background(), o)
	if o.jsonOut {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintln(stderr, "idmcheck:", err)
			return 2
		}
	} else {
		rep.WriteText(stdout, colour)
	}
	return int(rep.Worst())
}
