package p11test

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secretstores/secretstores/internal/testenv"
)

// opencryptoki's soft token ("swtok") is machine-wide, at paths compiled into the package.
const (
	ockSlot      = 3
	ockFactorySO = "87654321"
	ockLabel     = "secretstores-ock"
	ockDataDir   = "/var/lib/opencryptoki"
	ockLockDir   = "/var/lock/opencryptoki"
	ockLogDir    = "/var/log/opencryptoki"
	ockPidFile   = "/var/run/pkcsslotd.pid"
	ockShm       = "/dev/shm/var.lib.opencryptoki.swtok"
	// ockTestLock serialises the test binaries that use the token (flock).
	ockTestLock = ockLockDir + "/secretstores-test.lock"
)

var ock struct {
	once
	tok *Token
}

// OpenCryptokiToken returns opencryptoki's soft token (slot 3), wiped and initialised
// afresh for this test binary with label "secretstores-ock", PIN and SOPIN. The token is
// machine-wide: the first call takes an exclusive lock (flock) that the binary holds until
// Shutdown, so test binaries that use it run one after the other, and each starts from an
// empty token with known PINs whatever an earlier (perhaps killed) run left. pkcsslotd is
// started (and stopped at Shutdown) when it is not running. Every test in the binary shares
// the token: use aliases of your own. Needs root (the token's files are root:pkcs11).
func OpenCryptokiToken(tb testing.TB) *Token {
	tb.Helper()
	ock.do(tb, testenv.OpenCryptoki, func() (string, error) {
		tok, miss, err := ockUp()
		ock.tok = tok
		return miss, err
	})
	return ock.tok
}

func ockUp() (*Token, string, error) {
	lib, err := findLib("OPENCRYPTOKI_MODULE", "pkcs11/libopencryptoki.so", "opencryptoki/libopencryptoki.so")
	if err != nil {
		return nil, err.Error(), nil
	}
	slotd, err := lookPath("pkcsslotd")
	if err != nil {
		return nil, err.Error(), nil
	}
	conf, err := lookPath("pkcsconf")
	if err != nil {
		return nil, err.Error(), nil
	}
	if os.Geteuid() != 0 {
		return nil, "opencryptoki's machine-wide token can only be reset as root", nil
	}
	grp, err := user.LookupGroup("pkcs11")
	if err != nil {
		return nil, "", fmt.Errorf("group pkcs11 (made by the opencryptoki package): %w", err)
	}
	gid, _ := strconv.Atoi(grp.Gid)
	for _, d := range []string{ockDataDir, ockDataDir + "/swtok", ockDataDir + "/swtok/TOK_OBJ", ockLockDir, ockLockDir + "/swtok", ockLogDir} {
		if err := os.MkdirAll(d, 0o770); err != nil {
			return nil, "", err
		}
		if err := os.Chown(d, 0, gid); err != nil {
			return nil, "", err
		}
		if err := os.Chmod(d, 0o770); err != nil {
			return nil, "", err
		}
	}
	if err := ockLock(); err != nil {
		return nil, "", err
	}
	slot := strconv.Itoa(ockSlot)
	if !ockSlotdRunning() {
		d, err := startDaemon("pkcsslotd", nil, nil, slotd, "-f")
		if err != nil {
			return nil, "", err
		}
		// Ready when a real client gets an answer. (Never probe the socket with a bare
		// connect: pkcsslotd 3.8 exits on a client that hangs up without its handshake.)
		if err := d.waitFor(10*time.Second, func() error {
			_, err := run(nil, "", conf, "-s", "-c", slot)
			return err
		}); err != nil {
			return nil, "", err
		}
	}
	// Back to the factory state: no token data, no shared-memory copy of it.
	sw := filepath.Join(ockDataDir, "swtok")
	objs, _ := filepath.Glob(filepath.Join(sw, "TOK_OBJ", "*"))
	for _, p := range append([]string{filepath.Join(sw, "NVTOK.DAT"), filepath.Join(sw, "MK_SO"), filepath.Join(sw, "MK_USER"), ockShm}, objs...) {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return nil, "", fmt.Errorf("wipe opencryptoki token: %w", err)
		}
	}
	if _, err := run(nil, ockLabel+"\n", conf, "-c", slot, "-I", "-S", ockFactorySO); err != nil {
		return nil, "", err
	}
	if _, err := run(nil, "", conf, "-c", slot, "-P", "-S", ockFactorySO, "-n", SOPIN); err != nil {
		return nil, "", err
	}
	if _, err := run(nil, "", conf, "-c", slot, "-u", "-S", SOPIN, "-n", PIN); err != nil {
		return nil, "", err
	}
	mod := &Module{Name: OpenCryptoki, Tool: testenv.OpenCryptoki, Path: lib}
	return &Token{Module: mod, Label: ockLabel, Serial: "123", Model: "IBM SoftTok", SlotID: ockSlot, PIN: PIN, SOPIN: SOPIN}, "", nil
}

// ockSlotdRunning reports whether the process in pkcsslotd's PID file is a pkcsslotd.
func ockSlotdRunning() bool {
	b, err := os.ReadFile(ockPidFile)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "pkcsslotd" {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// ockLock takes the machine-wide lock of the opencryptoki test token, waiting while
// another test binary holds it. The kernel releases it when this process ends; Shutdown
// releases it before.
func ockLock() error {
	f, err := os.OpenFile(ockTestLock, os.O_RDWR|os.O_CREATE, 0o660)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(os.Stderr, "p11test: waiting for %s (another test binary uses the opencryptoki token)\n", ockTestLock)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return fmt.Errorf("lock %s: %w", ockTestLock, err)
		}
	}
	atExit(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
	return nil
}
