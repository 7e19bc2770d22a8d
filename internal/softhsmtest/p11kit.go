package softhsmtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secretstores/secretstores/internal/testenv"
)

// EnvP11KitClient names the environment variable that overrides where p11-kit-client.so is.
const EnvP11KitClient = "P11KIT_CLIENT_MODULE"

var clientCandidates = []string{
	"/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",
	"/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so",
	"/usr/lib64/pkcs11/p11-kit-client.so",
	"/usr/lib/pkcs11/p11-kit-client.so",
	"/usr/local/lib/pkcs11/p11-kit-client.so",
}

// P11KitClient returns the path of p11-kit's RPC client module (Debian p11-kit-modules):
// $P11KIT_CLIENT_MODULE when set, else the first usual location that exists.
func P11KitClient() (string, error) {
	if p := os.Getenv(EnvP11KitClient); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("softhsmtest: %s=%s: %w", EnvP11KitClient, p, err)
		}
		return p, nil
	}
	for _, p := range clientCandidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("softhsmtest: p11-kit-client.so not found (install p11-kit-modules or set %s)", EnvP11KitClient)
}

// A P11Kit is a "p11-kit server" exporting one SoftHSM token over p11-kit's RPC protocol on
// a unix socket: the network path of an HSM, with real framing, a real remote process and
// real connection loss. The server runs in its own process group (setsid) because it forks
// a p11-kit-remote per client connection: Kill ends them all, as a crashed HSM or a cut
// network link would.
type P11Kit struct {
	// Module is p11-kit-client.so: load it as the PKCS#11 library.
	Module string
	// Address is the value of P11_KIT_SERVER_ADDRESS for the client ("unix:path=...").
	Address string

	tok  *Token
	p11  string
	dir  string
	sock string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartP11Kit starts a p11-kit server exporting tok and sets P11_KIT_SERVER_ADDRESS for
// this process (tb.Setenv: the test must not be parallel), so that p11-kit-client.so
// reaches it. The server is killed when the test ends. Without p11-kit the test ends
// through testenv.Missing.
func StartP11Kit(tb testing.TB, tok *Token) *P11Kit {
	tb.Helper()
	bin := testenv.LookPath(tb, testenv.P11Kit, "p11-kit")
	client, err := P11KitClient()
	if err != nil {
		testenv.Missing(tb, testenv.P11Kit, err.Error())
	}
	dir, err := os.MkdirTemp("", "p11kit-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	k := &P11Kit{Module: client, tok: tok, p11: bin, dir: dir, sock: filepath.Join(dir, "p11.sock")}
	k.Address = "unix:path=" + k.sock
	tb.Setenv("P11_KIT_SERVER_ADDRESS", k.Address)
	if err := k.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(k.Kill)
	return k
}

// Start starts the server (again) on the same socket and waits until it accepts
// connections.
func (k *P11Kit) Start() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd != nil {
		return errors.New("softhsmtest: p11-kit server already running")
	}
	os.Remove(k.sock)
	cmd := exec.Command(k.p11, "server", "-f", "-n", k.sock, "--provider", k.tok.Module, "pkcs11:token="+k.tok.Label)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+k.dir, "SOFTHSM2_CONF="+k.tok.Conf)
	cmd.SysProcAttr = DaemonProcAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("softhsmtest: start p11-kit server: %w", err)
	}
	k.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", k.sock); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	k.killLocked()
	return fmt.Errorf("softhsmtest: p11-kit server did not listen on %s: %s", k.sock, strings.TrimSpace(out.String()))
}

// Kill kills the server's whole process group (the server and every p11-kit-remote it
// forked) with SIGKILL and waits for the server. Killing a stopped server does nothing.
func (k *P11Kit) Kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.killLocked()
}

func (k *P11Kit) killLocked() {
	if k.cmd == nil {
		return
	}
	_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
	_ = k.cmd.Wait()
	k.cmd = nil
}

// Pid returns the server's process ID, or 0 when it is stopped.
func (k *P11Kit) Pid() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd == nil {
		return 0
	}
	return k.cmd.Process.Pid
}

// Running reports whether the server is started.
func (k *P11Kit) Running() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cmd != nil
}

// Dir returns the token's directory in the SoftHSM token store (the one holding its
// token.object). Moving it away makes the token vanish for SoftHSM; moving it back restores
// it.
func (t *Token) Dir() (string, error) {
	root, err := t.tokenRoot()
	if err != nil {
		return "", err
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name(), "token.object"))
		if err == nil && bytes.Contains(b, []byte(t.Serial)) {
			return filepath.Join(root, e.Name()), nil
		}
	}
	return "", fmt.Errorf("softhsmtest: no directory of token %s (serial %s) in %s", t.Label, t.Serial, root)
}

func (t *Token) tokenRoot() (string, error) {
	b, err := os.ReadFile(t.Conf)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "directories.tokendir" {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("softhsmtest: %s has no directories.tokendir", t.Conf)
}

// RemoveDir moves the token's directory out of the token store and returns a function that
// moves it back: the token disappears and reappears with its keys.
func (t *Token) RemoveDir(tb testing.TB) (restore func()) {
	tb.Helper()
	dir, err := t.Dir()
	if err != nil {
		tb.Fatal(err)
	}
	away := filepath.Join(filepath.Dir(filepath.Dir(dir)), "away-"+filepath.Base(dir))
	if err := os.Rename(dir, away); err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	restore = func() {
		once.Do(func() {
			if err := os.Rename(away, dir); err != nil {
				tb.Errorf("softhsmtest: restore token directory: %v", err)
			}
		})
	}
	tb.Cleanup(restore)
	return restore
}
