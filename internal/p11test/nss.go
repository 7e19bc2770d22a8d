package p11test

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
)

// NSS softokn's fixed slots: the crypto services slot (no login, no token objects) and the
// database token. Both report serial 0000000000000000 and model "NSS 3".
const (
	nssCryptoSlot = 1
	nssDBSlot     = 2
	nssCryptoLbl  = "NSS Generic Crypto Services"
	nssDBLbl      = "NSS Certificate DB"
	nssSerial     = "0000000000000000"
	nssModel      = "NSS 3"
)

var nss struct {
	once
	db, crypto *Token
}

// NSSToken returns the database token ("NSS Certificate DB", slot 2) of this binary's NSS
// softokn, loaded directly: a fresh database (certutil -N) in a temporary directory with
// user PIN PIN, and Module.InitArgs naming it (configdir='sql:DIR' ...), without which
// softokn's C_Initialize fails with CKR_ARGUMENTS_BAD.
func NSSToken(tb testing.TB) *Token {
	tb.Helper()
	nssDo(tb)
	return nss.db
}

// NSSCryptoToken returns the other slot of the same module, "NSS Generic Crypto Services"
// (slot 1): no login, same serial and model as NSSToken.
func NSSCryptoToken(tb testing.TB) *Token {
	tb.Helper()
	nssDo(tb)
	return nss.crypto
}

func nssDo(tb testing.TB) {
	tb.Helper()
	nss.do(tb, testenv.NSS, func() (string, error) {
		lib, certutil, miss := nssTools()
		if miss != "" {
			return miss, nil
		}
		dir, err := tempDir("p11test-nss-")
		if err != nil {
			return "", err
		}
		if err := nssInitDB(certutil, dir); err != nil {
			return "", err
		}
		mod := &Module{Name: NSS, Tool: testenv.NSS, Path: lib, InitArgs: nssInitArgs(dir)}
		nss.db = &Token{Module: mod, Label: nssDBLbl, Serial: nssSerial, Model: nssModel, SlotID: nssDBSlot, PIN: PIN}
		nss.crypto = &Token{Module: mod, Label: nssCryptoLbl, Serial: nssSerial, Model: nssModel, SlotID: nssCryptoSlot}
		return "", nil
	})
}

func nssTools() (lib, certutil, missing string) {
	lib, err := findLib("NSS_SOFTOKN_MODULE", "libsoftokn3.so", "nss/libsoftokn3.so")
	if err != nil {
		return "", "", err.Error()
	}
	certutil, err = lookPath("certutil")
	if err != nil {
		return "", "", err.Error() + " (Debian libnss3-tools)"
	}
	return lib, certutil, ""
}

// nssInitArgs is softokn's CK_C_INITIALIZE_ARGS.pReserved for a database in dir.
func nssInitArgs(dir string) string {
	return "configdir='sql:" + dir + "' certPrefix='' keyPrefix='' secmod='secmod.db' flags="
}

// nssInitDB creates an NSS database in dir whose token has user PIN PIN.
func nssInitDB(certutil, dir string) error {
	pinFile := filepath.Join(dir, "pin.txt")
	if err := os.WriteFile(pinFile, []byte(PIN+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pinFile)
	_, err := run(nil, "", certutil, "-N", "-d", "sql:"+dir, "-f", pinFile)
	return err
}

var nssKit struct {
	once
	tok *Token

	mu    sync.Mutex
	d     *daemon                 // the running server, nil after KillNSSP11KitServer
	start func() (*daemon, error) // starts the server on the token's socket
}

// KillNSSP11KitServer kills the p11-kit server of NSSP11KitToken with SIGKILL, with its
// whole process group (the server and the p11-kit-remote it forked for each client, each
// with softokn loaded), as an outage would, and waits for it. StartNSSP11KitServer starts
// it again on the same socket.
func KillNSSP11KitServer(tb testing.TB) {
	tb.Helper()
	nssKit.mu.Lock()
	defer nssKit.mu.Unlock()
	if nssKit.d == nil {
		return
	}
	_ = syscall.Kill(-nssKit.d.Pid(), syscall.SIGKILL)
	<-nssKit.d.done
	nssKit.d = nil
}

// StartNSSP11KitServer starts the p11-kit server of NSSP11KitToken again after
// KillNSSP11KitServer and waits until it accepts connections.
func StartNSSP11KitServer(tb testing.TB) {
	tb.Helper()
	nssKit.mu.Lock()
	defer nssKit.mu.Unlock()
	if nssKit.start == nil {
		tb.Fatal("p11test: StartNSSP11KitServer before NSSP11KitToken")
	}
	if nssKit.d != nil {
		return
	}
	d, err := nssKit.start()
	if err != nil {
		tb.Fatalf("p11test: restart the p11-kit server: %v", err)
	}
	nssKit.d = d
}

// NSSP11KitToken returns an NSS database token (a database of its own, PIN PIN) served by a
// p11-kit server ("p11-kit server", started on first use, stopped at Shutdown) that loads
// softokn with its init arguments (x-init-reserved in a p11-kit module config): Module.Path
// is p11-kit-client.so and P11_KIT_SERVER_ADDRESS is set in this process. p11-kit ignores a
// user's module configuration when run as root, so as root the server runs as user nobody.
// Only this token is exported; its slot ID is p11-kit's. Do not use it in the same test
// binary as softhsmtest.StartP11Kit: p11-kit-client.so reads one P11_KIT_SERVER_ADDRESS per
// process.
func NSSP11KitToken(tb testing.TB) *Token {
	tb.Helper()
	nssKit.do(tb, testenv.P11Kit, func() (string, error) {
		tok, miss, err := nssKitUp()
		nssKit.tok = tok
		return miss, err
	})
	return nssKit.tok
}

func nssKitUp() (*Token, string, error) {
	lib, certutil, miss := nssTools()
	if miss != "" {
		return nil, miss, nil
	}
	p11kit, err := lookPath("p11-kit")
	if err != nil {
		return nil, err.Error(), nil
	}
	client, err := softhsmtest.P11KitClient()
	if err != nil {
		return nil, err.Error(), nil
	}
	dir, err := tempDir("p11test-nsskit-")
	if err != nil {
		return nil, "", err
	}
	db, home, runDir := filepath.Join(dir, "db"), filepath.Join(dir, "home"), filepath.Join(dir, "run")
	modules := filepath.Join(home, ".config", "pkcs11", "modules")
	for _, d := range []string{db, modules, runDir} {
		if err := mkdir(d); err != nil {
			return nil, "", err
		}
	}
	if err := nssInitDB(certutil, db); err != nil {
		return nil, "", err
	}
	conf := "module: " + lib + "\nx-init-reserved: " + nssInitArgs(db) + "\n"
	if err := os.WriteFile(filepath.Join(modules, "secretstores-nss.module"), []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	// Keep the system's modules (SoftHSM, tpm2-pkcs11, OpenSC ...) out of this server: a
	// user config of the same name that enables the module in no program.
	for _, sys := range []string{"/usr/share/p11-kit/modules", "/etc/pkcs11/modules"} {
		ents, _ := filepath.Glob(filepath.Join(sys, "*.module"))
		for _, e := range ents {
			b, err := os.ReadFile(e)
			if err != nil {
				continue
			}
			var text strings.Builder
			for _, l := range strings.Split(string(b), "\n") {
				if k, _, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "module" {
					text.WriteString(l + "\n")
				}
			}
			text.WriteString("enable-in: secretstores-none\n")
			if err := os.WriteFile(filepath.Join(modules, filepath.Base(e)), []byte(text.String()), 0o644); err != nil {
				return nil, "", err
			}
		}
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return nil, "", fmt.Errorf("p11-kit ignores user configuration as root, and there is no user nobody: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: false}
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}); err != nil {
			return nil, "", err
		}
	}
	sock := filepath.Join(runDir, "p11.sock")
	env := []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + runDir, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	start := func() (*daemon, error) {
		os.Remove(sock)
		d, err := startDaemon("p11-kit server (NSS)", env, cred, p11kit, "server", "-f", "-n", sock, "pkcs11:token="+strings.ReplaceAll(nssDBLbl, " ", "%20"))
		if err != nil {
			return nil, err
		}
		if err := d.waitFor(10*time.Second, func() error {
			c, err := net.Dial("unix", sock)
			if err == nil {
				c.Close()
			}
			return err
		}); err != nil {
			d.stop()
			return nil, err
		}
		return d, nil
	}
	d, err := start()
	if err != nil {
		return nil, "", err
	}
	nssKit.mu.Lock()
	nssKit.d, nssKit.start = d, start
	nssKit.mu.Unlock()
	modEnv := []string{"P11_KIT_SERVER_ADDRESS=unix:path=" + sock}
	setenv(modEnv)
	mod := &Module{Name: NSSP11Kit, Tool: testenv.P11Kit, Path: client, Env: modEnv}
	tok := &Token{Module: mod, Label: nssDBLbl, Serial: nssSerial, Model: nssModel, PIN: PIN}
	if listSlots != nil {
		slots, err := listSlots(mod)
		if err != nil {
			return nil, "", fmt.Errorf("list the slots of p11-kit-client.so: %w (server: %s)", err, d.output())
		}
		found := false
		for _, s := range slots {
			if s.Label == nssDBLbl {
				tok.SlotID, found = s.ID, true
			}
		}
		if !found {
			return nil, "", fmt.Errorf("p11-kit server exports no %q token: %+v (server: %s)", nssDBLbl, slots, d.output())
		}
	}
	return tok, "", nil
}

// mkdir makes a directory and its parents, mode 0700.
func mkdir(d string) error { return os.MkdirAll(d, 0o700) }

// A Slot is what C_GetSlotList and C_GetTokenInfo report for a slot with a token.
type Slot struct {
	ID                         uint
	Label, Serial, Model, Manf string
}

// listSlots lists the slots with tokens of mod (initialising and finalising it), when
// built with cgo.
var listSlots func(mod *Module) ([]Slot, error)
