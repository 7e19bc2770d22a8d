// Command p11keytool runs the keytool commands of PingIDM's HSM procedure against any PKCS#11
// module, in Go: it reads the SunPKCS11 configuration file that keytool and IDM use (or an
// RFC 7512 pkcs11: URI) and writes keys in keytool's layout, so Java's keytool, SunPKCS11 and
// IDM find them by the same aliases.
//
//	p11keytool list         -providerArg softhsm.cfg -pin-env HSM_PIN
//	p11keytool idm-defaults -providerArg softhsm.cfg -pin-env HSM_PIN -out idm-hsm
//
// Run "p11keytool -h" or "p11keytool <command> -h" for the commands and their flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// A command is one p11keytool subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"list", "list the token's entries (keytool -list)", cmdList},
	{"genseckey", "generate a secret key on the token (keytool -genseckey)", cmdGenseckey},
	{"genkeypair", "generate a key pair and self-signed certificate on the token (keytool -genkeypair)", cmdGenkeypair},
	{"exportcert", "export an entry's certificate (keytool -exportcert)", cmdExportcert},
	{"importcert", "import a certificate onto the token or into a PKCS#12 truststore (keytool -importcert)", cmdImportcert},
	{"importkeystore", "copy entries of a PKCS#12, JCEKS or JKS keystore onto the token (keytool -importkeystore)", cmdImportkeystore},
	{"delete", "delete an entry from the token (keytool -delete)", cmdDelete},
	{"idm-defaults", "create IDM's five default keys, a PKCS#12 truststore and secrets.json for the HSM", cmdIDMDefaults},
}

// errUsage is returned after a flag error has been printed with the usage.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name := strings.TrimLeft(args[0], "-") // keytool spells commands -list, -genseckey, ...
	for _, c := range commands {
		if c.name != name {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "p11keytool %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "p11keytool: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `p11keytool: the keytool commands of PingIDM's HSM procedure, for any PKCS#11 module.

Usage: p11keytool <command> [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Every command takes the token from a SunPKCS11 configuration file, the one keytool's
-providerArg and IDM's java.security name:
  -providerArg softhsm.cfg      (name, library, slot / slotListIndex, attributes(...) templates)
or from an RFC 7512 URI:
  -uri 'pkcs11:token=idm;module-path=/usr/lib/softhsm/libsofthsm2.so'

The user PIN (keytool's -storepass) is never a flag value, since command lines show in ps and
shell history. It comes from -pin-env VAR (an environment variable), -pin-file FILE, the
URI's pin-source, or else a prompt on the terminal.

A first run on SoftHSM:
  softhsm2-util --init-token --free --label idm --so-pin 5678 --pin 1234
  printf 'name = softHSM\nlibrary = /usr/lib/softhsm/libsofthsm2.so\n' > softhsm.cfg   # first token
  export HSM_PIN=1234
  p11keytool idm-defaults -providerArg softhsm.cfg -pin-env HSM_PIN -out idm-hsm
  p11keytool list -providerArg softhsm.cfg -pin-env HSM_PIN

Run "p11keytool <command> -h" for a command's flags.
`)
}
