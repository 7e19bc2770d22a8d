// Package p11test brings up real PKCS#11 modules for tests, non-interactively, once per test
// binary: SoftHSM2 (through internal/softhsmtest), opencryptoki's soft token (pkcsslotd),
// tpm2-pkcs11 over a software TPM (swtpm + tpm2-abrmd on a private D-Bus), and NSS softokn
// (loaded directly with its init arguments, and through a p11-kit server).
//
// A test binary that uses it calls Main from TestMain:
//
//	func TestMain(m *testing.M) { p11test.Main(m) }
//
// Main sets up SoftHSM (softhsmtest.Setup), runs the tests, then stops every daemon this
// package started, by PID, and releases the opencryptoki lock. Every daemon also gets
// SIGKILL from the kernel when the test binary dies (softhsmtest.DaemonProcAttr), so a
// killed or hung test leaves none behind.
//
// A module is brought up on first use and then serves the whole binary; its environment
// (SOFTHSM2_CONF, TPM2_PKCS11_*, DBUS_SESSION_BUS_ADDRESS, P11_KIT_SERVER_ADDRESS) is set in
// this process, because modules read it when they are initialised, and is listed in
// Module.Env for child processes. Modules read their token lists when they are initialised:
// create the tokens a test needs before it opens the module.
//
// When a module's programs are not installed, the test ends through testenv.Missing (a
// skip, or a failure when SECRETSTORES_REQUIRE names the module: "opencryptoki", "tpm2",
// "nss", "p11kit", "softhsm"). A module that is installed but cannot start fails the test.
package p11test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
)

// PINs of every token this package makes (4 to 8 characters, which every module accepts).
const (
	PIN   = softhsmtest.PIN
	SOPIN = softhsmtest.SOPIN
)

// Module names (Module.Name), in the order Each runs them.
const (
	SoftHSM      = "softhsm"
	OpenCryptoki = "opencryptoki"
	TPM2         = "tpm2"
	NSS          = "nss"
	NSSP11Kit    = "nss-p11kit"
)

// Names lists every module name, in the order Each runs them.
var Names = []string{SoftHSM, OpenCryptoki, TPM2, NSS, NSSP11Kit}

// A Module is one PKCS#11 library brought up for this test binary.
type Module struct {
	Name string // SoftHSM, OpenCryptoki, TPM2, NSS or NSSP11Kit
	Tool string // the testenv name that SECRETSTORES_REQUIRE uses for it
	Path string // the .so to load
	// Env is the environment the module reads (KEY=VALUE). It is already set in this
	// process; add it to a child process's environment (keytool, pkcs11-tool).
	Env []string
	// InitArgs is the string to pass as CK_C_INITIALIZE_ARGS.pReserved (NUL-terminated), ""
	// for none. NSS softokn refuses C_Initialize without it.
	InitArgs string
}

// A Token is an initialised token of a Module, with a user PIN set.
type Token struct {
	Module *Module
	Label  string
	Serial string // as C_GetTokenInfo reports it, trailing blanks removed
	Model  string // as C_GetTokenInfo reports it, trailing blanks and NULs removed
	SlotID uint
	PIN    string // user PIN
	SOPIN  string // security officer PIN ("" where the module has none to offer)

	// SoftHSM is the softhsmtest token behind a SoftHSM token, nil for other modules.
	SoftHSM *softhsmtest.Token
	tpm     *tpmState // the software TPM behind a TPM2 token
}

// String names the token for test output.
func (t *Token) String() string {
	return fmt.Sprintf("%s token %q (slot %d, serial %q)", t.Module.Name, t.Label, t.SlotID, t.Serial)
}

var state struct {
	mu       sync.Mutex
	main     bool
	cleanups []func()
	daemons  []*daemon
}

// Main sets up the harness for this test binary (softhsmtest.Setup), runs the tests, stops
// what the harness started (Shutdown) and exits. Call it from TestMain.
func Main(m *testing.M) {
	cleanup, err := softhsmtest.Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "p11test:", err)
		os.Exit(2)
	}
	state.mu.Lock()
	state.main = true
	state.mu.Unlock()
	code := m.Run()
	Shutdown()
	cleanup()
	os.Exit(code)
}

// Shutdown stops every daemon the harness started, by PID, in reverse order, removes its
// temporary directories and releases its locks. Main calls it.
func Shutdown() {
	state.mu.Lock()
	cs := state.cleanups
	state.cleanups = nil
	state.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// Daemons returns the process IDs of the daemons the harness started and that still run,
// by name ("swtpm", "dbus-daemon", "tpm2-abrmd", "pkcsslotd", "p11-kit server (NSS)").
func Daemons() map[string]int {
	state.mu.Lock()
	defer state.mu.Unlock()
	m := map[string]int{}
	for _, d := range state.daemons {
		if !d.exited() {
			m[d.name] = d.Pid()
		}
	}
	return m
}

// atExit registers f to run at Shutdown.
func atExit(f func()) {
	state.mu.Lock()
	state.cleanups = append(state.cleanups, f)
	state.mu.Unlock()
}

func checkMain(tb testing.TB) {
	tb.Helper()
	state.mu.Lock()
	ok := state.main
	state.mu.Unlock()
	if !ok {
		tb.Fatal("p11test: call p11test.Main(m) from TestMain: modules are brought up once per test binary")
	}
}

// once runs a module's bring-up once per binary and remembers its outcome.
type once struct {
	mu   sync.Mutex
	done bool
	err  error
	miss string // non-empty: a program is missing (testenv.Missing), not a failure
}

func (o *once) do(tb testing.TB, tool string, f func() (missing string, err error)) {
	tb.Helper()
	checkMain(tb)
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.done {
		o.miss, o.err = f()
		o.done = true
	}
	if o.miss != "" {
		testenv.Missing(tb, tool, o.miss)
	}
	if o.err != nil {
		tb.Fatalf("p11test: %s is installed but could not be brought up: %v", tool, o.err)
	}
}

// lookPath finds a program on PATH or in the sbin directories (which a non-root PATH may
// lack).
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH", name)
}

// findLib returns the first of the usual locations of a module's .so that exists, or the
// value of the environment variable env when it is set.
func findLib(env string, names ...string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	for _, dir := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"} {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found (set %s)", names[0], env)
}

// setenv sets KEY=VALUE pairs in this process.
func setenv(env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
}

// A daemon is a process the harness started and stops at Shutdown.
type daemon struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startDaemon starts a daemon in a process group of its own that dies with the test binary.
func startDaemon(name string, env []string, cred *syscall.Credential, path string, args ...string) (*daemon, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = softhsmtest.DaemonProcAttr()
	cmd.SysProcAttr.Credential = cred
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.done) }()
	atExit(d.stop)
	state.mu.Lock()
	state.daemons = append(state.daemons, d)
	state.mu.Unlock()
	return d, nil
}

// exited reports whether the daemon has ended.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the daemon's process group, then SIGKILL after two seconds, and
// waits for the daemon.
func (d *daemon) stop() {
	if d.exited() {
		return
	}
	pid := d.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(2 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-d.done
	}
}

// output returns what the daemon printed so far, for error messages.
func (d *daemon) output() string { return strings.TrimSpace(d.out.String()) }

// Pid returns the daemon's process ID.
func (d *daemon) Pid() int { return d.cmd.Process.Pid }

// waitFor polls ready until it returns nil, the daemon exits, or timeout passes.
func (d *daemon) waitFor(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if d.exited() {
			return fmt.Errorf("%s exited: %s", d.name, d.output())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v: %s", d.name, timeout, err, d.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 64<<10 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run runs a command with extra environment and returns an error holding its output when
// it fails. PINs on its command line never reach the error: args are not quoted in it.
func run(env []string, stdin string, path string, args ...string) ([]byte, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", filepath.Base(path), firstWord(args), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

func firstWord(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// tempDir makes a directory removed at Shutdown.
func tempDir(prefix string) (string, error) {
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	atExit(func() { os.RemoveAll(d) })
	return d, nil
}
